/**
 * The harness's pure parts, without servers: UID renaming (pairs, conflicts, order), response
 * normalisation (what is erased and what must still differ), rendering commands for a target
 * whose UIDs are spelled differently, determinism of generation, and the readable diff.
 */
import { describe, expect, it } from 'vitest';
import { parseResponse, type ImapResponse } from '../imap-invariants-wire.ts';
import { generateCommand, renderCommand, type CommandKind, type GenerationContext, type HarnessCommand, type SearchKey } from './commands.ts';
import { generateMessage } from './messages.ts';
import { normaliseResponse, normaliseResponses, UidRenaming, uidSpeller } from './normalise.ts';
import { Random } from './random.ts';
import { lineDiff, readableDiff } from './report.ts';
import { OracleMailbox, withoutExpungedElsewhere } from './expunged-elsewhere.ts';
import { flagsReportedIn, searchTestsFlags, withoutHitsOnFlagsChangedElsewhere } from './flags-changed-elsewhere.ts';
import { touchesDeleted, UnsyncedDeletions } from './deleted-elsewhere.ts';
import { CampaignsCameAndWent } from './came-and-went.ts';
import { uidSearchNamingSetWhileGone } from './expunged-elsewhere.ts';

describe('UidRenaming', () => {
  it('pairs UIDs once and refuses pairings that contradict earlier ones or the order', () => {
    const renaming = new UidRenaming();
    expect(renaming.pair(3, 48)).toBeNull();
    expect(renaming.pair(5, 80)).toBeNull();
    expect(renaming.pair(3, 48)).toBeNull();
    expect(renaming.pair(3, 49)).toMatch(/oracle UID 3 was paired with subject UID 48/);
    expect(renaming.pair(4, 80)).toMatch(/subject UID 80 was paired with oracle UID 5/);
    expect(renaming.pair(4, 96)).toMatch(/breaks the order/);
    expect(renaming.oracleUids()).toEqual([3, 5]);
    expect(renaming.highest('subject')).toBe(80);
  });
});

describe('normalisation', () => {
  const renaming = new UidRenaming();
  renaming.pair(7, 112);
  const line = (text: string, side: 'oracle' | 'subject', dropRecent = false, uidSearch = false): string | null =>
    normaliseResponse(parseResponse(Buffer.from(`${text}\r\n`)), uidSpeller(renaming, side), uidSearch, { dropRecent });

  it('spells UIDs as the oracle does and ignores item order, string forms and flag order', () => {
    const oracle = line('* 2 FETCH (UID 7 FLAGS (\\Seen \\Flagged) ENVELOPE ("d" "Hi" NIL NIL NIL NIL NIL NIL NIL NIL))', 'oracle');
    const subject = line('* 2 FETCH (ENVELOPE ("d" {2}\r\nHi NIL NIL NIL NIL NIL NIL NIL NIL) FLAGS (\\Flagged \\Seen) UID 112)', 'subject');
    expect(subject).toBe(oracle);
    expect(line('* SEARCH 112', 'subject', false, true)).toBe('* SEARCH u7');
  });

  it('erases UIDNEXT/UIDVALIDITY values and human text, keeps what carries meaning', () => {
    expect(line('* OK [UIDNEXT 9] Predicted next UID', 'oracle')).toBe(line('* OK [UIDNEXT 129] x', 'subject'));
    expect(line('t1 OK Fetch completed (0.001 + 0.000 secs).', 'oracle')).toBe('TAGGED OK');
    expect(line('* OK Still here', 'oracle')).toBeNull();
    expect(line('t1 OK [EXPUNGEISSUED] x', 'oracle')).toBe('TAGGED OK [EXPUNGEISSUED]');
    expect(line('* 3 RECENT', 'oracle', true)).toBeNull();
    expect(line('* 1 FETCH (FLAGS (\\Recent \\Seen))', 'oracle', true)).toBe('* 1 FETCH (FLAGS (\\Seen))');
  });

  it('orders FETCH responses of different messages between two other responses, nothing else', () => {
    const lines = (...texts: string[]): string[] =>
      normaliseResponses(texts.map((text) => parseResponse(Buffer.from(`${text}\r\n`))), uidSpeller(renaming, 'oracle'), false, { dropRecent: false });
    const asked = '* 9 FETCH (RFC822.SIZE 5)';
    const [seen, seenAgain, flagged] = ['* 2 FETCH (FLAGS (\\Seen))', '* 2 FETCH (FLAGS ())', '* 4 FETCH (FLAGS (\\Flagged))'];
    expect(lines(asked, seen, flagged, '* 10 EXISTS')).toEqual(lines(seen, flagged, asked, '* 10 EXISTS'));
    // The same message's updates keep their order; EXISTS and EXPUNGE delimit what may move.
    expect(lines(seen, seenAgain)).not.toEqual(lines(seenAgain, seen));
    expect(lines(asked, '* 10 EXISTS', seen)).not.toEqual(lines(seen, '* 10 EXISTS', asked));
    expect(lines(asked, '* 3 EXPUNGE', seen)).not.toEqual(lines(seen, '* 3 EXPUNGE', asked));
  });

  it('compares consecutive EXPUNGE responses by the messages they remove, not their order', () => {
    const lines = (...seqs: number[]): string[] =>
      normaliseResponses(seqs.map((seq) => parseResponse(Buffer.from(`* ${seq} EXPUNGE\r\n`))), uidSpeller(renaming, 'oracle'), false, { dropRecent: false });
    expect(lines(8, 3, 2, 6)).toEqual(lines(9, 8, 3, 2));
    expect(lines(2, 2, 2)).toEqual(lines(4, 3, 2));
    expect(lines(8, 3, 2, 6)).not.toEqual(lines(9, 8, 3, 1));
  });

  it('compares a flag update before an EXPUNGE with the same update renumbered after it', () => {
    const lines = (...texts: string[]): string[] =>
      normaliseResponses(texts.map((text) => parseResponse(Buffer.from(`${text}\r\n`))), uidSpeller(renaming, 'oracle'), false, { dropRecent: false });
    expect(lines('* 6 FETCH (FLAGS (\\Seen))', '* 1 EXPUNGE')).toEqual(lines('* 1 EXPUNGE', '* 5 FETCH (FLAGS (\\Seen))'));
    expect(lines('* 6 FETCH (FLAGS (\\Seen))', '* 1 EXPUNGE')).not.toEqual(lines('* 1 EXPUNGE', '* 6 FETCH (FLAGS (\\Seen))'));
  });

  it('keeps differences: flags, unpaired UIDs, body bytes', () => {
    expect(line('* 1 FETCH (FLAGS (\\Seen))', 'oracle')).not.toBe(line('* 1 FETCH (FLAGS ())', 'subject'));
    expect(line('* 1 FETCH (UID 8)', 'oracle')).not.toBe(line('* 1 FETCH (UID 128)', 'subject'));
    expect(line('* 1 FETCH (UID 8)', 'oracle')).toContain('unpaired');
    expect(line('* 1 FETCH (BODY[] "a")', 'oracle')).not.toBe(line('* 1 FETCH (BODY[] "b")', 'subject'));
  });
});

describe('commands', () => {
  const context = (random: Random): GenerationContext => ({
    random, messageRandom: random.fork('messages'), label: 'x', count: 5, sessionUids: [2, 3, 5], mappedUids: [1, 2, 3, 4, 5],
  });
  const kinds: CommandKind[] = ['fetch', 'uid-fetch', 'search', 'uid-search', 'store', 'uid-store', 'uid-expunge', 'append'];

  it('are the same for a seed, and differ between targets only in how UIDs are spelled', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      const kind = kinds[seed % kinds.length]!;
      const command = generateCommand(kind, context(new Random(seed)));
      expect(generateCommand(kind, context(new Random(seed)))).toEqual(command);
      const oracle = renderCommand(command, { uid: (uid) => uid, beyondBase: 5 });
      const subject = renderCommand(command, { uid: (uid) => uid * 16, beyondBase: 80 });
      // UID sets: each oracle UID n is 16n on the subject, or past the end on both.
      const sets = (text: string): string[] => [...text.matchAll(/(?:^UID (?:FETCH|STORE|EXPUNGE)|[ (]UID) ([\d:*,]+)/g)].map((match) => match[1]!);
      const [oracleSets, subjectSets] = [sets(oracle.line), sets(subject.line)];
      expect(subjectSets.length).toBe(oracleSets.length);
      oracleSets.forEach((set, i) => {
        const subjectParts = subjectSets[i]!.split(/([:,])/);
        set.split(/([:,])/).forEach((part, j) => {
          const n = Number(part);
          if (Number.isNaN(n)) expect(subjectParts[j]).toBe(part);
          else expect([String(n * 16), String(80 + n - 5)]).toContain(subjectParts[j]);
        });
      });
      // Everything else is the same text.
      expect(subject.line.replace(/[\d:*,]+/g, '#')).toBe(oracle.line.replace(/[\d:*,]+/g, '#'));
    }
  });

  it('generated mail is CRLF throughout and varies in shape', () => {
    const random = new Random(5);
    const messages = Array.from({ length: 40 }, (_, i) => generateMessage(random, `m${i}`));
    for (const { bytes } of messages) expect(bytes.toString('latin1')).not.toMatch(/[^\r]\n/);
    expect(new Set(messages.map((message) => message.summary.split(' ')[0])).size).toBeGreaterThanOrEqual(4);
  });
});

describe('report', () => {
  it('diffs lines and folds long equal runs', () => {
    expect(lineDiff(['a', 'b', 'c'], ['a', 'x', 'c'])).toEqual(['  a', '- b', '+ x', '  c']);
    const same = Array.from({ length: 10 }, (_, i) => `line ${i}`);
    const shown = readableDiff([...same, 'old'], [...same, 'new']);
    expect(shown).toContain('  … 7 equal lines …');
    expect(shown.slice(-2)).toEqual(['- old', '+ new']);
  });
});

describe('messages expunged elsewhere while a session still has them', () => {
  const responses = (...lines: string[]): ImapResponse[] => lines.map((text) => parseResponse(Buffer.from(`${text}\r\n`)));
  const shown = (list: readonly ImapResponse[]): string[] => normaliseResponses(list, String, false, { dropRecent: false });

  it('follows a session UID by UID and says which of its messages left the INBOX elsewhere', () => {
    const mailbox = new OracleMailbox();
    const [session, other] = [{}, {}];
    mailbox.listed([1, 2, 3]);
    mailbox.follow(session, responses('* 3 EXISTS', 'a OK [READ-WRITE] done'), true, [null, null, null]);
    mailbox.follow(other, responses('* 3 EXISTS', 'a OK [READ-WRITE] done'), true, undefined);
    mailbox.listed([1, 2, 3, 4]); // a campaign starts
    mailbox.follow(session, responses('* 4 EXISTS', 'b OK done'), false, [null, null, null, null]);
    mailbox.listed([1, 2, 3]); // and ends
    expect(mailbox.goneIn(session)).toEqual([false, false, false, true]);
    mailbox.follow(other, responses('* 3 EXPUNGE', 'c OK done'), false, undefined); // another session expunges 3
    expect(mailbox.goneIn(session)).toEqual([false, false, true, true]);
    // Its own APPEND: the EXISTS comes before the APPENDUID that names it.
    mailbox.follow(session, responses('* 2 EXPUNGE', '* 4 EXISTS', 'c OK [APPENDUID 9 5] done'), false, [1, 3, 4, 5]);
    expect(mailbox.goneIn(session)).toEqual([false, true, true, false]);
  });

  it('knows nothing of a session whose account does not add up, or disagrees with its checker', () => {
    const mailbox = new OracleMailbox();
    const [counted, contradicted] = [{}, {}];
    mailbox.listed([1, 2]);
    mailbox.follow(counted, responses('* 3 EXISTS', 'a OK done'), true, undefined); // three, where the INBOX holds two
    expect(mailbox.goneIn(counted)).toBeNull();
    mailbox.follow(contradicted, responses('* 2 EXISTS', 'a OK done'), true, [1, 7]);
    expect(mailbox.goneIn(contradicted)).toBeNull();
  });

  it('leaves out what is said of those messages only, following numbers through EXPUNGE and EXISTS', () => {
    const answer = responses(
      '* 1 FETCH (FLAGS (\\Seen))', '* 2 FETCH (RFC822.SIZE 0 FLAGS ())', '* 3 FETCH (FLAGS ())', '* SEARCH 1 2 3',
      '* 1 EXPUNGE', '* 1 FETCH (FLAGS (\\Deleted))', '* 3 EXISTS', 'a OK [EXPUNGEISSUED] done',
    );
    expect(shown(withoutExpungedElsewhere(answer, [false, true, false], () => false, false))).toEqual([
      '* 1 FETCH (FLAGS (\\Seen))', '* 3 FETCH (FLAGS ())', '* SEARCH 1 3', '* 1 EXPUNGE', '* 3 EXISTS', 'TAGGED OK',
    ]);
    // Nothing gone, or an unknown view: compared whole.
    expect(withoutExpungedElsewhere(answer, [false, false, false], () => false, false)).toBe(answer);
    expect(withoutExpungedElsewhere(answer, null, () => false, false)).toBe(answer);
    // UID SEARCH hits are UIDs.
    expect(shown(withoutExpungedElsewhere(responses('* SEARCH 16 32', 'a OK done'), [true], (uid) => uid === 32, true))).toEqual(['* SEARCH 16', 'TAGGED OK']);
  });
});

describe('flag searches while another session changed flags this one was not told of', () => {
  const responses = (...lines: string[]): ImapResponse[] => lines.map((text) => parseResponse(Buffer.from(`${text}\r\n`)));
  const shown = (list: readonly ImapResponse[]): string[] => normaliseResponses(list, String, false, { dropRecent: false });

  it('knows which criteria test flags, quoted strings aside', () => {
    expect(searchTestsFlags('UID SEARCH NOT OR OR UNSEEN UNDRAFT NOT ALL')).toBe(true);
    expect(searchTestsFlags('SEARCH OR (UNKEYWORD $Label1 TEXT "x") 1:3')).toBe(true);
    expect(searchTestsFlags('SEARCH SUBJECT "new seen" SENTBEFORE 21-Oct-2025')).toBe(false);
  });

  it('finds the messages an answer reports changed, by their numbers at its start', () => {
    expect([...flagsReportedIn(responses('* SEARCH 4', '* 4 FETCH (FLAGS (\\Draft))', '* 2 EXPUNGE', '* 3 FETCH (FLAGS ())', 'a OK done'))].sort()).toEqual([4]);
    expect([...flagsReportedIn(responses('* SEARCH', '* 1 EXPUNGE', '* 3 FETCH (FLAGS ())', 'a OK done'))]).toEqual([4]);
  });

  it('leaves out only the hits on those messages, so any other difference still shows', () => {
    // Seed 20001: the oracle judged message 4 by the flags its session last synced, the subject by those now.
    const oracle = responses('* SEARCH 2', '* 4 FETCH (FLAGS (\\Draft \\Seen))', 'a OK done');
    const subject = responses('* SEARCH 2 4', '* 4 FETCH (FLAGS (\\Draft \\Seen))', 'a OK done');
    const changed = flagsReportedIn(oracle);
    const without = (list: readonly ImapResponse[]): string[] => shown(withoutHitsOnFlagsChangedElsewhere(list, changed, () => false, false));
    expect(without(subject)).toEqual(without(oracle));
    // A hit on another message, or a missing update, is still a difference.
    expect(without(responses('* SEARCH 4', '* 4 FETCH (FLAGS (\\Draft \\Seen))', 'a OK done'))).not.toEqual(without(oracle));
    expect(without(responses('* SEARCH 2 4', 'a OK done'))).not.toEqual(without(oracle));
    // No update in the answer: compared whole. UID SEARCH hits are UIDs.
    expect(withoutHitsOnFlagsChangedElsewhere(subject, new Set(), () => true, false)).toBe(subject);
    expect(shown(withoutHitsOnFlagsChangedElsewhere(responses('* SEARCH 16 32', 'a OK done'), changed, (uid) => uid === 32, true))).toEqual(['* SEARCH 16', 'TAGGED OK']);
  });
});

describe('a sync that may not expunge', () => {
  it('counts messages that came and went since the last one, when only that adds up', () => {
    const responses = (...lines: string[]): ImapResponse[] => lines.map((text) => parseResponse(Buffer.from(`${text}\r\n`)));
    const mailbox = new OracleMailbox();
    const [session, other] = [{}, {}];
    mailbox.listed([1, 2]);
    mailbox.follow(session, responses('* 2 EXISTS', 'a OK done'), true, undefined);
    mailbox.follow(other, responses('* 2 EXISTS', 'a OK done'), true, undefined);
    mailbox.listed([1, 2, 3, 4]); // new mail
    mailbox.listed([1, 2, 4]); // 3 expunged by another session
    mailbox.follow(session, responses('* 4 EXISTS', 'b OK done'), false, undefined); // during a FETCH: 3 is counted
    expect(mailbox.goneIn(session)).toEqual([false, false, true, false]);
    mailbox.follow(other, responses('* 3 EXISTS', 'b OK done'), false, undefined); // after expunges: 3 is not
    expect(mailbox.goneIn(other)).toEqual([false, false, false]);
  });
});

describe('an EXPUNGE after another session changed \\Deleted', () => {
  const store = (action: string, flags: string): HarnessCommand => ({ kind: 'store', uid: false, set: { kind: 'seq', text: '1' }, action, flags });
  const expunge: HarnessCommand = { kind: 'expunge' };
  const sessions = ['s1', 's2', 's3'];

  it('counts a STORE naming \\Deleted, or replacing all flags, as touching it', () => {
    expect(touchesDeleted(store('+FLAGS.SILENT', '(\\Flagged \\Deleted $Label1)'))).toBe(true);
    expect(touchesDeleted(store('-FLAGS', '(\\Deleted)'))).toBe(true);
    expect(touchesDeleted(store('FLAGS', '(\\Seen)'))).toBe(true);
    expect(touchesDeleted(store('+FLAGS', '(\\Seen $Junk)'))).toBe(false);
    expect(touchesDeleted(expunge)).toBe(false);
  });

  it('syncs first only the other sessions, and only until a command of theirs completes OK', () => {
    const unsynced = new UnsyncedDeletions();
    unsynced.completed('s1', store('+FLAGS', '(\\Deleted)'), true, sessions);
    expect(unsynced.needsSyncBefore('s1', expunge)).toBe(false);
    expect(unsynced.needsSyncBefore('s2', expunge)).toBe(true);
    expect(unsynced.needsSyncBefore('s2', { kind: 'uid-expunge', set: { kind: 'seq', text: '1' } })).toBe(true);
    expect(unsynced.needsSyncBefore('s2', { kind: 'noop' })).toBe(false);
    // A refused command syncs nothing; one that completes does.
    unsynced.completed('s2', { kind: 'fetch', uid: false, set: { kind: 'seq', text: '99' }, items: 'FLAGS' }, false, sessions);
    expect(unsynced.needsSyncBefore('s2', expunge)).toBe(true);
    unsynced.completed('s2', { kind: 'status', recent: false, mailbox: 'INBOX' }, true, sessions); // reports nothing of the selected mailbox
    expect(unsynced.needsSyncBefore('s2', expunge)).toBe(true);
    unsynced.completed('s2', { kind: 'noop' }, true, sessions);
    expect(unsynced.needsSyncBefore('s2', expunge)).toBe(false);
    expect(unsynced.needsSyncBefore('s3', expunge)).toBe(true);
    // A refused STORE changed nothing; one without \\Deleted leaves the others as they were.
    unsynced.completed('s3', store('+FLAGS', '(\\Deleted)'), false, sessions);
    unsynced.completed('s1', store('+FLAGS', '(\\Seen)'), true, sessions);
    expect(unsynced.needsSyncBefore('s2', expunge)).toBe(false);
  });
});

describe('a campaign that came and went while a session sent nothing', () => {
  const fetch: HarnessCommand = { kind: 'fetch', uid: false, set: { kind: 'seq', text: '1:*' }, items: 'FLAGS' };
  const sessions = ['s1', 's2'];

  it('has that session sync before a command that syncs without expunges, until a command of its completes', () => {
    const tracker = new CampaignsCameAndWent();
    tracker.started('campaign-1', sessions);
    expect(tracker.needsSyncBefore('s1', fetch)).toBe(false); // started only: both sides show it
    tracker.completed('s2', fetch, true); // s2 synced while it ran
    tracker.ended('campaign-1', sessions);
    expect(tracker.needsSyncBefore('s2', fetch)).toBe(false); // s2 saw it: an ordinary withdrawal
    expect(tracker.needsSyncBefore('s1', fetch)).toBe(true);
    expect(tracker.needsSyncBefore('s1', { kind: 'search', uid: true, keys: [] })).toBe(true);
    expect(tracker.needsSyncBefore('s1', { kind: 'noop' })).toBe(false); // a sync that may expunge says nothing of it
    tracker.completed('s1', fetch, false); // refused: no sync
    expect(tracker.needsSyncBefore('s1', fetch)).toBe(true);
    tracker.completed('s1', { kind: 'status', recent: false, mailbox: 'INBOX' }, true); // STATUS reports nothing of the selected mailbox
    expect(tracker.needsSyncBefore('s1', fetch)).toBe(true);
    tracker.completed('s1', fetch, true);
    expect(tracker.needsSyncBefore('s1', fetch)).toBe(false);
    // Another session's EXPUNGE may have removed a campaign message that started since.
    tracker.started('campaign-2', sessions);
    tracker.expungedBy('s2', sessions);
    expect(tracker.needsSyncBefore('s1', fetch)).toBe(true);
    expect(tracker.needsSyncBefore('s2', fetch)).toBe(false);
  });
});

describe('a UID SEARCH naming a set while the session still has messages gone elsewhere', () => {
  const search = (uid: boolean, keys: readonly SearchKey[]): HarnessCommand => ({ kind: 'search', uid, keys });
  const set = { kind: 'set', set: { kind: 'seq', text: '1:3' } } as const;
  const text = { kind: 'text', text: 'SEEN' } as const;

  it('syncs first only a UID SEARCH naming a set, anywhere in its criteria, and only with something gone', () => {
    expect(uidSearchNamingSetWhileGone(search(true, [text, { kind: 'not', key: { kind: 'group', keys: [set] } }]), [false, true])).toBe(true);
    expect(uidSearchNamingSetWhileGone(search(true, [{ kind: 'or', left: text, right: set }]), [true])).toBe(true);
    expect(uidSearchNamingSetWhileGone(search(true, [set]), [false, false])).toBe(false); // nothing gone
    expect(uidSearchNamingSetWhileGone(search(true, [set]), null)).toBe(false); // unknown: strict
    expect(uidSearchNamingSetWhileGone(search(true, [text]), [true])).toBe(false); // no set
    expect(uidSearchNamingSetWhileGone(search(false, [set]), [true])).toBe(false); // SEARCH never expunges
  });
});
