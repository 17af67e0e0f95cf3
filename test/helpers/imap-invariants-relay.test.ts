/**
 * The tap's loopback relay against tiny in-process servers: it must pass every byte on
 * unchanged in both directions (large writes too, and a client's half-close), check each
 * relayed session like a tapped one, and leave no connection open once closed.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ImapTap, type TappedRelay } from './imap-invariants-tap.ts';
import { RawImap } from './raw-imap.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listening(onConnection: (socket: Socket) => void, options: { allowHalfOpen?: boolean } = {}): Promise<number> {
  const server: Server = createServer(options, (socket) => {
    socket.on('error', () => {}); // a reset by the relay closing is expected
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

async function relayTo(tap: ImapTap, port: number): Promise<TappedRelay> {
  const relay = await tap.relay(port);
  cleanups.push(() => relay.close());
  return relay;
}

/** Everything a socket receives until the other side ends its half of the connection. */
function received(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

describe('the tap relay', () => {
  it('passes bytes on unchanged both ways, past a server slow to read and through a half-close', async () => {
    // An echo server that starts reading late (the relay must hold the client back, not drop
    // bytes) and answers only after the client's FIN (the relay must keep the server-to-client
    // direction open after the client has ended its own).
    const port = await listening((socket) => {
      const chunks: Buffer[] = [];
      socket.pause();
      setTimeout(() => socket.resume(), 200);
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => socket.end(Buffer.concat(chunks)));
    }, { allowHalfOpen: true });
    const relay = await relayTo(new ImapTap(), port);
    const client = connect({ host: '127.0.0.1', port: relay.port, allowHalfOpen: true });
    const answer = received(client);
    // Every byte value, CRLFs and literal announcements among them, and more than any socket buffer.
    const sent = Buffer.concat([Buffer.from('a LOGIN {3}\r\nabc\r\n* 1 FETCH (BODY[] {2}\r\n\r\n)\r\n'), randomBytes(4 * 1024 * 1024)]);
    client.end(sent);
    expect((await answer).equals(sent)).toBe(true);
    client.destroy();
  });

  it('checks each relayed session: a server sending UIDs out of order is reported', async () => {
    const port = await listening((socket) => {
      socket.write('* OK ready\r\n');
      socket.on('data', (data: Buffer) => {
        const tag = data.toString('latin1').split(' ')[0];
        if (data.includes('SELECT')) socket.write(`* 2 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 11] x\r\n${tag} OK done\r\n`);
        else socket.write(`* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 5)\r\n${tag} OK done\r\n`);
      });
    });
    const tap = new ImapTap();
    const relay = await relayTo(tap, port);
    const client = await RawImap.connect(relay.port);
    await client.greeting();
    expect(await client.command('s', 'SELECT INBOX')).toBe('* 2 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 11] x\r\ns OK done\r\n');
    expect(() => tap.assertClean()).not.toThrow();
    expect(await client.command('f', 'FETCH 1:2 (UID)')).toBe('* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 5)\r\nf OK done\r\n');
    expect(() => tap.assertClean()).toThrow(/\[uid-order\][\s\S]*relayed #1/);
    expect(tap.checkers.map((checker) => checker.name)).toEqual(['relayed #1']);
    client.close();
  });

  it('ends the client when the server closes, after the last of its bytes', async () => {
    // More than the sockets hold at once: some are still in the relay when the server's FIN comes.
    const farewell = Buffer.concat([randomBytes(4 * 1024 * 1024), Buffer.from('\r\n* BYE going away\r\n')]);
    const port = await listening((socket) => socket.end(farewell));
    const relay = await relayTo(new ImapTap(), port);
    const client = connect({ host: '127.0.0.1', port: relay.port });
    client.pause();
    const answer = received(client);
    setTimeout(() => client.resume(), 200);
    expect((await answer).equals(farewell)).toBe(true);
    client.destroy();
  });

  it('closes every connection still open when it is closed', async () => {
    const serverSide: Socket[] = [];
    const port = await listening((socket) => {
      serverSide.push(socket);
      socket.write('* OK ready\r\n');
    });
    const relay = await new ImapTap().relay(port);
    const client = await RawImap.connect(relay.port);
    await client.greeting();
    const serverClosed = new Promise((resolve) => serverSide[0]!.once('close', resolve));
    await relay.close();
    await client.waitClosed();
    await serverClosed;
    // The port is free: nothing listens there any more.
    await expect(RawImap.connect(relay.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
