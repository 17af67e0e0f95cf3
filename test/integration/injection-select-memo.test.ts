// A SELECT of an INBOX that has not changed since a session of the same user placed its virtual
// messages places them where that session did, without asking the real Dovecot again; once the
// INBOX changes, it asks. The proxy's upstream goes through a relay that counts the hidden
// SEARCHes it sends; every client session goes through the invariants tap.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';

const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));
const tap = useImapTap();
const mail = (n: number): string => `From: a@example.org\r\nSubject: real ${n}\r\nMessage-ID: <memo-${n}@example.org>\r\n\r\nBody ${n}\r\n`;

/** A byte-for-byte relay to Dovecot that counts the placement SEARCHes the proxy sends. */
async function countingRelay(): Promise<{ port: number; searches: () => number; close: () => Promise<void> }> {
  let searches = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(dovecot.port, '127.0.0.1');
    let pending = '';
    client.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const lines = pending.split('\r\n');
      pending = lines.pop() ?? '';
      searches += lines.filter((line) => /^\S+ SEARCH RETURN \(COUNT\) UID 1:\d+$/i.test(line)).length;
      upstream.write(chunk);
    });
    upstream.pipe(client);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    searches: () => searches,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let relay: Awaited<ReturnType<typeof countingRelay>>;
let stack: InjectionStack;
let user: DovecotUser;

beforeAll(async () => {
  relay = await countingRelay();
  stack = await startInjectionStack({ dovecot: { ...dovecot, port: relay.port } });
  user = await dovecot.addUser();
  await dovecot.appendMessages(user.user, [mail(1), mail(2), mail(3)]);
  await stack.runCampaign('Memo offer');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await relay?.close();
});

/** A tapped raw session of `user` through the proxy. */
async function login(): Promise<{ send: (text: string) => Promise<string>; close: () => void }> {
  const raw = await tap.connect(stack.proxy.port);
  await raw.greeting();
  let tags = 0;
  const send = (text: string): Promise<string> => raw.command(`m${++tags}`, text);
  expect(await send(`LOGIN "${user.user}" "${user.password}"`)).toMatch(/OK/);
  return { send, close: () => raw.close() };
}

/** The client UIDs of the INBOX in sequence order; the campaign's is the one not a multiple of 16. */
async function uids(session: { send: (text: string) => Promise<string> }): Promise<number[]> {
  return [...(await session.send('FETCH 1:* (UID)')).matchAll(/^\* \d+ FETCH \(UID (\d+)\)/gm)].map((match) => Number(match[1]));
}

describe('SELECT of an INBOX a session of the same user already placed', () => {
  it('asks the server only when the INBOX changed since', async () => {
    const first = await login();
    expect(await first.send('SELECT INBOX')).toMatch(/\* 4 EXISTS/);
    expect((await uids(first)).filter((uid) => uid % 16 !== 0)).toHaveLength(1); // the campaign, after message 3
    first.close();

    // New mail after the campaign's anchor: placing it now needs a count of the mail below it.
    await dovecot.appendMessages(user.user, [mail(4)]);
    const second = await login();
    const before = relay.searches();
    expect(await second.send('SELECT INBOX')).toMatch(/\* 5 EXISTS/);
    expect(relay.searches()).toBe(before + 1);
    const placed = await uids(second);
    expect(placed.map((uid) => uid % 16 !== 0)).toEqual([false, false, false, true, false]);

    // Unchanged: the same session again, and a new one, place it alike without asking.
    expect(await second.send('SELECT INBOX')).toMatch(/\* 5 EXISTS/);
    expect(await uids(second)).toEqual(placed);
    const third = await login();
    expect(await third.send('SELECT INBOX')).toMatch(/\* 5 EXISTS/);
    expect(await uids(third)).toEqual(placed);
    expect(relay.searches()).toBe(before + 1);

    // A real message expunged elsewhere: the count is asked for again, and is one less.
    const direct = await RawImap.connect(dovecot.port);
    await direct.greeting();
    await direct.command('d1', `LOGIN "${user.user}" "${user.password}"`);
    await direct.command('d2', 'SELECT INBOX');
    expect(await direct.command('d3', 'UID STORE 1 +FLAGS (\\Deleted)')).toMatch(/d3 OK/);
    expect(await direct.command('d4', 'EXPUNGE')).toMatch(/d4 OK/);
    direct.close();
    expect(await third.send('SELECT INBOX')).toMatch(/\* 4 EXISTS/);
    expect(relay.searches()).toBe(before + 2);
    expect((await uids(third)).map((uid) => uid % 16 !== 0)).toEqual([false, false, true, false]);
    second.close();
    third.close();
  });
});
