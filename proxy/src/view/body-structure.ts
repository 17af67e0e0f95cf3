/**
 * BODY and BODYSTRUCTURE values exactly as Dovecot 2.3 writes them
 * (src/lib-imap/imap-bodystructure.c and index-mail.c): type, subtype and parameter names in the
 * case the message used, text parts given a default charset of us-ascii, message/rfc822 parts
 * with the embedded envelope, sizes and line counts of the message as served (CRLF), and the
 * extension data (MD5, disposition, language, location) in BODYSTRUCTURE only.
 *
 * Must never describe a part differently from how BODY[section] serves it.
 */
import { asciiLower, nstring, nstringNoLf, type ByteString } from './imap-string.js';
import { writeEnvelope } from './envelope.js';
import type { MimePart } from './message-parser.js';
import { describePart, type PartData } from './message-part-data.js';
import type { MimeParameter } from './message-rfc822-parser.js';

const DEFAULT_CHARSET = 'us-ascii';
/** What a multipart without any part (no boundary line found) claims to contain. */
const EMPTY_BODY = `("text" "plain" ("charset" "${DEFAULT_CHARSET}") NIL NIL "7bit" 0 0)`;
const EMPTY_BODYSTRUCTURE = `("text" "plain" ("charset" "${DEFAULT_CHARSET}") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)`;

function params(list: readonly MimeParameter[], defaultCharset: boolean): ByteString {
  if (!defaultCharset && list.length === 0) return 'NIL';
  const items: ByteString[] = [];
  let seenCharset = false;
  for (const [name, value] of list) {
    if (defaultCharset && asciiLower(name) === 'charset') seenCharset = true;
    items.push(`${nstring(name)} ${nstring(value)}`);
  }
  if (defaultCharset && !seenCharset) items.push(`"charset" "${DEFAULT_CHARSET}"`);
  return `(${items.join(' ')})`;
}

/** Disposition, language and location: the extension data every part type shares. */
function commonExtension(data: PartData): ByteString {
  const disposition =
    data.contentDisposition === null ? 'NIL' : `(${nstring(data.contentDisposition)} ${params(data.contentDispositionParams, false)})`;
  const language = data.contentLanguage === null ? 'NIL' : `(${data.contentLanguage.map((tag) => nstring(tag)).join(' ')})`;
  return ` ${disposition} ${language} ${nstringNoLf(data.contentLocation)}`;
}

/** Dovecot flattens a part past its MIME limits; it then claims to be application/octet-stream. */
function isTruncated(part: MimePart, data: PartData): boolean {
  if (data.contentType !== null) {
    const type = asciiLower(data.contentType);
    if (type === 'message' && asciiLower(data.contentSubtype ?? '') === 'rfc822') return true;
    return type === 'multipart';
  }
  return part.parent?.flags.multipartDigest ?? false;
}

function writeSiblings(parts: readonly MimePart[], extended: boolean): ByteString {
  return parts.map((part) => `(${writePart(part, extended)})`).join('');
}

function writeMultipart(part: MimePart, data: PartData, extended: boolean): ByteString {
  let out = part.children.length > 0 ? writeSiblings(part.children, extended) : extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY;
  out += ` ${nstring(data.contentSubtype ?? '')}`;
  if (!extended) return out;
  return `${out} ${params(data.contentTypeParams, false)}${commonExtension(data)}`;
}

function writeSinglePart(part: MimePart, data: PartData, extended: boolean): ByteString {
  let out: ByteString;
  let text = false;
  if (part.flags.messageRfc822) {
    out = '"message" "rfc822"';
  } else if (isTruncated(part, data)) {
    out = '"application" "octet-stream"';
  } else if (data.contentType === null) {
    text = true;
    out = '"text" "plain"';
  } else {
    text = asciiLower(data.contentType) === 'text';
    out = `${nstring(data.contentType)} ${nstring(data.contentSubtype ?? '')}`;
  }
  out += ` ${params(data.contentTypeParams, text)}`;
  out += ` ${nstringNoLf(data.contentId)} ${nstringNoLf(data.contentDescription)}`;
  out += ` ${data.contentTransferEncoding === null ? '"7bit"' : nstring(data.contentTransferEncoding)}`;
  out += ` ${part.body.size}`;
  if (text) {
    out += ` ${part.body.lines}`;
  } else if (part.flags.messageRfc822) {
    const child = part.children[0]!;
    out += ` (${writeEnvelope(describePart(child).envelope)}) ${writeSiblings([child], extended)} ${part.body.lines}`;
  }
  if (!extended) return out;
  return `${out} ${nstringNoLf(data.contentMd5)}${commonExtension(data)}`;
}

function writePart(part: MimePart, extended: boolean): ByteString {
  const { data } = describePart(part);
  return part.flags.multipart ? writeMultipart(part, data, extended) : writeSinglePart(part, data, extended);
}

/**
 * message_part_data_is_plain_7bit: a lone text/plain us-ascii 7bit part with no extension data.
 * Once Dovecot has parsed such a message it caches only this fact and from then on answers with
 * a fixed, lower-case description; serving that form keeps us equal to its steady state.
 */
function isPlain7bit(root: MimePart, data: PartData): boolean {
  if (!root.flags.text || root.children.length > 0) return false;
  if (data.contentSubtype !== null && asciiLower(data.contentSubtype) !== 'plain') return false;
  const typeParams = data.contentTypeParams;
  if (typeParams.length > 1) return false;
  if (typeParams.length === 1 && (asciiLower(typeParams[0]![0]) !== 'charset' || asciiLower(typeParams[0]![1]) !== DEFAULT_CHARSET)) {
    return false;
  }
  if (data.contentId !== null || data.contentDescription !== null) return false;
  if (data.contentTransferEncoding !== null && asciiLower(data.contentTransferEncoding) !== '7bit') return false;
  return data.contentMd5 === null && data.contentDisposition === null && data.contentLanguage === null && data.contentLocation === null;
}

/** The BODY (extended = false) or BODYSTRUCTURE value, without the surrounding parentheses. */
export function writeBodyStructure(root: MimePart, extended: boolean): ByteString {
  const { data } = describePart(root);
  if (isPlain7bit(root, data)) {
    return `"text" "plain" ("charset" "${DEFAULT_CHARSET}") NIL NIL "7bit" ${root.body.size} ${root.body.lines}${extended ? ' NIL NIL NIL NIL' : ''}`;
  }
  return writePart(root, extended);
}
