/**
 * A seeded, bounded fuzz test of the whole proxy process (issue 11): random and structured
 * hostile input — nesting, literals of every size and sign, 8-bit bytes, truncated lines, stray
 * parentheses — before login, after login, in INBOX with a campaign, and in INBOX with no
 * middleware at all. After every input the same connection must answer a good command (or have
 * been closed with a BYE, by a limit), a canary session on the same process must still work,
 * and at the end the process's memory must be bounded.
 *
 * INLAY_FUZZ_SEED replays one seed; INLAY_FUZZ_INPUTS sets how many inputs per state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyInFrontOf, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import type { RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();
const SEED = Number(process.env['INLAY_FUZZ_SEED'] ?? 11_2026);
const INPUTS_PER_STATE = Number(process.env['INLAY_FUZZ_INPUTS'] ?? 60);
/** How long one answer may take; far above any real answer, so only a stall trips it. */
const ANSWER_TIMEOUT_MS = 10_000;
/** RSS growth allowed over the whole run: inputs are at most ~100 KiB each and none is kept. */
const MAX_RSS_GROWTH_KIB = 128 * 1024;

/** mulberry32: small, seedable, and the same on every machine. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, max: number): number => Math.floor(rng() * max);

/** One hostile input: bytes to send, and whether the client then walks away mid-literal. */
interface FuzzInput {
  readonly what: string;
  readonly bytes: Buffer;
  readonly abandons: boolean;
}

const COMMANDS = ['ID', 'NOOP', 'FETCH 1', 'UID FETCH 1:*', 'SEARCH', 'UID SEARCH', 'STORE 1 +FLAGS', 'LIST ""', 'STATUS INBOX', 'EXAMINE', 'COPY 1', 'UID MOVE 1:*', 'APPEND INBOX', 'FROBNICATE', 'LOGIN', 'CAPABILITY'];
const NESTING = [0, 1, 2, 63, 64, 65, 999, 1000, 1001, 5000, 10_000, 30_000, 40_000];
const LITERAL_SIZES = ['-1', '0', '1', '5', '100', '8191', '8192', '65535', '70000', '4294967296', '9007199254740993', '9999999999999999', '18446744073709551616', '', '00000000000000000005', '+5', '5 +', '0x10'];
const EIGHT_BIT = ['NOOP \xe9\xff', 'FETCH 1 (FLAGS \x80)', 'SELECT "\xe9"', 'SEARCH SUBJECT \xc3\xa9', 'ID ("name" "\xff")', '\xe9 NOOP', 'LOGIN \xe9 \xe9'];
const STRAY = ['FETCH 1 FLAGS)', 'NOOP )))', 'SEARCH ) ALL', 'SEARCH (ALL', 'ID (', 'ID )', 'STORE 1 FLAGS (\\Seen))', 'FETCH 1 (BODY[HEADER.FIELDS (SUBJECT])', 'LIST "" ("a"'];
const TRUNCATED = ['FETCH 1 (BODY[HEADER.FIELDS (SUBJ', 'SEARCH SUBJECT "unterminated', 'LOGIN "a\\', 'SELECT "INB', 'FETCH 1:', 'UID', 'ID ("a" '];

function line(tag: string, text: string): Buffer {
  return Buffer.from(`${tag} ${text}\r\n`, 'latin1');
}

function generate(rng: Rng, tag: string): FuzzInput {
  switch (int(rng, 7)) {
    case 0: {
      const open = pick(rng, NESTING);
      const close = Math.max(0, open + pick(rng, [0, 0, 1, -1, -open]));
      const command = pick(rng, COMMANDS);
      return { what: `nesting ${command} ${open}/${close}`, bytes: line(tag, `${command} ${'('.repeat(open)}${pick(rng, ['NIL', 'FLAGS', 'ALL', '"x"'])}${')'.repeat(close)}`), abandons: false };
    }
    case 1: {
      const size = pick(rng, LITERAL_SIZES);
      const plus = rng() < 0.5 ? '+' : '';
      const command = pick(rng, COMMANDS);
      const announced = `${tag} ${command} {${size}${plus}}\r\n`;
      const exact = /^\d+$/.test(size) ? Number(size) : null;
      if (exact !== null && exact <= 100_000 && rng() < 0.15) {
        // A client that announces a literal, sends part of it and walks away.
        return { what: `truncated literal ${command} {${size}${plus}}`, bytes: Buffer.from(`${announced}${'x'.repeat(Math.floor(exact / 2))}`, 'latin1'), abandons: true };
      }
      const data = exact !== null && exact <= 100_000 ? 'x'.repeat(exact) : '';
      return { what: `literal ${command} {${size}${plus}}`, bytes: Buffer.from(`${announced}${data}\r\n`, 'latin1'), abandons: false };
    }
    case 2:
      return { what: 'eight-bit', bytes: line(tag, pick(rng, EIGHT_BIT)), abandons: false };
    case 3:
      return { what: 'stray parentheses', bytes: line(tag, pick(rng, STRAY)), abandons: false };
    case 4:
      // Cut mid-token: the line ends where the client stopped typing.
      return { what: 'truncated line', bytes: line(tag, pick(rng, TRUNCATED)), abandons: false };
    case 5: {
      const bytes = Buffer.alloc(1 + int(rng, 2000));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(rng, 256);
      // A random "{N}" right before a line end would make the good command literal data.
      const text = bytes.toString('latin1').replace(/\{[0-9+]*\}(?=\r?\n)/g, '');
      return { what: `random ${bytes.length} bytes`, bytes: Buffer.from(`${text}\r\n`, 'latin1'), abandons: false };
    }
    default:
      return { what: 'empty and odd lines', bytes: Buffer.from(pick(rng, ['\r\n', '\n', '\r\r\n', '\0\r\n', ' \r\n', `${tag}\r\n`, `${tag} \r\n`]), 'latin1'), abandons: false };
  }
}

type State = 'notAuthenticated' | 'authenticated' | 'inbox';

async function open(port: number, user: DovecotUser, state: State): Promise<RawImap> {
  const client = await RawImap.connect(port);
  await client.greeting();
  if (state === 'notAuthenticated') return client;
  expect(await client.command('L', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/L OK/);
  if (state === 'inbox') expect(await client.command('S', 'SELECT INBOX')).toMatch(/S OK/);
  return client;
}

/**
 * Sends the inputs of one state through one connection (a new one after a limit closed it),
 * checking after each that the connection answers a good command and the canary is served.
 */
async function fuzzState(proxy: RunningProxy, user: DovecotUser, state: State, seed: number): Promise<number> {
  const rng = random(seed);
  const canary = await open(proxy.port, user, 'inbox');
  let client = await open(proxy.port, user, state);
  let closedByLimit = 0;
  for (let i = 0; i < INPUTS_PER_STATE; i++) {
    const input = generate(rng, `f${i}`);
    const where = `seed ${seed}, ${state}, input ${i} (${input.what})`;
    client.write(input.bytes);
    if (input.abandons) {
      client.close();
      client = await open(proxy.port, user, state);
    } else {
      client.write(`z${i} NOOP\r\n`);
      const answered = await client.waitFor(new RegExp(`(^|\\n)z${i} OK[^\\n]*\\n`), ANSWER_TIMEOUT_MS).then(
        () => true,
        async (err: Error) => {
          // Closed by a limit (too many BAD, line too long, literal too large): with a BYE.
          if (!client.closed) throw new Error(`${where}: no answer to a good command: ${err.message}`);
          expect(client.text, `${where}: closed without BYE`).toMatch(/\* BYE /);
          return false;
        },
      );
      if (!answered) {
        closedByLimit++;
        client.close();
        client = await open(proxy.port, user, state);
      }
    }
    expect(await canary.command(`c${i}`, 'FETCH 1 (FLAGS)', ANSWER_TIMEOUT_MS), where).toMatch(new RegExp(`c${i} OK`));
  }
  client.close();
  canary.close();
  return closedByLimit;
}

describe('fuzzing the whole proxy process', () => {
  let stack: InjectionStack;
  let plain: RunningProxy;
  let user: DovecotUser;

  beforeAll(async () => {
    stack = await startInjectionStack({ dovecot });
    // No middleware at all: INBOX through the view with nothing to inject.
    plain = await proxyInFrontOf(dovecot);
    user = await userWithMail(dovecot, 3);
    await stack.runCampaign('Fuzz offer');
  });

  afterAll(async () => {
    await plain?.stop();
    await stack?.stop();
  });

  it(`survives ${INPUTS_PER_STATE} hostile inputs per state, answering each connection and a canary (seed ${SEED})`, async () => {
    const targets: [string, RunningProxy, State][] = [
      ['campaign', stack.proxy, 'notAuthenticated'],
      ['campaign', stack.proxy, 'authenticated'],
      ['campaign', stack.proxy, 'inbox'],
      ['no middleware', plain, 'inbox'],
    ];
    const before = new Map([stack.proxy, plain].map((proxy) => [proxy, 0]));
    for (const proxy of before.keys()) before.set(proxy, (await proxy.memory()).rssKiB);
    const limits: Record<string, number> = {};
    for (const [index, [name, proxy, state]] of targets.entries()) {
      limits[`${name} ${state}`] = await fuzzState(proxy, user, state, SEED + index);
    }
    for (const [proxy, rssBefore] of before) {
      const fresh = await open(proxy.port, user, 'inbox');
      expect(await fresh.command('e1', 'FETCH 1:* (UID FLAGS)')).toMatch(/e1 OK/);
      fresh.close();
      expect((await proxy.memory()).rssKiB - rssBefore).toBeLessThan(MAX_RSS_GROWTH_KIB);
      const bugs = proxy.logs().filter((entry) => entry['code'] === 'INLAY_PROXY_INTERNAL_ERROR');
      expect(bugs.map((entry) => entry['err'])).toEqual([]);
    }
    // Some inputs must have hit a limit, or the generator lost its teeth.
    expect(Object.values(limits).reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
  }, 120_000);
});
