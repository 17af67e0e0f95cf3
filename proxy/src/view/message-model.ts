/**
 * A virtual message as the IMAP server would show it: given the RFC 822 bytes the proxy holds,
 * the FETCH data Dovecot 2.3 would send for the same bytes APPENDed to a real mailbox —
 * RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, BODY[section]<partial>, RFC822, RFC822.HEADER and
 * RFC822.TEXT, each formatted as Dovecot writes it.
 *
 * Dovecot stores an APPENDed message with bare LFs (CRLF → LF; a CR directly before a CRLF is
 * lost, a CR at the very end too) and serves it with CRLF line ends; every size and section
 * here refers to that served form, which `bytes` holds.
 *
 * Pure and dependency-free: must never do I/O, never hold per-session state, and never answer
 * differently from the real server for the same bytes (test/integration/message-model-dovecot
 * compares it with a real Dovecot).
 */
import { writeBodyStructure } from './body-structure.js';
import { writeEnvelope } from './envelope.js';
import type { FetchItem } from './fetch-items.js';
import { literal, type ByteString } from './imap-string.js';
import { parseMimeStructure, type MimePart } from './message-parser.js';
import { messageEnvelope } from './message-part-data.js';
import { listPartNumbers, sectionContent, type BodySection, type Partial } from './message-sections.js';

const CR = 0x0d;
const LF = 0x0a;

/**
 * The bytes Dovecot serves after an APPEND of `raw` (mail_save_crlf=no, the default): saved
 * through its LF filter (CRLF → LF, "\r\r\n" → "\r\n", a final lone CR dropped), read back
 * through its CRLF filter (every LF gets a CR unless one precedes it).
 */
export function servedForm(raw: Buffer): Buffer {
  if (isCrlfClean(raw)) return raw;
  // Saved: CRLF → LF, a CR kept only when something other than LF follows it.
  const stored = Buffer.allocUnsafe(raw.length);
  let storedLength = 0;
  let pendingCr = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (byte === CR) {
      if (pendingCr) stored[storedLength++] = CR;
      pendingCr = true;
      continue;
    }
    if (pendingCr && byte !== LF) stored[storedLength++] = CR;
    pendingCr = false;
    stored[storedLength++] = byte;
  }
  // Served: a CR before every LF that lacks one.
  const served = Buffer.allocUnsafe(storedLength * 2);
  let servedLength = 0;
  for (let i = 0; i < storedLength; i++) {
    const byte = stored[i]!;
    if (byte === LF && (servedLength === 0 || served[servedLength - 1] !== CR)) served[servedLength++] = CR;
    served[servedLength++] = byte;
  }
  return served.subarray(0, servedLength);
}

/** Every CR is followed by LF and every LF preceded by CR (what MailComposer writes): served as is. */
function isCrlfClean(raw: Buffer): boolean {
  for (let cr = raw.indexOf(CR); cr >= 0; cr = raw.indexOf(CR, cr + 1)) {
    if (raw[cr + 1] !== LF) return false;
  }
  for (let lf = raw.indexOf(LF); lf >= 0; lf = raw.indexOf(LF, lf + 1)) {
    if (raw[lf - 1] !== CR) return false;
  }
  return true;
}

export class MessageModel {
  private envelopeText: ByteString | null = null;
  private bodyText: ByteString | null = null;
  private bodyStructureText: ByteString | null = null;

  private constructor(
    /** The served form, one byte per character. */
    private readonly data: ByteString,
    private readonly root: MimePart,
  ) {}

  /** Models the message Dovecot would store for these APPENDed bytes. */
  static parse(raw: Buffer): MessageModel {
    const data = servedForm(raw).toString('latin1');
    return new MessageModel(data, parseMimeStructure(data));
  }

  /** RFC822.SIZE: the size of the served form. */
  get size(): number {
    return this.data.length;
  }

  /** The message exactly as BODY[] serves it. */
  get bytes(): Buffer {
    return Buffer.from(this.data, 'latin1');
  }

  /** The parenthesised ENVELOPE value. */
  envelope(): Buffer {
    this.envelopeText ??= `(${writeEnvelope(messageEnvelope(this.root))})`;
    return Buffer.from(this.envelopeText, 'latin1');
  }

  /** The parenthesised BODY (extensible = false) or BODYSTRUCTURE (extensible = true) value. */
  bodyStructure(extensible: boolean): Buffer {
    if (extensible) this.bodyStructureText ??= `(${writeBodyStructure(this.root, true)})`;
    else this.bodyText ??= `(${writeBodyStructure(this.root, false)})`;
    return Buffer.from((extensible ? this.bodyStructureText : this.bodyText)!, 'latin1');
  }

  /** Every part number BODY[n.n...] can name, in IMAP numbering. */
  partNumbers(): number[][] {
    return listPartNumbers(this.root);
  }

  /** The bytes of BODY[section]<partial> (NUL already replaced by 0x80). */
  section(section: BodySection, partial: Partial | null = null): Buffer {
    return Buffer.from(sectionContent(this.data, this.root, section, partial), 'latin1');
  }

  /**
   * One item of a FETCH response as Dovecot writes it (`ENVELOPE (...)`, `BODY[1]<0> {12}\r\n...`);
   * null for items whose value is not in the message: UID, FLAGS, INTERNALDATE and the ones
   * the proxy does not serve.
   */
  fetchItem(item: FetchItem): Buffer | null {
    const text = this.fetchItemText(item);
    return text === null ? null : Buffer.from(text, 'latin1');
  }

  private fetchItemText(item: FetchItem): ByteString | null {
    const whole: BodySection = { part: [], text: { kind: 'all' } };
    switch (item.kind) {
      case 'uid':
      case 'flags':
      case 'internaldate':
      case 'unsupported':
        return null;
      case 'rfc822.size':
        return `RFC822.SIZE ${this.size}`;
      case 'envelope':
        return `ENVELOPE ${this.envelope().toString('latin1')}`;
      case 'body':
        return `BODY ${this.bodyStructure(false).toString('latin1')}`;
      case 'bodystructure':
        return `BODYSTRUCTURE ${this.bodyStructure(true).toString('latin1')}`;
      case 'rfc822':
        return `RFC822 ${literal(sectionContent(this.data, this.root, whole, null))}`;
      case 'rfc822.header':
        return `RFC822.HEADER ${literal(sectionContent(this.data, this.root, { part: [], text: { kind: 'header' } }, null))}`;
      case 'rfc822.text':
        return `RFC822.TEXT ${literal(sectionContent(this.data, this.root, { part: [], text: { kind: 'text' } }, null))}`;
      case 'body-section':
        return `${item.responseName} ${literal(sectionContent(this.data, this.root, item.section, item.partial))}`;
    }
  }
}
