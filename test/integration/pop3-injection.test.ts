// POP3 through the proxy with a running campaign, against the run's Dovecot POP3 (dovecot-pop3d)
// with real clients: Python's poplib (plain, STLS, implicit TLS) and fetchmail. The campaign
// message must be in STAT/LIST/UIDL/TOP/RETR after the server's mail, go away after DELE and
// QUIT (and not after RSET), leave the server's mail alone, keep its UIDL across sessions, and
// be recorded as `read` and `expunged`. With the middleware gone, mail is served without it;
// hostile lines get -ERR and the session goes on.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo } from '../services/dovecot.ts';
import { userWithMail } from '../helpers/fixtures.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { fetchmail, poplib, type PoplibMode, type PoplibTarget } from '../helpers/pop3-clients.ts';

const dovecot = dovecotFromInfo(inject('dovecot'));
let stack: InjectionStack;

const through = (mode: PoplibMode = 'plain'): PoplibTarget => ({
  port: mode === 'ssl' ? stack.proxy.pop3TlsPort! : stack.proxy.pop3Port!,
  mode,
  caFile: dovecot.caFile,
});
const direct: () => PoplibTarget = () => ({ port: dovecot.pop3Port, mode: 'plain', caFile: dovecot.caFile });

async function eventTypes(user: string): Promise<string[]> {
  const response = await stack.api(`/api/tenants/default/events?user=${encodeURIComponent(user)}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { events: { type: string }[] }).events.map((event) => event.type).sort();
}

/** Waits until the user's events include `wanted` (events are written as the calls return). */
async function eventsIncluding(user: string, wanted: string[]): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const types = await eventTypes(user);
    if (wanted.every((type) => types.includes(type)) || attempt === 50) return types;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The proxy's `login` log line of a POP3 session of `user` (log lines leave in batches). */
async function pop3LoginLine(user: string): Promise<Record<string, unknown> | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const line = stack.proxy.logs().find((entry) => entry['protocol'] === 'pop3' && entry['event'] === 'login' && entry['user'] === user);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

/** A raw POP3 session to check answers line by line. */
async function rawSession(port: number): Promise<{ send(line: string | Buffer): Promise<string>; sendMulti(line: string): Promise<string>; closed(): Promise<void>; end(): void }> {
  const socket = connect({ host: '127.0.0.1', port });
  let received = '';
  let waiting: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    waiting?.();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('close', () => waiting?.());
  const until = async (done: (text: string) => boolean): Promise<string> => {
    while (!done(received)) {
      if (socket.destroyed) throw new Error(`connection closed; received ${JSON.stringify(received)}`);
      await new Promise<void>((resolve) => (waiting = resolve));
    }
    const text = received;
    received = '';
    return text;
  };
  await until((text) => text.includes('\r\n'));
  return {
    send: (line) => {
      socket.write(typeof line === 'string' ? `${line}\r\n` : line);
      return until((text) => text.includes('\r\n'));
    },
    sendMulti: (line) => {
      socket.write(`${line}\r\n`);
      return until((text) => text.startsWith('-ERR') ? text.includes('\r\n') : text.endsWith('\r\n.\r\n'));
    },
    closed: () => closed,
    end: () => socket.end(),
  };
}

beforeAll(async () => {
  stack = await startInjectionStack({
    dovecot,
    proxyEnv: {
      INLAY_PROXY_POP3_LISTEN: '127.0.0.1:0',
      INLAY_PROXY_POP3_TLS_LISTEN: '127.0.0.1:0',
      INLAY_PROXY_POP3_UPSTREAM: `pop3://127.0.0.1:${dovecot.pop3Port}`,
      INLAY_TLS_CERT: dovecot.certFile,
      INLAY_TLS_KEY: dovecot.keyFile,
    },
  });
  await stack.runCampaign('Spring offer');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('POP3 through the proxy, a campaign running', () => {
  it('poplib sees the campaign message after the server mail in STAT, LIST, UIDL, TOP and RETR; the server mail unchanged', async () => {
    const user = await userWithMail(dovecot, 2);
    const server = (await poplib(direct(), user, ['stat', 'list', 'uidl', 'retr:2'])) as [[number, number], string[], string[], string[]];
    const [stat, list, uidl, top, retr, retrReal] = (await poplib(through(), user, ['stat', 'list', 'uidl', 'top:3:0', 'retr:3', 'retr:2'])) as [[number, number], string[], string[], string[], string[], string[]];
    expect(list.slice(0, 2)).toEqual(server[1]);
    expect(uidl.slice(0, 2)).toEqual(server[2]);
    expect(retrReal).toEqual(server[3]);
    expect(list).toHaveLength(3);
    const campaignSize = Number(list[2]!.split(' ')[1]);
    expect(list[2]).toMatch(/^3 \d+$/);
    expect(stat).toEqual([3, server[0][1] + campaignSize]);
    expect(uidl[2]).toMatch(/^3 inlay-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/);
    expect(top).toContain(`Subject: Spring offer for ${user.user}`);
    expect(top.at(-1)).toBe('');
    expect(top.join('\n')).not.toContain('Spring offer, just for you.');
    expect(retr).toContain(`Subject: Spring offer for ${user.user}`);
    expect(retr.join('\n')).toContain('Spring offer, just for you.');
    // LIST's size is what RETR sends, line ends included (poplib strips them, and unstuffs).
    expect(retr.reduce((sum, line) => sum + Buffer.byteLength(line, 'latin1') + 2, 0)).toBe(campaignSize);
  });

  it('the campaign UIDL is the same in the next session; the message the same one IMAP clients see', async () => {
    const user = await userWithMail(dovecot, 1);
    const [first] = (await poplib(through(), user, ['uidl'])) as [string[]];
    const [second] = (await poplib(through('ssl'), user, ['uidl'])) as [string[]];
    expect(second).toEqual(first);
    const view = await stack.internalView(user);
    expect(view.messages).toHaveLength(1);
    expect(first[1]).toBe(`2 inlay-${(view.stateEpoch ?? 0).toString(16)}-${(await uidValidityOf(user)).toString(16)}-${view.messages[0]!.uid.toString(16)}`);
  });

  it.each(['stls', 'ssl'] as const)('over %s as over plain POP3', async (mode) => {
    const user = await userWithMail(dovecot, 2);
    const [stat, uidl, capa] = (await poplib(through(mode), user, ['stat', 'uidl', 'capa'])) as [[number, number], string[], string[]];
    expect(stat[0]).toBe(3);
    expect(uidl[2]).toMatch(/^3 inlay-/);
    expect(capa).toEqual(expect.arrayContaining(['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING']));
    expect(capa).not.toContain('STLS');
    // Everything Dovecot's POP3 lists after login is listed through the proxy too.
    const [dovecotCapa] = (await poplib(direct(), user, ['capa'])) as [string[]];
    expect(capa).toEqual(expect.arrayContaining(dovecotCapa.filter((name) => name !== 'STLS')));
  });

  it("the server learns the client's connection (POP3: XCLIENT, the view's IMAP login: ID): Dovecot logs both logins under the proxy's connection id", async () => {
    const user = await userWithMail(dovecot, 1);
    await poplib(through(), user, ['stat']);
    const login = await pop3LoginLine(user.user);
    expect(login?.['cid']).toBeTypeOf('string');
    const expected = new RegExp(`pop3-login: Info: Login: user=<${user.user}>[^\\n]*session=<${String(login!['cid'])}>`);
    const imap = new RegExp(`imap-login: Info: Login: user=<${user.user}>[^\\n]*session=<${String(login!['cid'])}>`);
    let log = '';
    for (let attempt = 0; attempt < 50 && !(expected.test(log) && imap.test(log)); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      log = await dovecot.readLog();
    }
    const lines = log.split('\n').filter((line) => line.includes(user.user)).join('\n');
    expect(lines).toMatch(expected);
    expect(lines).toMatch(imap);
  });

  it('AUTH PLAIN (initial response, and after "+ ") logs in through the proxy', async () => {
    const user = await userWithMail(dovecot, 1);
    const plain = Buffer.from(`\0${user.user}\0${user.password}`).toString('base64');
    const initial = await rawSession(stack.proxy.pop3Port!);
    expect(await initial.send(`AUTH PLAIN ${plain}`)).toMatch(/^\+OK/);
    expect(await initial.send('STAT')).toMatch(/^\+OK 2 \d+\r\n$/);
    expect(await initial.send('QUIT')).toMatch(/^\+OK/);
    const challenged = await rawSession(stack.proxy.pop3Port!);
    expect(await challenged.send('AUTH PLAIN')).toBe('+ \r\n');
    expect(await challenged.send('*')).toMatch(/^-ERR Authentication cancelled/);
    expect(await challenged.send('AUTH PLAIN')).toBe('+ \r\n');
    expect(await challenged.send('not base64!')).toMatch(/^-ERR Invalid SASL PLAIN response/);
    expect(await challenged.send(`AUTH PLAIN ${Buffer.from(`\0${user.user}\0wrong`).toString('base64')}`)).toMatch(/^-ERR /);
    expect(await challenged.send('AUTH PLAIN')).toBe('+ \r\n');
    expect(await challenged.send(plain)).toMatch(/^\+OK/);
    expect(await challenged.sendMulti('UIDL')).toMatch(/\r\n2 inlay-[^\r]+\r\n\.\r\n$/);
    expect(await challenged.send('QUIT')).toMatch(/^\+OK/);
  });

  it('RETR reports read; DELE + QUIT removes the campaign message for good, reported as expunged; the server mail stays', async () => {
    const user = await userWithMail(dovecot, 2);
    await poplib(through(), user, ['retr:3']);
    expect(await eventsIncluding(user.user, ['injected', 'read'])).toEqual(['injected', 'read']);
    const [dele, list] = (await poplib(through(), user, ['dele:3', 'list'])) as [string, string[]];
    expect(dele).toMatch(/^\+OK/);
    expect(list).toHaveLength(2);
    const [stat, uidl, retr] = (await poplib(through(), user, ['stat', 'uidl', 'retr:3'])) as [[number, number], string[], string];
    const server = (await poplib(direct(), user, ['stat', 'uidl'])) as [[number, number], string[]];
    expect(stat).toEqual(server[0]);
    expect(stat[0]).toBe(2);
    expect(uidl).toEqual(server[1]);
    expect(retr).toMatch(/^error: -ERR/);
    expect(await eventsIncluding(user.user, ['expunged'])).toEqual(['expunged', 'injected', 'read']);
  });

  it('RSET undoes DELE of the campaign message and of server mail', async () => {
    const user = await userWithMail(dovecot, 2);
    const [, , stat, , , afterRset] = (await poplib(through(), user, ['dele:3', 'dele:1', 'stat', 'retr:3', 'rset', 'stat'])) as unknown[];
    expect((stat as number[])[0]).toBe(1);
    expect((afterRset as number[])[0]).toBe(3);
    const [again] = (await poplib(through(), user, ['stat'])) as [[number, number]];
    expect(again[0]).toBe(3);
    expect(await eventTypes(user.user)).toEqual(['injected']);
  });

  it('a session that ends without QUIT deletes nothing', async () => {
    const user = await userWithMail(dovecot, 1);
    await poplib(through(), user, ['dele:2', 'dele:1'], false);
    const [stat] = (await poplib(through(), user, ['stat'])) as [[number, number]];
    expect(stat[0]).toBe(2);
  });

  it('fetchmail retrieves the campaign message with --keep, and deletes it with the server mail without', async () => {
    const user = await userWithMail(dovecot, 2);
    const kept = await fetchmail(stack.proxy.pop3Port!, user, { keep: true });
    expect(kept.code, kept.output).toBe(0);
    expect(kept.delivered).toContain('Subject: Message number 1');
    expect(kept.delivered).toContain('Subject: Message number 2');
    expect(kept.delivered).toContain(`Subject: Spring offer for ${user.user}`);
    expect(kept.delivered).toContain('Spring offer, just for you.');
    const [stillThere] = (await poplib(through(), user, ['stat'])) as [[number, number]];
    expect(stillThere[0]).toBe(3);

    const fetched = await fetchmail(stack.proxy.pop3Port!, user, { keep: false });
    expect(fetched.code, fetched.output).toBe(0);
    expect(fetched.delivered).toContain(`Subject: Spring offer for ${user.user}`);
    const [empty] = (await poplib(through(), user, ['stat'])) as [[number, number]];
    expect(empty).toEqual([0, 0]);
    expect((await poplib(direct(), user, ['stat']))[0]).toEqual([0, 0]);
    expect(await eventsIncluding(user.user, ['expunged'])).toEqual(['expunged', 'injected', 'read']);
    // Nothing left to fetch: fetchmail says so with exit code 1.
    expect((await fetchmail(stack.proxy.pop3Port!, user, { keep: true })).code).toBe(1);
  });
});

describe('POP3 hostile input', () => {
  it('a long line, an unknown command, garbage and bad arguments get -ERR; the session goes on', async () => {
    const user = await userWithMail(dovecot, 1);
    const session = await rawSession(stack.proxy.pop3Port!);
    expect(await session.send('X'.repeat(10_000))).toMatch(/^-ERR Command line too long\r\n$/);
    expect(await session.send('FROBNICATE')).toMatch(/^-ERR Unknown command\r\n$/);
    expect(await session.send(Buffer.from([0x00, 0xff, 0x1b, 0x0d, 0x0a]))).toMatch(/^-ERR /);
    expect(await session.send('RETR 1')).toMatch(/^-ERR Command not valid in this state/);
    expect(await session.send('PASS nope')).toMatch(/^-ERR USER first/);
    expect(await session.sendMulti('CAPA')).toMatch(/^\+OK[^\n]*\r\n(.*\r\n)*USER\r\n/);
    expect(await session.send(`USER ${user.user}`)).toMatch(/^\+OK/);
    expect(await session.send(`PASS ${user.password}`)).toMatch(/^\+OK/);
    expect(await session.send('RETR 99')).toMatch(/^-ERR No such message/);
    expect(await session.send('RETR x')).toMatch(/^-ERR No such message/);
    expect(await session.send('TOP 2')).toMatch(/^-ERR Invalid arguments/);
    expect(await session.send('USER again')).toMatch(/^-ERR Command not valid in this state/);
    expect(await session.send('DELE 2')).toMatch(/^\+OK/);
    expect(await session.send('DELE 2')).toMatch(/^-ERR Message is deleted/);
    expect(await session.send('STAT')).toMatch(/^\+OK 1 \d+\r\n$/);
    expect(await session.sendMulti('TOP 2 0')).toMatch(/^-ERR Message is deleted/);
    expect(await session.send('RSET')).toMatch(/^\+OK/);
    expect(await session.sendMulti('TOP 2 0')).toContain(`Subject: Spring offer for ${user.user}`);
    expect(await session.send('QUIT')).toMatch(/^\+OK/);
    await session.closed();
  });

  it('too many bad commands end the session; plaintext pipelined behind STLS is refused', async () => {
    const session = await rawSession(stack.proxy.pop3Port!);
    let last = '';
    for (let i = 0; i < 21; i++) last = await session.send('BOGUS');
    expect(last).toMatch(/^-ERR Too many invalid commands/);
    await session.closed();
    const injected = await rawSession(stack.proxy.pop3Port!);
    expect(await injected.send('STLS\r\nUSER evil')).toMatch(/^-ERR Data sent after STLS/);
    await injected.closed();
  });

  it('with the middleware hung (SIGSTOP), the login goes through and mail is served without the campaign message', async () => {
    const user = await userWithMail(dovecot, 2);
    process.kill(stack.middleware.pid, 'SIGSTOP');
    try {
      const [stat] = (await poplib(through(), user, ['stat'])) as [[number, number]];
      expect(stat[0]).toBe(2);
    } finally {
      process.kill(stack.middleware.pid, 'SIGCONT');
    }
    expect(await pop3LoginLine(user.user)).toMatchObject({ messages: 2, campaignMessages: 0, injection: false });
    await new Promise((resolve) => setTimeout(resolve, 400)); // past INLAY_PROXY_ENGINE_SUSPEND_MS
  }, 60_000);

  it('with the middleware gone, mail is served without the campaign message', async () => {
    const user = await userWithMail(dovecot, 2);
    await stack.stopMiddleware();
    try {
      const [stat, uidl] = (await poplib(through(), user, ['stat', 'uidl'])) as [[number, number], string[]];
      const server = (await poplib(direct(), user, ['stat', 'uidl'])) as [[number, number], string[]];
      expect(stat).toEqual(server[0]);
      expect(uidl).toEqual(server[1]);
    } finally {
      await stack.restartMiddleware();
    }
    // Back: the next session shows it again.
    await new Promise((resolve) => setTimeout(resolve, 400)); // past INLAY_PROXY_ENGINE_SUSPEND_MS
    const [stat] = (await poplib(through(), user, ['stat'])) as [[number, number]];
    expect(stat[0]).toBe(3);
  });
});

/** The server's INBOX UIDVALIDITY, which keys the view. */
async function uidValidityOf(user: { user: string; password: string }): Promise<number> {
  const raw = await RawImap.connect(dovecot.port, { host: dovecot.host });
  try {
    await raw.greeting();
    await raw.command('v1', `LOGIN "${user.user}" "${user.password}"`);
    return Number(/UIDVALIDITY (\d+)/.exec(await raw.command('v2', 'STATUS INBOX (UIDVALIDITY)'))?.[1] ?? 0);
  } finally {
    raw.close();
  }
}
