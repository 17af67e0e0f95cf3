/**
 * What Dovecot 2.3 reads from a part's headers for BODYSTRUCTURE and ENVELOPE
 * (src/lib-mail/message-part-data.c): Content-Type and its parameters, transfer encoding, id,
 * description, MD5, disposition, language, location, and the envelope fields. First header
 * wins for most fields, addresses from repeated headers are merged, and Content-* headers of a
 * part that is not MIME are forgotten — all as Dovecot does.
 *
 * Must never decode values (encoded words, RFC 2231) or change their case.
 */
import { asciiLower, type ByteString } from './imap-string.js';
import { parseAddressList, type MessageAddress } from './message-address.js';
import { headerNameForMatching, headerValueString, type HeaderField } from './message-header.js';
import type { MimePart } from './message-parser.js';
import { Rfc822Parser, parseMimeParameters, type MimeParameter } from './message-rfc822-parser.js';

export interface EnvelopeData {
  date: ByteString | null;
  subject: ByteString | null;
  from: MessageAddress[] | null;
  sender: MessageAddress[] | null;
  replyTo: MessageAddress[] | null;
  to: MessageAddress[] | null;
  cc: MessageAddress[] | null;
  bcc: MessageAddress[] | null;
  inReplyTo: ByteString | null;
  messageId: ByteString | null;
}

export interface PartData {
  contentType: ByteString | null;
  contentSubtype: ByteString | null;
  contentTypeParams: MimeParameter[];
  contentTransferEncoding: ByteString | null;
  contentId: ByteString | null;
  contentDescription: ByteString | null;
  contentMd5: ByteString | null;
  contentDisposition: ByteString | null;
  contentDispositionParams: MimeParameter[];
  contentLanguage: ByteString[] | null;
  contentLocation: ByteString | null;
}

function emptyPartData(): PartData {
  return {
    contentType: null,
    contentSubtype: null,
    contentTypeParams: [],
    contentTransferEncoding: null,
    contentId: null,
    contentDescription: null,
    contentMd5: null,
    contentDisposition: null,
    contentDispositionParams: [],
    contentLanguage: null,
    contentLocation: null,
  };
}

export function emptyEnvelope(): EnvelopeData {
  return { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
}

type EnvelopeStringField = 'date' | 'subject' | 'inReplyTo' | 'messageId';
type EnvelopeAddressField = 'from' | 'sender' | 'replyTo' | 'to' | 'cc' | 'bcc';

const ENVELOPE_FIELDS: ReadonlyMap<string, EnvelopeStringField | EnvelopeAddressField> = new Map([
  ['date', 'date'],
  ['subject', 'subject'],
  ['in-reply-to', 'inReplyTo'],
  ['message-id', 'messageId'],
  ['from', 'from'],
  ['sender', 'sender'],
  ['reply-to', 'replyTo'],
  ['to', 'to'],
  ['cc', 'cc'],
  ['bcc', 'bcc'],
]);

/** message_part_envelope_parse_from_header for one complete field. */
export function addEnvelopeField(envelope: EnvelopeData, field: HeaderField): void {
  const key = ENVELOPE_FIELDS.get(asciiLower(headerNameForMatching(field.name)));
  switch (key) {
    case undefined:
      return;
    case 'date':
    case 'subject':
    case 'inReplyTo':
    case 'messageId':
      // The last of repeated headers wins.
      envelope[key] = headerValueString(field.value);
      return;
    case 'from':
    case 'sender':
    case 'replyTo':
    case 'to':
    case 'cc':
    case 'bcc': {
      // Repeated headers merge as if comma-separated, so a second From cannot hide behind the
      // first (Dovecot's security reasoning).
      const addresses = parseAddressList(field.value);
      if (addresses.length === 0) return;
      envelope[key] = [...(envelope[key] ?? []), ...addresses];
      return;
    }
  }
}

function parseContentType(data: PartData, value: ByteString): void {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const contentType = { value: '' };
  const ret = parser.parseContentType(contentType);
  const slash = contentType.value.indexOf('/');
  if (slash >= 0) {
    data.contentType = contentType.value.slice(0, slash);
    data.contentSubtype = contentType.value.slice(slash + 1);
  } else {
    // Broken: kept as well as it could be read, so it is not mistaken for text/plain.
    data.contentType = contentType.value;
    data.contentSubtype = '';
  }
  if (ret < 0) return;
  data.contentTypeParams = parseMimeParameters(parser);
}

function parseTransferEncoding(data: PartData, value: ByteString): void {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const token = { value: '' };
  if (parser.parseMimeToken(token) >= 0 && parser.skipLwsp() === 0 && token.value.length > 0) {
    data.contentTransferEncoding = token.value;
  }
}

function parseDisposition(data: PartData, value: ByteString): void {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const token = { value: '' };
  if (parser.parseMimeToken(token) < 0) return;
  data.contentDisposition = token.value;
  data.contentDispositionParams = parseMimeParameters(parser);
}

function parseLanguage(data: PartData, value: ByteString): void {
  const parser = new Rfc822Parser(value);
  const languages: ByteString[] = [];
  parser.skipLwsp();
  for (;;) {
    const language = { value: '' };
    if (parser.parseAtom(language) < 0) break;
    languages.push(language.value);
    if (parser.pos >= parser.end || parser.data[parser.pos] !== ',') break;
    parser.pos++;
    parser.skipLwsp();
  }
  if (languages.length > 0) data.contentLanguage = languages;
}

function addContentField(data: PartData, name: ByteString, value: ByteString): void {
  switch (asciiLower(name.slice('content-'.length))) {
    case 'id':
      data.contentId ??= headerValueString(value);
      break;
    case 'md5':
      data.contentMd5 ??= headerValueString(value);
      break;
    case 'type':
      if (data.contentType === null) parseContentType(data, value);
      break;
    case 'transfer-encoding':
      if (data.contentTransferEncoding === null) parseTransferEncoding(data, value);
      break;
    case 'language':
      if (data.contentLanguage === null) parseLanguage(data, value);
      break;
    case 'location':
      data.contentLocation ??= headerValueString(value);
      break;
    case 'description':
      data.contentDescription ??= headerValueString(value);
      break;
    case 'disposition':
      // Dovecot tests the parameter list, not the value: a later header replaces a first one
      // that had no parameters.
      if (data.contentDispositionParams.length === 0) parseDisposition(data, value);
      break;
  }
}

export interface PartDescription {
  readonly data: PartData;
  /** Only for the child of a message/rfc822 part: the embedded message's envelope. */
  readonly envelope: EnvelopeData | null;
}

/** message_part_data_parse_from_header over all of a part's header fields. */
export function describePart(part: MimePart): PartDescription {
  const data = emptyPartData();
  const parentIsMessage = part.parent?.flags.messageRfc822 ?? false;
  let envelope: EnvelopeData | null = null;
  for (const field of part.fields) {
    const name = headerNameForMatching(field.name);
    if (asciiLower(name.slice(0, 8)) === 'content-') addContentField(data, name, field.value);
    if (parentIsMessage) addEnvelopeField((envelope ??= emptyEnvelope()), field);
  }
  // Without MIME-Version or Content-Type, the other Content-* headers do not count.
  return { data: part.flags.isMime ? data : emptyPartData(), envelope };
}

/** The envelope of the message itself (the root part), from its header fields. */
export function messageEnvelope(root: MimePart): EnvelopeData {
  const envelope = emptyEnvelope();
  for (const field of root.fields) addEnvelopeField(envelope, field);
  return envelope;
}
