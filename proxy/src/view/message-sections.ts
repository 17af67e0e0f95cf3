/**
 * The bytes of BODY[section]<partial> as Dovecot 2.3 serves them
 * (src/lib-imap-storage/imap-msgpart.c, src/lib-mail/istream-header-filter.c): whole message,
 * HEADER, HEADER.FIELDS[.NOT], TEXT, MIME and numeric part paths, with Dovecot's answers for
 * odd requests — a part that does not exist is an empty string, HEADER/TEXT of a part that is
 * not message/rfc822 too, "0" names the first child, MIME of a message/rfc822 part is its own
 * MIME header — and NUL bytes turned into 0x80 as IMAP literals require.
 *
 * Must never return anything but a slice of the message or a selection of its header lines.
 */
import { asciiUpper, type ByteString } from './imap-string.js';
import { HeaderLineReader, headerNameForMatching } from './message-header.js';
import type { MimePart } from './message-parser.js';

/** What follows the part number in a section spec (RFC 3501 §6.4.5). */
export type SectionText =
  | { readonly kind: 'all' }
  | { readonly kind: 'header' }
  | { readonly kind: 'header-fields'; readonly fields: readonly string[] }
  | { readonly kind: 'header-fields-not'; readonly fields: readonly string[] }
  | { readonly kind: 'text' }
  | { readonly kind: 'mime' };

export interface BodySection {
  /** Part numbers, e.g. [1, 2] for "1.2"; empty for the whole message. */
  readonly part: readonly number[];
  readonly text: SectionText;
}

export interface Partial {
  readonly offset: number;
  /** null: to the end. */
  readonly length: number | null;
}

/** imap_msgpart_find, including its treatment of 0 and of paths into message/rfc822 parts. */
export function findPart(root: MimePart, path: readonly number[]): MimePart | null {
  let part: MimePart | null = root;
  let index = 0;
  while (index < path.length && part !== null) {
    const number = path[index++]!;
    const more = index < path.length;
    if (part.flags.multipart) {
      part = part.children[Math.max(number, 1) - 1] ?? null;
    } else if (number !== 1 || (more && !part.flags.messageRfc822)) {
      // Only "1" exists below a single part, and only a message/rfc822 part goes deeper.
      part = null;
    }
    if (part !== null && part.flags.messageRfc822 && more) part = part.children[0] ?? null;
  }
  return part;
}

/**
 * Dovecot's header filter: the selected lines as they are (continuation lines follow their
 * first line), then the empty line if the header had one — or, for the message's own
 * HEADER.FIELDS, always (`addMissingEoh`).
 */
function filterHeader(data: ByteString, start: number, fields: readonly string[], exclude: boolean, addMissingEoh: boolean): ByteString {
  const wanted = new Set(fields.map((field) => asciiUpper(field)));
  const reader = new HeaderLineReader(data, start, false);
  let out = '';
  let previousMatched = false;
  let seenEoh = false;
  for (let line = reader.next(); line !== null; line = reader.next()) {
    if (line.eoh) {
      seenEoh = true;
      out += '\r\n';
      continue;
    }
    const matched: boolean = line.continued ? previousMatched : wanted.has(asciiUpper(headerNameForMatching(line.name)));
    previousMatched = matched;
    if (matched === exclude) continue;
    if (!line.continued) out += line.name + line.middle;
    out += line.value;
    if (!line.noNewline) out += '\r\n';
  }
  if (!seenEoh && addMissingEoh) {
    // Served from Dovecot's cache (the steady state once the fields were fetched or parsed):
    // the lines, then one newline. Its first, uncached answer adds a second newline when the
    // header's last line had none (a message that is one unterminated header line).
    out += '\r\n';
  }
  return out;
}

function slice(data: ByteString, start: number, size: number): ByteString {
  return data.slice(start, start + size);
}

/** The section's bytes before any partial range is applied. */
function sectionBytes(data: ByteString, root: MimePart, section: BodySection): ByteString {
  const text = section.text;
  if (section.part.length === 0) {
    switch (text.kind) {
      case 'all':
        return data;
      case 'header':
        return slice(data, 0, root.header.size);
      case 'text':
        return slice(data, root.header.size, root.body.size);
      case 'header-fields':
        return filterHeader(data, 0, text.fields, false, true);
      case 'header-fields-not':
        return filterHeader(data, 0, text.fields, true, false);
      case 'mime':
        // Refused by the section parser (MIME needs a part number); nothing to serve.
        return '';
    }
  }
  const part = findPart(root, section.part);
  if (part === null) return '';
  switch (text.kind) {
    case 'all':
      return slice(data, part.position + part.header.size, part.body.size);
    case 'mime':
      return slice(data, part.position, part.header.size);
    case 'header':
    case 'header-fields':
    case 'header-fields-not':
    case 'text': {
      // These look inside a message/rfc822 part; any other part has no such section.
      const message = part.flags.messageRfc822 ? part.children[0] : undefined;
      if (message === undefined) return '';
      if (text.kind === 'header') return slice(data, message.position, message.header.size);
      if (text.kind === 'text') return slice(data, message.position + message.header.size, message.body.size);
      return filterHeader(data, message.position, text.fields, text.kind === 'header-fields-not', false);
    }
  }
}

/** The bytes BODY[section]<partial> carries, ready to go into a literal. */
export function sectionContent(data: ByteString, root: MimePart, section: BodySection, partial: Partial | null): ByteString {
  let bytes = sectionBytes(data, root, section);
  if (partial !== null) {
    if (partial.offset >= bytes.length) return '';
    const kind = section.text.kind;
    if ((kind === 'header-fields' || kind === 'header-fields-not') && partial.offset === bytes.length - 1 && bytes.endsWith('\r\n')) {
      // Dovecot quirk: a partial HEADER.FIELDS[.NOT] starting on the very last byte, the LF of
      // the final CRLF (a CR Dovecot adds to its LF-only storage), sends the CR instead.
      return '\r';
    }
    const end = partial.length === null ? bytes.length : Math.min(bytes.length, partial.offset + partial.length);
    bytes = bytes.slice(partial.offset, end);
  }
  // IMAP literals must not carry NUL; Dovecot sends 0x80 instead.
  return bytes.includes('\0') ? bytes.replace(/\0/g, '\x80') : bytes;
}

/**
 * Every part number the message has, in IMAP's numbering (RFC 3501 §6.4.5): children of a
 * multipart, and inside a message/rfc822 part the parts of the embedded message — its single
 * body being "n.1" when it is not multipart.
 */
export function listPartNumbers(root: MimePart): number[][] {
  const numbers: number[][] = [];
  const visit = (part: MimePart, path: number[]): void => {
    if (part.flags.multipart) {
      part.children.forEach((child, index) => {
        const childPath = [...path, index + 1];
        numbers.push(childPath);
        visit(child, childPath);
      });
    } else if (part.flags.messageRfc822 && path.length > 0) {
      const message = part.children[0];
      if (message === undefined) return;
      if (message.flags.multipart) {
        visit(message, path);
      } else {
        numbers.push([...path, 1]);
        visit(message, [...path, 1]);
      }
    }
  };
  if (root.flags.multipart) {
    visit(root, []);
  } else {
    numbers.push([1]);
    visit(root, [1]);
  }
  return numbers;
}
