/**
 * Where a client command ends, agreed with the server. A literal announced at the end of a line
 * is data only if the server reads that command's arguments: Dovecot 2.3 never reads them for
 * NOOP, CHECK, CAPABILITY, CLOSE, EXPUNGE, UNSELECT, NAMESPACE, IDLE or a command it does not
 * know, and takes the literal's bytes for the next command (measured against the test Dovecot;
 * test/integration/proxy-hostile.test.ts). It parses a size of any number of digits (leading
 * zeros included), disconnects with "BYE Literal size too large" for one beyond what its line
 * can hold (imap_max_line_length, 64 KiB; APPEND excepted), and answers BAD for a malformed one
 * ({-1}, {5 +}), after which the next line is a command.
 *
 * The proxy therefore lets a literal go upstream only on the commands below, whose arguments
 * every IMAP server reads; on any other it answers BAD itself and forwards nothing, so both
 * sides read the bytes that follow as the next command. It must never forward a line whose
 * literal the server might read differently.
 */

/** Commands (after login) whose arguments a server reads in full, so their literals are data. */
const LITERAL_COMMANDS: ReadonlySet<string> = new Set([
  'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE', 'LIST', 'LSUB', 'XLIST',
  'STATUS', 'APPEND', 'SEARCH', 'FETCH', 'STORE', 'COPY', 'MOVE', 'ENABLE', 'ID',
]);
/** UID + these: the UID forms of the commands above (RFC 3501, UIDPLUS, MOVE). */
const UID_LITERAL_COMMANDS: ReadonlySet<string> = new Set(['FETCH', 'STORE', 'SEARCH', 'COPY', 'MOVE', 'EXPUNGE']);

/**
 * The largest APPEND message the proxy relays: sizes beyond this are not exact in a JavaScript
 * number, and no mail server stores messages anywhere near 8 PiB.
 */
export const MAX_APPEND_LITERAL_BYTES = Number.MAX_SAFE_INTEGER;

const SP = 0x20;

function isAtomByte(byte: number): boolean {
  return byte > SP && byte < 0x7f && byte !== 0x28 && byte !== 0x29 && byte !== 0x7b && byte !== 0x22 && byte !== 0x25 && byte !== 0x2a && byte !== 0x5c;
}

/** The upper-cased word starting at `from` after spaces, or "" when there is none. */
function wordAt(line: Buffer, from: number): string {
  let start = from;
  while (line[start] === SP) start++;
  let end = start;
  while (end < line.length && end - start <= 32 && isAtomByte(line[end]!)) end++;
  return line.toString('latin1', start, end).toUpperCase();
}

export type LiteralCommand = 'append' | 'other';

/**
 * Whether a command (its first line, `nameEnd` just after the command name) may carry literals
 * upstream: 'append' for APPEND (whose message may be large), 'other' for the rest, null when a
 * literal on it must be refused.
 */
export function literalCommandOf(name: string, line: Buffer, nameEnd: number): LiteralCommand | null {
  if (name === 'UID') return UID_LITERAL_COMMANDS.has(wordAt(line, nameEnd)) ? 'other' : null;
  if (!LITERAL_COMMANDS.has(name)) return null;
  return name === 'APPEND' ? 'append' : 'other';
}

/** The largest literal the server takes on such a command, as Dovecot limits it. */
export function literalLimit(command: LiteralCommand, maxLineBytes: number): number {
  return command === 'append' ? MAX_APPEND_LITERAL_BYTES : maxLineBytes;
}
