/**
 * A toy IMAP proxy for proving the differential harness, not for production: it relays
 * sessions to an upstream server and shows every UID multiplied by `factor` — the shape of
 * Inlay's own scheme (real UID × 2^k) without virtual messages. With `scaleUidnext: false`
 * it "forgets" to scale UIDNEXT, a lie a response diff cannot see (UIDNEXT values are not
 * compared) but the invariant checker must.
 *
 * Rewrites by pattern, line by line: good enough for the harness's generated traffic (whose
 * message bodies never contain "UID <n>"), never for arbitrary mail. Listens on 127.0.0.1:0.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { ImapFramer } from '../imap-invariants-wire.ts';
import { connectTo } from './dovecot-target.ts';

export interface UidScalingRelay {
  readonly port: number;
  close(): Promise<void>;
}

export interface UidScalingOptions {
  readonly factor: number;
  readonly scaleUidnext: boolean;
}

const uidCommand = /^(\S+ UID (?:FETCH|STORE|EXPUNGE|COPY|MOVE) )([\d:*,]+)/i;
const uidSearch = /^\S+ UID SEARCH /i;
const search = /^\S+ (?:UID )?SEARCH /i;

export async function startUidScalingRelay(upstream: { host: string; port: number }, options: UidScalingOptions): Promise<UidScalingRelay> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    void relay(client, upstream, options, sockets).catch(() => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function relay(client: Socket, upstream: { host: string; port: number }, options: UidScalingOptions, sockets: Set<Socket>): Promise<void> {
  client.pause();
  const server = await connectTo(upstream.host, upstream.port);
  sockets.add(server);
  const { factor } = options;
  // Client UIDs back to upstream ones; a UID past every real one stays past them.
  const down = (set: string): string => set.replace(/\d+/g, (n) => String(Math.ceil(Number(n) / factor)));
  const up = (uid: number): number => uid * factor;
  const upSet = (set: string): string => set.replace(/\d+/g, (n) => String(up(Number(n))));
  let answeringUidSearch = false;
  let pendingLine = '';

  client.on('data', (chunk: Buffer) => {
    // Whole lines only, so a command is rewritten in one piece; literal bytes pass as lines too.
    const text = pendingLine + chunk.toString('latin1');
    const end = text.lastIndexOf('\n') + 1;
    pendingLine = text.slice(end);
    const lines = text.slice(0, end).split(/(?<=\n)/).map((line) => {
      if (uidCommand.test(line)) return line.replace(uidCommand, (_, head: string, set: string) => head + down(set));
      if (search.test(line)) {
        answeringUidSearch = uidSearch.test(line);
        // UID keys inside the criteria, in SEARCH and UID SEARCH alike.
        return line.replace(/([ (])UID ([\d:*,]+)/gi, (_, before: string, set: string) => `${before}UID ${down(set)}`);
      }
      return line;
    });
    server.write(Buffer.from(lines.join(''), 'latin1'));
  });

  const framer = new ImapFramer('server');
  server.on('data', (chunk: Buffer) => {
    for (const frame of framer.push(chunk)) {
      let text = frame.toString('latin1');
      if (/^\* \d+ FETCH /.test(text)) text = text.replace(/([( ])UID (\d+)/, (_, before: string, uid: string) => `${before}UID ${up(Number(uid))}`);
      else if (/^\* SEARCH/.test(text) && answeringUidSearch) text = text.replace(/\d+/g, (n) => String(up(Number(n))));
      text = text
        .replace(/\[APPENDUID (\d+) ([\d:,]+)\]/, (_, validity: string, set: string) => `[APPENDUID ${validity} ${upSet(set)}]`)
        .replace(/\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]/, (_, validity: string, from: string, to: string) => `[COPYUID ${validity} ${upSet(from)} ${upSet(to)}]`);
      if (options.scaleUidnext) {
        // Above every client UID, and at most the next message's client UID.
        text = text
          .replace(/\[UIDNEXT (\d+)\]/, (_, n: string) => `[UIDNEXT ${up(Number(n) - 1) + 1}]`)
          .replace(/^(\* STATUS .*UIDNEXT )(\d+)/, (_, head: string, n: string) => `${head}${up(Number(n) - 1) + 1}`);
      }
      client.write(Buffer.from(text, 'latin1'));
    }
  });
  const closeBoth = (): void => {
    client.destroy();
    server.destroy();
  };
  client.on('close', closeBoth);
  server.on('close', closeBoth);
  client.on('error', closeBoth);
  server.on('error', closeBoth);
  client.resume();
}
