/**
 * The ENVELOPE value exactly as Dovecot 2.3 writes it (src/lib-imap/imap-envelope.c): date,
 * message-id and in-reply-to as nstrings with folds removed, subject and display names "for
 * humans" (whitespace collapsed, literal when changed), Sender and Reply-To falling back to
 * From, and address lists without spaces between addresses.
 *
 * Must never decode encoded words or reformat dates: clients expect the server's raw view.
 */
import { nstring, nstringNoLf, stringForHumans, type ByteString } from './imap-string.js';
import type { MessageAddress } from './message-address.js';
import type { EnvelopeData } from './message-part-data.js';

function addressList(addresses: readonly MessageAddress[] | null): ByteString {
  if (addresses === null || addresses.length === 0) return 'NIL';
  let out = '(';
  for (const address of addresses) {
    out += `(${address.name === null ? 'NIL' : stringForHumans(address.name)} ${nstring(address.route)} ${nstring(address.mailbox)} ${nstring(address.domain)})`;
  }
  return `${out})`;
}

/** The envelope's items, without the surrounding parentheses (as Dovecot caches it). */
export function writeEnvelope(envelope: EnvelopeData | null): ByteString {
  if (envelope === null) return 'NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL';
  return [
    nstringNoLf(envelope.date),
    envelope.subject === null ? 'NIL' : stringForHumans(envelope.subject),
    addressList(envelope.from),
    addressList(envelope.sender ?? envelope.from),
    addressList(envelope.replyTo ?? envelope.from),
    addressList(envelope.to),
    addressList(envelope.cc),
    addressList(envelope.bcc),
    nstringNoLf(envelope.inReplyTo),
    nstringNoLf(envelope.messageId),
  ].join(' ');
}
