/**
 * Which upstream capabilities a client may see through the proxy, and the rewriting of the
 * places a capability list travels: `* CAPABILITY …`, `[CAPABILITY …]` response codes, and
 * `* ENABLED …`. By allowlist: an extension is advertised only where every command, response
 * code and data item of it is handled in an injected INBOX (or cannot touch INBOX messages at
 * all); any other — including ones no server had when this list was written — is hidden, and
 * ENABLE of it is answered as a server without it would. proxy/README.md lists every extension
 * of Dovecot 2.3 and Cyrus 3.6 and what happens to it.
 *
 * Must never let an unknown capability through: a new server version advertising something
 * new would otherwise reach clients unchecked (issue 11, item 10: Cyrus' XMOVE).
 */

/** Capabilities shown exactly as named (upper case). */
const ALLOWED_EXACT = new Set([
  'IMAP4REV1',
  'LITERAL+', // RFC 7888: framing only, the framers follow both forms
  'LITERAL-',
  'SASL-IR',
  'ID', // answered by the proxy with the client's ID forwarded (imap-id.ts)
  'ENABLE', // filtered by relay-commands.ts: nothing hidden gets enabled
  'IDLE', // the view idles for the client (inbox-commands.ts)
  'UNSELECT', // handled like CLOSE without expunge (inbox-commands.ts)
  'NAMESPACE', // mailbox level: no message numbers
  'LOGIN-REFERRALS',
  'MAILBOX-REFERRALS',
  'CHILDREN', // LIST attributes only
  'LIST-EXTENDED',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'UIDPLUS', // APPENDUID/COPYUID rewritten, UID EXPUNGE handled
  'MOVE', // handled with COPY (inbox-commands.ts)
  'MULTIAPPEND', // APPENDUID with a set, rewritten like a single one
  'I18NLEVEL=1', // the local SEARCH compares with i;unicode-casemap (search-unicode.ts)
  'ACL', // rights on mailboxes, not messages
  'LIST-MYRIGHTS',
  'QUOTA', // mailbox and quota-root level
  'METADATA', // per mailbox or server, never per message
  'METADATA-SERVER',
]);
/** Capabilities shown with any value after the "=". */
const ALLOWED_PREFIXES = [
  'AUTH=', // SASL mechanisms (pre-login lists are the proxy's own; after login they are inert)
  'RIGHTS=', // RFC 4314 rights letters
  'APPENDLIMIT=', // a size, nothing about numbering
];

/** The capabilities the proxy owns: never taken from the upstream's list. */
const PROXY_OWNED = new Set(['STARTTLS', 'LOGINDISABLED']);

export function isAllowedCapability(capability: string): boolean {
  const upper = capability.toUpperCase();
  if (PROXY_OWNED.has(upper)) return false;
  if (ALLOWED_EXACT.has(upper)) return true;
  return ALLOWED_PREFIXES.some((prefix) => upper.startsWith(prefix) && upper.length > prefix.length);
}

/** Filters an upstream capability list as seen after login. */
export function visibleCapabilities(capabilities: readonly string[]): string[] {
  return capabilities.filter(isAllowedCapability);
}

const CAPABILITY_WORD = Buffer.from('CAPABILITY ');
const OK_CAPABILITY_CODE = Buffer.from('OK [CAPABILITY ');
const ENABLED_WORD = Buffer.from('ENABLED');

function startsWithIgnoringCase(line: Buffer, at: number, word: Buffer): boolean {
  if (line.length < at + word.length) return false;
  for (let i = 0; i < word.length; i++) {
    let byte = line[at + i]!;
    if (byte >= 0x61 && byte <= 0x7a) byte -= 0x20;
    if (byte !== word[i]) return false;
  }
  return true;
}

/**
 * Rewrites a server line that carries a capability list; returns null for every other line.
 * Called on the hot path, so it looks at a few bytes before it allocates anything.
 * `afterTag` is the index just past "tag SP" (2 for untagged lines).
 */
export function rewriteCapabilityLine(line: Buffer, afterTag: number): Buffer | null {
  const untagged = afterTag === 2 && line[0] === 0x2a;
  if (untagged && startsWithIgnoringCase(line, 2, CAPABILITY_WORD)) {
    const end = lineEnd(line);
    const list = line.toString('latin1', 2 + CAPABILITY_WORD.length, end).split(' ').filter(Boolean);
    return Buffer.from(`* CAPABILITY ${visibleCapabilities(list).join(' ')}\r\n`, 'latin1');
  }
  if (startsWithIgnoringCase(line, afterTag, OK_CAPABILITY_CODE)) {
    const listStart = afterTag + OK_CAPABILITY_CODE.length;
    const close = line.indexOf(0x5d /* ] */, listStart);
    if (close === -1) return null;
    const list = line.toString('latin1', listStart, close).split(' ').filter(Boolean);
    const head = line.toString('latin1', 0, afterTag);
    const rest = line.toString('latin1', close, line.length);
    return Buffer.from(`${head}OK [CAPABILITY ${visibleCapabilities(list).join(' ')}${rest}`, 'latin1');
  }
  if (untagged && startsWithIgnoringCase(line, 2, ENABLED_WORD)) {
    const end = lineEnd(line);
    const list = line.toString('latin1', 2 + ENABLED_WORD.length, end).split(' ').filter(Boolean);
    const kept = list.filter(isAllowedCapability);
    return kept.length === list.length ? null : Buffer.from(`* ENABLED${kept.map((c) => ` ${c}`).join('')}\r\n`, 'latin1');
  }
  return null;
}

/** Parses the capabilities out of a greeting or tagged line's [CAPABILITY …] code, if any. */
export function capabilityCodeOf(text: string): string[] | null {
  const match = /\[CAPABILITY ([^\]]*)\]/i.exec(text);
  return match ? match[1]!.split(' ').filter(Boolean) : null;
}

function lineEnd(line: Buffer): number {
  let end = line.length;
  if (line[end - 1] === 0x0a) end--;
  if (line[end - 1] === 0x0d) end--;
  return end;
}
