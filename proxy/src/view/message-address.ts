/**
 * Address-list parsing for ENVELOPE as Dovecot 2.3 does it (src/lib-mail/message-address.c with
 * MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING): display names, routes, groups (a group start is an
 * address with only a mailbox, its end an all-NIL address) and Dovecot's placeholders for broken
 * input (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR, INVALID_ROUTE). SEARCH's FROM/TO/CC/BCC
 * parse with it too (search-header-values.ts), as Dovecot's do. Must never decode encoded words
 * or otherwise tidy what the header said: clients expect the server's raw view.
 */
import type { ByteString } from './imap-string.js';
import { NUL_REPLACEMENT, Rfc822Parser, type StringBuffer } from './message-rfc822-parser.js';

export interface MessageAddress {
  name: ByteString | null;
  route: ByteString | null;
  mailbox: ByteString | null;
  domain: ByteString | null;
  invalidSyntax: boolean;
}

function emptyAddress(): MessageAddress {
  return { name: null, route: null, mailbox: null, domain: null, invalidSyntax: false };
}

class AddressParser {
  readonly parser: Rfc822Parser;
  readonly addresses: MessageAddress[] = [];
  addr = emptyAddress();
  readonly str: StringBuffer = { value: '' };

  constructor(value: ByteString) {
    this.parser = new Rfc822Parser(value, true);
    this.parser.nulReplacement = NUL_REPLACEMENT;
  }

  /** The byte at the cursor, or '' past the end (where C reads the terminating NUL). */
  private here(): string {
    return this.parser.data[this.parser.pos] ?? '';
  }

  private addAddress(): void {
    this.addresses.push(this.addr);
    this.addr = emptyAddress();
  }

  private parseNonStrictDotAtom(out: StringBuffer): number {
    const parser = this.parser;
    let ret = -1;
    do {
      while (this.here() === '.') {
        out.value += '.';
        parser.pos++;
        // "@domain" is missing, but the local part was read fine.
        if (parser.pos === parser.end) return 0;
        ret = 1;
      }
      if (this.here() === '@') break;
      ret = parser.parseAtom(out);
    } while (ret > 0 && this.here() === '.');
    return ret;
  }

  private parseLocalPart(): number {
    this.str.value = '';
    const ret = this.here() === '"' ? this.parser.parseQuotedString(this.str) : this.parseNonStrictDotAtom(this.str);
    if (ret < 0) return -1;
    this.addr.mailbox = this.str.value;
    return ret;
  }

  private parseDomain(): number {
    this.str.value = '';
    const ret = this.parser.parseDomain(this.str);
    if (ret < 0) return -1;
    this.addr.domain = this.str.value;
    return ret;
  }

  private parseDomainList(): number {
    const parser = this.parser;
    this.str.value = '';
    for (;;) {
      if (parser.pos >= parser.end) return 0;
      if (this.here() !== '@') break;
      if (this.str.value.length > 0) this.str.value += ',';
      this.str.value += '@';
      const ret = parser.parseDomain(this.str);
      if (ret <= 0) return ret;
      while (parser.skipLwsp() > 0 && this.here() === ',') parser.pos++;
    }
    this.addr.route = this.str.value;
    return 1;
  }

  private parseAngleAddr(): number {
    const parser = this.parser;
    parser.pos++;
    if (parser.skipLwsp() <= 0) return -1;
    if (this.here() === '@') {
      if (this.parseDomainList() > 0 && this.here() === ':') {
        parser.pos++;
      } else {
        this.addr.route = 'INVALID_ROUTE';
        if (parser.pos >= parser.end) return -1;
      }
      if (parser.skipLwsp() <= 0) return -1;
    }
    if (this.here() !== '>') {
      if (this.parseLocalPart() <= 0) return -1;
      if (this.here() === '@' && this.parseDomain() <= 0) return -1;
    }
    if (this.here() !== '>') return -1;
    parser.pos++;
    return parser.skipLwsp();
  }

  private parseNameAddr(): number {
    const parser = this.parser;
    this.str.value = '';
    if (parser.parsePhrase(this.str) <= 0 || this.here() !== '<') return -1;
    // "<address>" without a display name has no name.
    this.addr.name = this.str.value === '' ? null : this.str.value;
    if (this.parseAngleAddr() < 0) {
      this.addr.domain = 'SYNTAX_ERROR';
      this.addr.invalidSyntax = true;
    }
    return parser.pos < parser.end ? 1 : 0;
  }

  private parseAddrSpec(): number {
    const parser = this.parser;
    parser.lastComment = '';
    const quotedString = this.here() === '"';
    let ret = this.parseLocalPart();
    let domainRet = -2;
    if (ret <= 0) this.addr.invalidSyntax = true;
    if (ret !== 0 && parser.pos < parser.end && this.here() === '@') {
      domainRet = this.parseDomain();
      if (domainRet <= 0) ret = domainRet;
    }
    if (parser.lastComment !== null && parser.lastComment.length > 0) {
      this.addr.name = parser.lastComment;
    } else if (domainRet === -2) {
      // A lone "user" is a mailbox, but followed by more words it was a display name.
      this.str.value += ' ';
      const lengthBefore = this.str.value.length;
      parser.parsePhrase(this.str);
      if (this.str.value.length !== lengthBefore) {
        this.addr.mailbox = null;
        this.addr.name = this.str.value;
      } else if (!quotedString) {
        this.addr.domain = '';
      }
      this.addr.invalidSyntax = true;
      ret = -1;
    }
    return ret;
  }

  addFixedAddress(): void {
    if (this.addr.mailbox === null) {
      this.addr.mailbox = 'MISSING_MAILBOX';
      this.addr.invalidSyntax = true;
    }
    if (this.addr.domain === null || this.addr.domain === '') {
      this.addr.domain = 'MISSING_DOMAIN';
      this.addr.invalidSyntax = true;
    }
    this.addAddress();
  }

  private parseMailbox(): number {
    const parser = this.parser;
    const start = parser.pos;
    let ret = this.parseNameAddr();
    if (ret < 0) {
      parser.pos = start;
      ret = this.parseAddrSpec();
      if (this.addr.invalidSyntax && this.addr.name === null && this.addr.mailbox !== null && this.addr.domain === null) {
        this.addr.name = this.addr.mailbox;
        this.addr.mailbox = null;
      }
    }
    if (ret < 0) this.addr.invalidSyntax = true;
    this.addFixedAddress();
    return ret;
  }

  private parseGroup(): number {
    const parser = this.parser;
    this.str.value = '';
    if (parser.parsePhrase(this.str) <= 0 || this.here() !== ':') return -1;
    // From here on this is a group, whatever follows.
    parser.pos++;
    let ret = parser.skipLwsp();
    if (ret <= 0) this.addr.invalidSyntax = true;
    this.addr.mailbox = this.str.value;
    this.addAddress();

    if (ret > 0 && this.here() !== ';') {
      for (;;) {
        this.parseMailbox();
        if (parser.pos >= parser.end || this.here() !== ',') break;
        parser.pos++;
        if (parser.skipLwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (parser.pos >= parser.end || this.here() !== ';') {
        ret = -1;
      } else {
        parser.pos++;
        ret = parser.skipLwsp();
      }
    }
    if (ret < 0) this.addr.invalidSyntax = true;
    this.addAddress();
    return ret === 0 ? 0 : 1;
  }

  private parseAddress(): number {
    const start = this.parser.pos;
    const ret = this.parseGroup();
    if (ret >= 0) return ret;
    this.parser.pos = start;
    return this.parseMailbox();
  }

  parseAddressList(): void {
    const parser = this.parser;
    for (;;) {
      if (this.parseAddress() === 0) break;
      if (parser.pos >= parser.end || this.here() !== ',') break;
      parser.pos++;
      const ret = parser.skipLwsp();
      if (ret <= 0) {
        // A list ending in garbage still yields a (placeholder) address.
        if (ret < 0) this.addFixedAddress();
        break;
      }
    }
  }
}

/** message_address_parse(..., FILL_MISSING): an empty list for an empty header. */
export function parseAddressList(value: ByteString): MessageAddress[] {
  const parser = new AddressParser(value);
  if (parser.parser.skipLwsp() > 0) parser.parseAddressList();
  return parser.addresses;
}
