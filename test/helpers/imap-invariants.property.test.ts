/**
 * The invariant checker against generated sessions (fast-check): transcripts rendered from a
 * model mailbox that keeps every rule — new mail with gaps in the UIDs, EXPUNGE renumbering,
 * FETCH and UID FETCH of ranges with bodies as literals split across arbitrary chunks,
 * UID SEARCH, STATUS, reselecting — must draw no report; the same transcript with one
 * message's data changed, or one UID reused, must. Complements the hand-written cases.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImapInvariantChecker } from './imap-invariants.ts';

type Action =
  | { kind: 'arrive'; count: number; gap: number; reuseExpunged?: boolean }
  | { kind: 'expunge'; at: number }
  | { kind: 'fetch'; uid: boolean; from: number; length: number }
  | { kind: 'search' }
  | { kind: 'status' }
  | { kind: 'reselect' };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('arrive' as const), count: fc.integer({ min: 1, max: 3 }), gap: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('expunge' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('fetch' as const), uid: fc.boolean(), from: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('search' as const) }),
  fc.record({ kind: fc.constant('status' as const) }),
  fc.record({ kind: fc.constant('reselect' as const) }),
);

function body(uid: number, version = 0): string {
  return `Subject: message ${uid}${version ? ' (changed)' : ''}\r\n\r\nbody of ${uid}\r\n`;
}

/** A session over a model mailbox; `tamper` changes what the server says once, on purpose. */
function transcript(actions: readonly Action[], tamper: 'none' | 'body' = 'none'): { client: string; server: string }[] {
  const out: { client: string; server: string }[] = [];
  let uids = [1, 2, 3];
  let nextUid = 4;
  let tag = 0;
  const fetched = new Set<number>();
  let tampered = false;
  let expunged: number | null = null;
  const say = (command: string, ...responses: string[]): void => {
    tag += 1;
    out.push({ client: `t${tag} ${command}\r\n`, server: [...responses, `t${tag} OK done\r\n`].join('') });
  };
  say('LOGIN u p');
  say('SELECT INBOX', '* 3 EXISTS\r\n', '* OK [UIDVALIDITY 9] x\r\n', '* OK [UIDNEXT 4] x\r\n');
  for (const step of actions) {
    switch (step.kind) {
      case 'arrive': {
        nextUid += step.gap;
        // The lie, when asked for: an expunged UID comes back as a new message.
        const arriving = step.reuseExpunged && expunged !== null ? [expunged] : Array.from({ length: step.count }, (_, i) => nextUid + i);
        nextUid += step.count;
        uids = [...uids, ...arriving];
        say('NOOP', `* ${uids.length} EXISTS\r\n`);
        break;
      }
      case 'expunge': {
        if (uids.length === 0) break;
        const index = step.at % uids.length;
        expunged = uids[index]!;
        uids = uids.filter((_, i) => i !== index);
        say('NOOP', `* ${index + 1} EXPUNGE\r\n`);
        break;
      }
      case 'fetch': {
        if (uids.length === 0) break;
        const from = step.from % uids.length;
        const chosen = uids.slice(from, from + step.length);
        const set = step.uid ? `${chosen[0]}:${chosen.at(-1)}` : `${from + 1}:${from + chosen.length}`;
        const responses = chosen.map((uid) => {
          const changed = tamper === 'body' && fetched.has(uid) && !tampered;
          if (changed) tampered = true;
          fetched.add(uid);
          const text = body(uid, changed ? 1 : 0);
          return `* ${uids.indexOf(uid) + 1} FETCH (UID ${uid} RFC822.SIZE ${body(uid).length} BODY[] {${text.length}}\r\n${text})\r\n`;
        });
        say(`${step.uid ? 'UID ' : ''}FETCH ${set} (UID RFC822.SIZE BODY.PEEK[])`, ...responses);
        break;
      }
      case 'search':
        say('UID SEARCH ALL', `* SEARCH ${uids.join(' ')}\r\n`);
        break;
      case 'status':
        say('STATUS INBOX (UIDNEXT)', `* STATUS INBOX (UIDNEXT ${nextUid})\r\n`);
        break;
      case 'reselect':
        say('SELECT INBOX', `* ${uids.length} EXISTS\r\n`, '* OK [UIDVALIDITY 9] x\r\n', `* OK [UIDNEXT ${nextUid}] x\r\n`);
        break;
    }
  }
  return out;
}

/** Feeds the server side in chunks of the given sizes, so literals and lines get split. */
function check(exchanges: readonly { client: string; server: string }[], chunk: number): ImapInvariantChecker {
  const checker = new ImapInvariantChecker();
  for (const { client, server } of exchanges) {
    checker.clientBytes(client);
    for (let at = 0; at < server.length; at += chunk) checker.serverBytes(server.slice(at, at + chunk));
  }
  return checker;
}

describe('generated sessions', () => {
  it('a server that keeps the invariants draws no report, however its bytes are chunked', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (actions, chunk) => {
        expect(check(transcript(actions), chunk).violations).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a message whose body changes under its UID is reported', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), (actions) => {
        const exchanges = transcript(actions, 'body');
        const changed = exchanges.some(({ server }) => server.includes('(changed)'));
        fc.pre(changed);
        expect(check(exchanges, 7).violations.map((violation) => violation.rule)).toContain('message-changed');
      }),
      { numRuns: 300 },
    );
  });

  it('an expunged UID that comes back is reported once the client can see it', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), (actions) => {
        const exchanges = transcript([
          ...actions,
          { kind: 'arrive', count: 1, gap: 0 },
          { kind: 'fetch', uid: false, from: 0, length: 1000 },
          { kind: 'expunge', at: 0 },
          { kind: 'arrive', count: 1, gap: 0, reuseExpunged: true },
          { kind: 'search' },
        ]);
        expect(check(exchanges, 5).violations.map((violation) => violation.rule)).toContain('uid-reused');
      }),
      { numRuns: 200 },
    );
  });
});
