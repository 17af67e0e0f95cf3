/**
 * Rewrites the numbers in the server's INBOX responses into the client's numbering: the message
 * number of `* n FETCH`, the value of `UID n` inside a FETCH response (also in segments after a
 * literal), and the UIDs and UIDVALIDITY in response codes (APPENDUID, COPYUID, UIDNEXT,
 * UIDVALIDITY). Pure text work on one segment at a time.
 *
 * Must never touch bytes inside quoted strings or literals: a subject may say "UID 5".
 */
import { expandSmallSet, formatNumbers } from './sequence-set.js';
import { clientUidOfServer, clientUidValidity } from './inbox-map.js';
import { MAX_SCALABLE_SERVER_UID } from './uid-scale.js';

/** Where a FETCH response's top-level list is, between segments. */
export interface FetchScanState {
  /** Parenthesis depth inside the FETCH list: 1 is the top level. */
  depth: number;
  /** The previous top-level atom was UID: the next number is a UID. */
  afterUidKeyword: boolean;
}

export interface FetchHead {
  readonly serverSeq: number;
  /** Index of the "(" that opens the data list. */
  readonly listStart: number;
}

const FETCH_HEAD = /^\* (\d+) FETCH \(/i;
/** ` (n)` after a top-level MODSEQ item (RFC 7162: a 63-bit number). */
const MODSEQ_VALUE = /^ \(\d{1,20}\)/;

export function parseFetchHead(line: Buffer): FetchHead | null {
  const match = FETCH_HEAD.exec(line.toString('latin1', 0, Math.min(line.length, 32)));
  if (!match) return null;
  return { serverSeq: Number(match[1]), listStart: match[0].length - 1 };
}

/**
 * Rewrites `UID n` at the top level of a FETCH data list in `segment` from `start` on, scaling
 * the UID. Calls `onUid` with the server UID seen. Returns the new segment (or the same one).
 */
export function rewriteFetchUids(segment: Buffer, start: number, state: FetchScanState, onUid: (serverUid: number) => void): Buffer {
  const text = segment.toString('latin1');
  let out = '';
  let copiedTo = 0;
  let i = start;
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      i = skipQuoted(text, i);
      continue;
    }
    if (char === '(') state.depth++;
    else if (char === ')') state.depth--;
    else if (char === '{' || char === '\r' || char === '\n') break; // a literal or the end of the segment
    else if (state.depth === 1 && /[A-Za-z0-9]/.test(char)) {
      let end = i;
      while (end < text.length && !' ()[]{"\r\n'.includes(text[end]!)) end++;
      // A section like BODY[HEADER.FIELDS (A B)] nests brackets and parentheses: skip to "]".
      if (text[end] === '[') {
        end = text.indexOf(']', end);
        if (end === -1) break;
        end++;
        if (text[end] === '<') end = Math.max(end, text.indexOf('>', end) + 1);
      }
      const word = text.slice(i, end);
      const modseq = word.toUpperCase() === 'MODSEQ' ? MODSEQ_VALUE.exec(text.slice(end, end + 26)) : null;
      if (modseq !== null) {
        // CONDSTORE is hidden, yet a server may send MODSEQ once something enabled it (Cyrus
        // does mid-session): virtual messages have none, so no message shows one.
        let from = i;
        let to = end + modseq[0].length;
        if (text[from - 1] === ' ') from--;
        else if (text[to] === ' ') to++;
        out += text.slice(copiedTo, from);
        copiedTo = to;
        state.afterUidKeyword = false;
        i = to;
        continue;
      }
      if (state.afterUidKeyword && /^\d+$/.test(word)) {
        const serverUid = Number(word);
        onUid(serverUid);
        out += text.slice(copiedTo, i) + String(clientUidOfServer(serverUid));
        copiedTo = end;
        state.afterUidKeyword = false;
      } else {
        state.afterUidKeyword = word.toUpperCase() === 'UID';
      }
      i = end;
      continue;
    }
    i++;
  }
  if (copiedTo === 0) return segment;
  return Buffer.from(out + text.slice(copiedTo), 'latin1');
}

/**
 * Moves `UID n` to the front of a whole FETCH data list (a line without literals), where a server
 * put it later (Cyrus: `FLAGS (\Seen) UID 5`): clients read the UID first (ARCHITECTURE.md).
 * `listStart` is the index of the list's "(".
 */
export function uidFirst(line: Buffer, listStart: number): Buffer {
  // The common case (Dovecot, and Cyrus when UID was asked first) costs four byte comparisons.
  if (line[listStart + 1] === 0x55 && line[listStart + 2] === 0x49 && line[listStart + 3] === 0x44 && line[listStart + 4] === 0x20) return line;
  const text = line.toString('latin1');
  let depth = 0;
  let i = listStart;
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      i = skipQuoted(text, i);
      continue;
    }
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === '[') {
      // A section: skip to its "]" (it may hold parentheses of its own).
      const close = text.indexOf(']', i);
      if (close === -1) return line;
      i = close + 1;
      continue;
    } else if (depth === 1 && char === ' ') {
      const item = /^ UID (\d+)(?=[ )])/i.exec(text.slice(i, i + 16));
      if (item) {
        const moved = `UID ${item[1]} `;
        return Buffer.from(text.slice(0, listStart + 1) + moved + text.slice(listStart + 1, i) + text.slice(i + item[0].length), 'latin1');
      }
    }
    i++;
  }
  return line;
}

function skipQuoted(text: string, open: number): number {
  let i = open + 1;
  while (i < text.length) {
    if (text[i] === '\\') i += 2;
    else if (text[i] === '"') return i + 1;
    else i++;
  }
  return i;
}

/** Scales every UID of a set written by the server (APPENDUID, COPYUID). */
export function scaleUidSet(set: string): string {
  return formatNumbers(expandSmallSet(set).map(clientUidOfServer)) ?? set;
}

/**
 * Rewrites the response codes of a status response that carry INBOX UIDs:
 * `[UIDVALIDITY v]`, `[APPENDUID v uids]` (when the target is INBOX), `[COPYUID v src dst]`
 * (src scaled when the source is INBOX, dst when the target is). UIDNEXT is the caller's. UIDs
 * put into an INBOX past MAX_SCALABLE_SERVER_UID stay as the server gave them, under its own
 * UIDVALIDITY: that INBOX is shown untranslated from then on (`scalable`).
 */
export function rewriteUidCodes(
  line: string, options: { sourceIsInbox: boolean; targetIsInbox: boolean; stateEpochOf?: (serverUidValidity: number) => number },
): string {
  const shown = (validity: string): number => clientUidValidity(Number(validity), options.stateEpochOf?.(Number(validity)) ?? 0);
  return line
    .replace(/\[UIDVALIDITY (\d+)\]/i, (_, validity: string) => `[UIDVALIDITY ${shown(validity)}]`)
    .replace(/\[APPENDUID (\d+) ([0-9:,]+)\]/i, (whole, validity: string, uids: string) =>
      options.targetIsInbox && withinScale(uids) ? `[APPENDUID ${shown(validity)} ${scaleUidSet(uids)}]` : whole,
    )
    .replace(/\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]/i, (_, validity: string, source: string, target: string) => {
      const toInbox = options.targetIsInbox && withinScale(target);
      const shownValidity = toInbox ? shown(validity) : Number(validity);
      const shownSource = options.sourceIsInbox ? scaleUidSet(source) : source;
      const shownTarget = toInbox ? scaleUidSet(target) : target;
      return `[COPYUID ${shownValidity} ${shownSource} ${shownTarget}]`;
    });
}

function withinScale(set: string): boolean {
  return set.split(/[:,]/).every((uid) => Number(uid) <= MAX_SCALABLE_SERVER_UID);
}

/**
 * `answer` (a command's own last data, then its tagged completion) with `extra` — what changed
 * meanwhile — between the two: a server reports such changes after the data a command asked for.
 */
export function beforeCompletion(answer: Buffer, extra: Buffer): Buffer {
  const end = answer.length >= 2 && answer[answer.length - 1] === 0x0a ? answer.length - 1 : answer.length;
  const lastLine = answer.lastIndexOf(0x0a, end - 1) + 1;
  return Buffer.concat([answer.subarray(0, lastLine), extra, answer.subarray(lastLine)]);
}
