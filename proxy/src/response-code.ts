/**
 * The response code of a server's untagged OK (`* OK [CODE …] text`, RFC 3501 §7.1), read by
 * position instead of matched by pattern. Codes decide what the proxy rewrites (COPYUID,
 * UIDNEXT, UIDVALIDITY); the text after them is free and never looked at.
 */

const SP = 0x20;
const LOWERCASE = 0x20;
/** Longer than any code name IMAP defines; a longer word is no code we act on. */
const MAX_CODE_NAME_BYTES = 32;

/** The code's name, upper-cased; null for a line that is not an untagged OK with a code. */
export function untaggedOkCode(line: Buffer): string | null {
  if (line[0] !== 0x2a /* * */ || line[1] !== SP || ((line[2] ?? 0) | LOWERCASE) !== 0x6f || ((line[3] ?? 0) | LOWERCASE) !== 0x6b) return null;
  if (line[4] !== SP || line[5] !== 0x5b /* [ */) return null;
  const start = 6;
  let end = start;
  while (end < line.length && end - start <= MAX_CODE_NAME_BYTES && isCodeNameChar(line[end]!)) end++;
  return end > start && end - start <= MAX_CODE_NAME_BYTES ? line.toString('latin1', start, end).toUpperCase() : null;
}

/** atom-char of a code name: anything visible but "]" and the atom-specials. */
function isCodeNameChar(byte: number): boolean {
  return byte > SP && byte < 0x7f && byte !== 0x5d && byte !== 0x28 && byte !== 0x29 && byte !== 0x7b && byte !== 0x22 && byte !== 0x25 && byte !== 0x2a && byte !== 0x5c;
}
