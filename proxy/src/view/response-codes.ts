/**
 * Which response codes (`* OK [CODE …]`) a client may receive in an injected INBOX: those of
 * IMAP4rev1 and of the extensions the proxy advertises (capabilities.ts), by allowlist. A code of
 * a hidden extension — `[HIGHESTMODSEQ]` (CONDSTORE), `[MAILBOXID]` (OBJECTID), `[URLMECH]`
 * (URLAUTH), `[ANNOTATIONS]` (ANNOTATE), or anything unknown — would describe the server's
 * mailbox, not the view, to a client that was told the extension is not there.
 *
 * Must never keep a code of an extension that is not advertised.
 */

import { taggedStatusCode, untaggedStatusCode } from '../response-code.js';

const ALLOWED_CODES = new Set([
  // RFC 3501
  'ALERT', 'BADCHARSET', 'CAPABILITY', 'PARSE', 'PERMANENTFLAGS', 'READ-ONLY', 'READ-WRITE', 'TRYCREATE',
  'UIDNEXT', 'UIDVALIDITY', 'UNSEEN',
  // UIDPLUS (rewritten by response-rewrite.ts)
  'APPENDUID', 'COPYUID', 'UIDNOTSTICKY',
  // RFC 5530: status only, no numbers
  'UNAVAILABLE', 'AUTHENTICATIONFAILED', 'AUTHORIZATIONFAILED', 'EXPIRED', 'PRIVACYREQUIRED', 'CONTACTADMIN',
  'NOPERM', 'INUSE', 'EXPUNGEISSUED', 'CORRUPTION', 'SERVERBUG', 'CLIENTBUG', 'CANNOT', 'LIMIT', 'OVERQUOTA',
  'ALREADYEXISTS', 'NONEXISTENT',
  // Advertised extensions and IMAP4rev2 status codes that carry no message numbers
  'REFERRAL', 'TOOBIG', 'USEATTR', 'METADATA', 'HASCHILDREN', 'CLOSED',
]);

/** True when `text` is an untagged status response (`* OK [HIGHESTMODSEQ 5] …`) whose code the
 *  client must not see in INBOX. */
export function hasHiddenResponseCode(text: string): boolean {
  const code = untaggedStatusCode(text);
  return code !== null && !ALLOWED_CODES.has(code);
}

/**
 * A command's completion without a code the client must not see in INBOX: Cyrus puts
 * `[HIGHESTMODSEQ n]` on the tagged OK of EXPUNGE and STORE even when CONDSTORE was never
 * enabled. The code goes, the status and text stay.
 */
export function withoutHiddenTaggedCode(line: Buffer): Buffer {
  const code = taggedStatusCode(line);
  if (code === null || ALLOWED_CODES.has(code.name)) return line;
  const rest = line[code.close] === 0x20 ? code.close + 1 : code.close;
  return Buffer.concat([line.subarray(0, code.open), line.subarray(rest)]);
}
