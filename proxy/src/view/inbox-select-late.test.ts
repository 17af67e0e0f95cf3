/**
 * SELECT of INBOX when new mail is reported during its hidden SEARCH (the Cyrus stress run):
 * the bytes a fake server sends, fed one line at a time to a session with a fake middleware.
 * The client must end up told exactly as many messages as the view numbers.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { InboxView, VirtualMessage } from '@inlay/schemas';
import type { EngineClient } from '../engine-client.js';
import { ViewMemory } from '../engine-memory.js';
import { InboxSession } from './inbox-session.js';
import { selectInbox } from './inbox-select.js';
import { dispatch } from './inbox-dispatch.js';
import { parseCommand } from '../imap-syntax.js';

const virtual = (uid: number): VirtualMessage => ({ uid, campaignId: `c${uid}`, variantId: null, internalDate: '2026-11-22T00:00:00Z', flags: [], rfc822: '' });

/** A middleware that always answers with the same view. */
function fakeEngine(view: InboxView): EngineClient {
  const fake = {
    memory: new ViewMemory(),
    view: async () => view,
    cachedView: () => view,
    freshView: async () => view,
    reveal: async () => view,
    revealUpTo: async () => ({ view, revealed: true }),
    assign: async () => undefined,
    flags: async () => view,
    expunge: async () => view,
  };
  return fake as unknown as EngineClient;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await tick();
  expect(what()).toBe(true);
}

/** Selects an INBOX of seven real messages with these virtual ones; the eighth message is
 *  reported during the hidden SEARCH. Returns the EXISTS lines the client got, in order. */
async function selectWithLateMail(virtualUids: number[]): Promise<{ exists: string[]; lines: string[]; session: InboxSession; server: (text: string) => void; client: Buffer[]; upstream: string[] }> {
  const view: InboxView = { known: true, epoch: 1, messages: virtualUids.map(virtual), pending: 0, ttlMs: 0 };
  const upstream: string[] = [];
  const client: Buffer[] = [];
  const session = new InboxSession({
    log: pino({ level: 'silent' }),
    login: `late-select-${virtualUids.join('-')}`,
    engine: fakeEngine(view),
    eventOrigin: {} as never,
    writeUpstream: (bytes) => upstream.push(bytes.toString('latin1')),
    writeClient: (bytes) => client.push(Buffer.from(bytes)),
    resumeServer: () => {},
    idleChanged: () => {},
    passThroughRunning: () => false,
    endSession: () => {},
  });
  session.current = await selectInbox(session, 's', Buffer.from('s SELECT INBOX\r\n'), false);
  const server = (text: string): void => {
    const verdict = session.onServerLine(Buffer.from(`${text}\r\n`, 'latin1'), true, null);
    if (Buffer.isBuffer(verdict)) client.push(verdict);
  };
  for (const line of ['* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)', '* 7 EXISTS', '* 0 RECENT', '* OK [UIDVALIDITY 1000] Ok', '* OK [UIDNEXT 8] Ok']) server(line);
  server('s OK [READ-WRITE] Completed');
  // The view places UID 97 after the real messages up to UID 6: it asks the server how many.
  await until(() => upstream.some((text) => /^~inlay\d+ SEARCH RETURN \(COUNT\) UID 1:6\r\n$/.test(text)));
  const searchTag = /^(~inlay\d+) SEARCH/.exec(upstream.at(-1)!)![1]!;
  // Cyrus reports the eighth message before the SEARCH's answer.
  server('* 8 EXISTS');
  await tick();
  server('* 0 RECENT');
  server(`* ESEARCH (TAG "${searchTag}") COUNT 6`);
  server(`${searchTag} OK Completed`);
  await until(() => Buffer.concat(client).toString('latin1').includes('s OK'));
  await tick();
  const lines = Buffer.concat(client).toString('latin1').split('\r\n');
  return { exists: lines.filter((text) => / EXISTS$/.test(text)), lines, session, server, client, upstream };
}

describe('SELECT INBOX with mail arriving during its hidden SEARCH', () => {
  it('announces the late mail with a count that includes the virtual message placed after it came', async () => {
    // Seven real messages (server UIDs 1..7); one virtual message anchored at UID 6 (client UID 97).
    const { exists, lines, session } = await selectWithLateMail([6 * 16 + 1]);
    // The answer: 6 real + UID 97 + the seventh real (UIDNEXT 113 covers them); then the late mail.
    expect(exists).toEqual(['* 8 EXISTS', '* 9 EXISTS']);
    expect(lines.indexOf('* 9 EXISTS')).toBeGreaterThan(lines.findIndex((text) => text.startsWith('s OK')));
    expect(session.inbox?.map.clientExists).toBe(9);
  });

  it('places a virtual message anchored at the last UID the SELECT reported before the late mail', async () => {
    const { exists, session } = await selectWithLateMail([6 * 16 + 1, 7 * 16 + 1]);
    // 7 real + UIDs 97 and 113 in the answer; the eighth real message after them.
    expect(exists).toEqual(['* 9 EXISTS', '* 10 EXISTS']);
    expect(session.inbox?.map.clientSeqOfVirtual(1)).toBe(9);
    expect(session.inbox?.map.clientSeqOfServer(8)).toBe(10);
  });

  it('answers a UID SEARCH that names mail Cyrus reports after its SEARCH line only after the EXISTS', async () => {
    const { session, server, client, upstream } = await selectWithLateMail([6 * 16 + 1]);
    client.length = 0;
    const bytes = Buffer.from('c1 UID SEARCH ALL\r\n');
    session.current = await dispatch(session, parseCommand({ segments: [bytes], literals: [] }), bytes, { idleRefreshMs: 60_000, readyForDone: () => {} });
    expect(upstream.at(-1)).toBe('c1 UID SEARCH ALL\r\n');
    // Cyrus: the ninth message is in the answer before the EXISTS that reports it.
    server('* SEARCH 1 2 3 4 5 6 7 8 9');
    server('* 9 EXISTS');
    server('* 1 RECENT');
    server('c1 OK Completed');
    // The new message's UID, learnt with a hidden FETCH before the EXISTS is announced.
    await until(() => /^~inlay\d+ FETCH \d+:9 \(UID\)\r\n$/.test(upstream.at(-1)!));
    const fetchTag = /^(~inlay\d+)/.exec(upstream.at(-1)!)![1]!;
    if (upstream.at(-1)!.includes('FETCH 8:9')) server('* 8 FETCH (UID 8)');
    server('* 9 FETCH (UID 9)');
    server(`${fetchTag} OK Completed`);
    await until(() => Buffer.concat(client).toString('latin1').includes('c1 OK'));
    const lines = Buffer.concat(client).toString('latin1').split('\r\n');
    const exists = lines.findIndex((text) => text === '* 10 EXISTS');
    const answer = lines.findIndex((text) => text.startsWith('* SEARCH'));
    expect(exists).toBeGreaterThanOrEqual(0);
    expect(answer).toBeGreaterThan(exists);
    expect(lines[answer]).toBe('* SEARCH 16 32 48 64 80 96 97 112 128 144');
  });

  it('makes the server report mail its SEARCH named without an EXISTS in the same command (Cyrus 3.6), before the answer', async () => {
    const { session, server, client, upstream } = await selectWithLateMail([6 * 16 + 1]);
    client.length = 0;
    const bytes = Buffer.from('c1 UID SEARCH ALL\r\n');
    session.current = await dispatch(session, parseCommand({ segments: [bytes], literals: [] }), bytes, { idleRefreshMs: 60_000, readyForDone: () => {} });
    // Cyrus reads the mailbox again to search it without reporting what it found: the ninth
    // message is in the answer, and its EXISTS would come only with the next command.
    server('* SEARCH 1 2 3 4 5 6 7 8 9');
    server('c1 OK Completed');
    // The proxy asks for the report with a hidden non-UID SEARCH (no EXPUNGE may come during it).
    await until(() => /^~inlay\d+ SEARCH UID 1\r\n$/.test(upstream.at(-1)!));
    const searchTag = /^(~inlay\d+)/.exec(upstream.at(-1)!)![1]!;
    expect(Buffer.concat(client).toString('latin1')).not.toContain('* SEARCH');
    server('* 9 EXISTS');
    server('* 1 RECENT');
    server('* SEARCH 1');
    server(`${searchTag} OK Completed`);
    await until(() => Buffer.concat(client).toString('latin1').includes('c1 OK'));
    const lines = Buffer.concat(client).toString('latin1').split('\r\n');
    const exists = lines.findIndex((text) => text === '* 10 EXISTS');
    const answer = lines.findIndex((text) => text.startsWith('* SEARCH'));
    expect(exists).toBeGreaterThanOrEqual(0);
    expect(answer).toBeGreaterThan(exists);
    expect(lines[answer]).toBe('* SEARCH 16 32 48 64 80 96 97 112 128 144');
    expect(lines.filter((text) => text.startsWith('* SEARCH'))).toHaveLength(1);
  });

  it('never sends a SEARCH sequence number past the count the client was told, should the server not report it', async () => {
    // Eight real messages and UID 97 after the sixth: the client was told of nine.
    const { session, server, client, upstream } = await selectWithLateMail([6 * 16 + 1]);
    client.length = 0;
    const bytes = Buffer.from('c1 SEARCH ALL\r\n');
    session.current = await dispatch(session, parseCommand({ segments: [bytes], literals: [] }), bytes, { idleRefreshMs: 60_000, readyForDone: () => {} });
    server('* SEARCH 1 2 3 4 5 6 7 8 9');
    server('c1 OK Completed');
    await until(() => /^~inlay\d+ SEARCH UID 1\r\n$/.test(upstream.at(-1)!));
    const searchTag = /^(~inlay\d+)/.exec(upstream.at(-1)!)![1]!;
    server('* SEARCH 1');
    server(`${searchTag} OK Completed`);
    await until(() => Buffer.concat(client).toString('latin1').includes('c1 OK'));
    expect(Buffer.concat(client).toString('latin1')).toContain('* SEARCH 1 2 3 4 5 6 7 8 9\r\nc1 OK');
  });
});
