/**
 * The framer against real traffic: pipelining, literals of every kind in both directions,
 * IDLE, and a 30 MB message relayed while the proxy's memory stays flat.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapflowThrough, proxyInFrontOf, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { startProxy, type RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();
let proxy: RunningProxy;
let user: DovecotUser;

beforeAll(async () => {
  proxy = await proxyInFrontOf(dovecot);
  user = await userWithMail(dovecot, 3);
});

afterAll(async () => {
  await proxy?.stop();
});

async function loggedIn(): Promise<RawImap> {
  const client = await RawImap.connect(proxy.port);
  await client.greeting();
  expect(await client.command('L', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/L OK/);
  return client;
}

describe('streaming relay', () => {
  it('answers 50 pipelined commands sent in one write, each exactly once', async () => {
    const client = await loggedIn();
    const commands = ['s SELECT INBOX'];
    for (let i = 0; i < 49; i++) commands.push(i % 3 === 0 ? `n${i} NOOP` : i % 3 === 1 ? `f${i} FETCH 1:* (FLAGS UID)` : `u${i} UID SEARCH ALL`);
    client.write(commands.map((command) => `${command}\r\n`).join(''));
    const taggedCount = (): number => client.text.match(/^[^*+\s]+ (OK|NO|BAD) /gm)?.length ?? 0;
    await expect.poll(taggedCount, { timeout: 10_000 }).toBe(commands.length);
    const { text } = client;
    // Dovecot may finish pipelined commands out of order (RFC 3501 §5.5 allows it).
    const tags = [...text.matchAll(/^([^*\s]+) OK/gm)].map((match) => match[1]).sort();
    expect(tags).toEqual(commands.map((command) => command.split(' ')[0]).sort());
    expect(text).not.toMatch(/ (NO|BAD) /);
    client.close();
  });

  it('relays literals of every kind: synchronising, LITERAL+, empty, several in one command, with IMAP syntax inside', async () => {
    const client = await loggedIn();
    await client.command('c', 'CREATE Lit');
    const tricky = 'Subject: {5}\r\n\r\na OK not a response\r\n* 9 EXISTS\r\n{3}\r\nx';
    // Synchronising: wait for the upstream's "+" through the proxy.
    client.write(`a1 APPEND Lit {${tricky.length}}\r\n`);
    await client.waitFor(/^\+[^\n]*\n/m);
    client.write(`${tricky}\r\n`);
    expect(await client.waitFor(/a1 (OK|NO|BAD)[^\n]*\n/)).toMatch(/a1 OK \[APPENDUID \d+ 1\]/);
    // LITERAL+ and MULTIAPPEND with two literals, one of them carrying another literal marker.
    client.write(`a2 APPEND Lit {${tricky.length}+}\r\n${tricky} (\\Seen) {9+}\r\nx: {1}\r\n\r\n`);
    expect(await client.waitFor(/a2 (OK|NO|BAD)[^\n]*\n/)).toMatch(/a2 OK \[APPENDUID \d+ 2:3\]/);
    // An empty literal inside SEARCH: every message with a Subject header (the third has none).
    await client.command('s', 'SELECT Lit');
    expect(await client.command('e', 'SEARCH SUBJECT {0+}\r\n')).toMatch(/\* SEARCH 1 2\r\ne OK/);
    // Server literals come back byte-exact.
    const fetched = await client.command('f', 'FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    expect(fetched).toContain(`BODY[] {${tricky.length}}\r\n${tricky}`);
    expect(fetched).toContain('BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: {5}\r\n\r\n');
    client.close();
  });

  it('stops waiting for a literal the upstream refused, and reads the next command', async () => {
    const client = await loggedIn();
    // Dovecot refuses the APPEND before asking for the bytes: the mailbox does not exist.
    client.write('r1 APPEND NoSuchMailbox {10}\r\n');
    const answer = await client.waitFor(/(r1 (NO|BAD)[^\n]*\n|^\+[^\n]*\n)/m);
    if (answer.startsWith('+')) {
      client.write('0123456789\r\n');
      await client.waitFor(/r1 (NO|BAD)[^\n]*\n/);
    }
    expect(await client.command('r2', 'NOOP')).toMatch(/r2 OK/);
    client.close();
  });

  it('logs in with credentials sent as literals, synchronising and not', async () => {
    const client = await RawImap.connect(proxy.port);
    await client.greeting();
    client.write(`l1 LOGIN {${user.user.length}}\r\n`);
    await client.waitFor(/^\+[^\n]*\n/m);
    client.write(`${user.user} {${user.password.length}+}\r\n${user.password}\r\n`);
    expect(await client.waitFor(/l1 (OK|NO|BAD)[^\n]*\n/)).toMatch(/l1 OK/);
    client.close();
  });

  it('delivers new mail to a client idling through the proxy', async () => {
    const idler = await userWithMail(dovecot, 1);
    const client = imapflowThrough(proxy.port, idler);
    await client.connect();
    await client.mailboxOpen('INBOX');
    const exists = new Promise<number>((resolve) => client.on('exists', (event: { count: number }) => resolve(event.count)));
    const idling = client.idle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await dovecot.deliver(idler.user, 'Subject: while idle\r\n\r\nnew\r\n');
    expect(await exists).toBe(2);
    await client.logout();
    await idling.catch(() => {});
  });

  it('relays a 30 MB message without holding it: live memory stays small while the reader stalls', async () => {
    const large = await dovecot.addUser();
    const body = Buffer.alloc(30 * 1024 * 1024, 'abcdefghij0123456789\r\n');
    const message = Buffer.concat([Buffer.from('Subject: large\r\n\r\n'), body]);
    await dovecot.appendMessages(large.user, [message]);
    // A proxy of its own, able to collect garbage on demand so what it reports is what it holds.
    const own = await startProxy({ env: { INLAY_UPSTREAM: `imap://${dovecot.host}:${dovecot.port}`, INLAY_LOG_LEVEL: 'info' }, nodeArgs: ['--expose-gc'] });
    const liveBytes = async (): Promise<number> => {
      const seen = own.logs().filter((entry) => entry['event'] === 'stats').length;
      own.child.kill('SIGUSR2');
      await expect.poll(() => own.logs().filter((entry) => entry['event'] === 'stats').length, { timeout: 10_000 }).toBe(seen + 1);
      const stats = own.logs().filter((entry) => entry['event'] === 'stats').at(-1)!;
      const memory = stats['memory'] as { arrayBuffers: number; heapUsed: number };
      return memory.arrayBuffers + memory.heapUsed;
    };
    const idle = await liveBytes();

    const socket = connect(own.port, '127.0.0.1');
    let received = 0;
    let tail = '';
    let stalled: Promise<number> | null = null;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 200))).slice(-400);
        if (/f OK[^\n]*\n$/.test(tail)) resolve();
        if (/(l|s|f) (NO|BAD)/.test(tail)) reject(new Error(tail));
        if (stalled === null && received > 10 * 1024 * 1024) {
          // Stop reading a third of the way in: the proxy must stop reading too, not store the rest.
          socket.pause();
          stalled = (async () => {
            await new Promise((wait) => setTimeout(wait, 500));
            // Two readings, the lower counts: freed buffer memory is returned by a background
            // thread, and a busy machine can leave some of it to the second reading.
            const during = Math.min(await liveBytes(), await liveBytes());
            socket.resume();
            return during;
          })();
        }
      });
      socket.on('error', reject);
    });
    socket.write(`l LOGIN "${large.user}" "${large.password}"\r\ns SELECT INBOX\r\nf FETCH 1 BODY.PEEK[]\r\n`);
    await done;
    socket.end();
    const during = await stalled!;
    await own.stop();
    expect(received).toBeGreaterThan(message.length);
    // Holding the 20 MB still to come would show here; streaming holds a few socket buffers.
    expect(during - idle, `live bytes grew from ${idle} to ${during}`).toBeLessThan(4 * 1024 * 1024);
  });
});
