/**
 * Which upstream capabilities a client may see through the proxy, and the rewriting of the
 * places a capability list travels: `* CAPABILITY …`, `[CAPABILITY …]` response codes, and
 * `* ENABLED …`. Extensions whose semantics the proxy does not (yet) keep consistent with the
 * INBOX it shows are hidden, and ENABLE of them is answered as if they did not exist.
 */

/**
 * Hidden because they change message numbering, response shapes or the stream itself in ways
 * the INBOX rewriting does not handle yet (ARCHITECTURE.md). Prefix entries end with "=".
 */
const HIDDEN_EXACT = new Set([
  'CONDSTORE', // MODSEQ per message: virtual messages would need their own
  'QRESYNC', // VANISHED instead of EXPUNGE, resync by UID sets
  'ESORT',
  'NOTIFY', // unsolicited responses for other mailboxes at any time
  'SEARCHRES', // "$" refers to a server-side result the proxy cannot see
  'PARTIAL', // paged ESEARCH results count virtual messages wrongly
  'OBJECTID', // EMAILID/THREADID for virtual messages
  'BINARY', // decoded fetches of virtual bodies; literal8 in APPEND
  'MULTISEARCH',
  'IMAP4REV2', // changes EXPUNGE/SEARCH/FETCH semantics for the whole session once enabled
  'ESEARCH', // SEARCH RETURN (…) answers with sets and counts the INBOX view would have to recompute
  'LIST-STATUS', // STATUS of INBOX inside LIST responses: counts without the virtual messages
  'CATENATE', // APPEND parts by IMAP URL: UIDs of INBOX messages the server does not have
  'URLAUTH', // URLs naming INBOX UIDs
  'WITHIN', // OLDER/YOUNGER search keys, not evaluated on virtual messages
  'PREVIEW', // FETCH PREVIEW of virtual messages
  'SAVEDATE', // FETCH SAVEDATE of virtual messages
  'UTF8=ACCEPT', // would change how strings of virtual messages must be sent
]);
const HIDDEN_PREFIXES = [
  'SORT', // SORT and SORT=DISPLAY
  'THREAD=',
  'CONTEXT=',
  'COMPRESS=', // would turn the stream into deflate: the framer could no longer read it
  'SEARCH=', // SEARCH=FUZZY: relevancy scores for virtual messages
  'SNIPPET=', // FETCH SNIPPET of virtual messages
  'STATUS=', // STATUS=SIZE: the INBOX size without the virtual messages
];

/** The capabilities the proxy owns: never taken from the upstream's list. */
const PROXY_OWNED = new Set(['STARTTLS', 'LOGINDISABLED']);

export function isHiddenCapability(capability: string): boolean {
  const upper = capability.toUpperCase();
  if (HIDDEN_EXACT.has(upper)) return true;
  return HIDDEN_PREFIXES.some((prefix) => upper === prefix || upper.startsWith(prefix.endsWith('=') ? prefix : `${prefix}=`));
}

/** Filters an upstream capability list as seen after login. */
export function visibleCapabilities(capabilities: readonly string[]): string[] {
  return capabilities.filter((capability) => !isHiddenCapability(capability) && !PROXY_OWNED.has(capability.toUpperCase()));
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
    const kept = list.filter((capability) => !isHiddenCapability(capability));
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
