/**
 * The response code of a server's untagged status response (`* OK [CODE …] text`, also NO and
 * BAD; RFC 3501 §7.1), read by position instead of matched by pattern. Codes decide what the proxy
 * rewrites (COPYUID, UIDNEXT, UIDVALIDITY) and what it keeps from clients (view/response-codes.ts);
 * the text after them is free and never looked at. Takes the line as bytes or as latin1 text,
 * whichever the caller already holds, so no caller converts a line just to ask.
 */

const SP = 0x20;
const LOWERCASE = 0x20;
/** Longer than any code name IMAP defines; a longer word is no code we act on. */
const MAX_CODE_NAME_BYTES = 32;

type Line = Buffer | string;

const byteAt = (line: Line, index: number): number => (typeof line === 'string' ? (index < line.length ? line.charCodeAt(index) : 0) : (line[index] ?? 0));

/** The code's name, upper-cased, after `* <status> [`; null when the line is no such response. */
function codeAfterStatus(line: Line, status: 'OK' | 'NO' | 'BAD'): string | null {
  if (byteAt(line, 0) !== 0x2a /* * */ || byteAt(line, 1) !== SP) return null;
  for (let i = 0; i < status.length; i++) if ((byteAt(line, 2 + i) | LOWERCASE) !== (status.charCodeAt(i) | LOWERCASE)) return null;
  const open = 2 + status.length;
  if (byteAt(line, open) !== SP || byteAt(line, open + 1) !== 0x5b /* [ */) return null;
  const start = open + 2;
  let end = start;
  while (end < line.length && end - start <= MAX_CODE_NAME_BYTES && isCodeNameChar(byteAt(line, end))) end++;
  if (end === start || end - start > MAX_CODE_NAME_BYTES) return null;
  return (typeof line === 'string' ? line.slice(start, end) : line.toString('latin1', start, end)).toUpperCase();
}

/** The code of an untagged OK; null for a line that is not an untagged OK with a code. */
export function untaggedOkCode(line: Line): string | null {
  return codeAfterStatus(line, 'OK');
}

/** The code of an untagged OK, NO or BAD; null for a line that is none of them with a code. */
export function untaggedStatusCode(line: Line): string | null {
  return codeAfterStatus(line, 'OK') ?? codeAfterStatus(line, 'NO') ?? codeAfterStatus(line, 'BAD');
}

/**
 * The code of a tagged OK, NO or BAD (`tag OK [CODE …] text`) with where its brackets are: `open`
 * is the index of "[", `close` the index just past "]". Null for a line without a code.
 */
export function taggedStatusCode(line: Buffer): { name: string; open: number; close: number } | null {
  const tagEnd = line.indexOf(SP);
  if (tagEnd <= 0 || line[0] === 0x2a /* * */ || line[0] === 0x2b /* + */) return null;
  const statusEnd = line.indexOf(SP, tagEnd + 1);
  if (statusEnd < 0 || line[statusEnd + 1] !== 0x5b /* [ */) return null;
  const status = line.toString('latin1', tagEnd + 1, statusEnd).toUpperCase();
  if (status !== 'OK' && status !== 'NO' && status !== 'BAD') return null;
  const start = statusEnd + 2;
  let end = start;
  while (end < line.length && end - start <= MAX_CODE_NAME_BYTES && isCodeNameChar(line[end]!)) end++;
  if (end === start || end - start > MAX_CODE_NAME_BYTES) return null;
  const close = line.indexOf(0x5d /* ] */, end);
  if (close < 0) return null;
  return { name: line.toString('latin1', start, end).toUpperCase(), open: statusEnd + 1, close: close + 1 };
}

/** atom-char of a code name: anything visible but "]" and the atom-specials. */
function isCodeNameChar(byte: number): boolean {
  return byte > SP && byte < 0x7f && byte !== 0x5d && byte !== 0x28 && byte !== 0x29 && byte !== 0x7b && byte !== 0x22 && byte !== 0x25 && byte !== 0x2a && byte !== 0x5c;
}
