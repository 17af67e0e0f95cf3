/**
 * The MIME structure of a message as Dovecot 2.3 finds it (src/lib-mail/message-parser.c): the
 * part tree, where each part's header and body begin, their sizes and line counts, and the
 * flags that decide how BODYSTRUCTURE describes a part. Boundary handling follows Dovecot to the
 * byte — which [CR]LF belongs to a boundary, prefix matching, nested boundaries, epilogues,
 * a boundary cutting a header block short — because BODY[1.2] and every size in BODYSTRUCTURE
 * depend on it.
 *
 * Works on the whole message in memory (Dovecot streams it); behaviour that in Dovecot depends
 * on its input buffer filling up (header lines or boundary lines of many kilobytes) is not
 * reproduced. Must never interpret content: no decoding of transfer encodings or charsets.
 */
import { asciiLower, type ByteString } from './imap-string.js';
import { HeaderFieldCollector, HeaderLineReader, type HeaderField, type SizeAndLines } from './message-header.js';
import { Rfc822Parser, parseMimeParameters } from './message-rfc822-parser.js';

/** RFC 2046 allows 70 characters; Dovecot keeps a few more and truncates the rest. */
const BOUNDARY_STRING_MAX_LENGTH = 70 + 10;
const BOUNDARY_END_MAX_LENGTH = BOUNDARY_STRING_MAX_LENGTH + 2 + 2;
/** Dovecot's defaults (MESSAGE_PARSER_DEFAULT_MAX_*): deeper or bigger trees are flattened. */
const MAX_NESTED_MIME_PARTS = 100;
const MAX_TOTAL_MIME_PARTS = 10000;

export interface PartFlags {
  /** Has MIME-Version or Content-Type, or is a multipart child: its Content-* headers count. */
  isMime: boolean;
  text: boolean;
  multipart: boolean;
  multipartDigest: boolean;
  messageRfc822: boolean;
  /** A MIME limit was reached here; BODYSTRUCTURE then shows it as application/octet-stream. */
  overflow: boolean;
}

export interface MimePart {
  readonly parent: MimePart | null;
  readonly children: MimePart[];
  /** Offset of the part's first header byte. */
  readonly position: number;
  readonly header: SizeAndLines;
  readonly body: SizeAndLines;
  flags: PartFlags;
  /** Every complete header field of the part, in order, with folds kept. */
  readonly fields: HeaderField[];
}

interface Boundary {
  readonly part: MimePart;
  readonly text: ByteString;
  epilogueFound: boolean;
}

type ParserState = 'header' | 'body-to-boundary' | 'body-to-eof' | 'skip-boundary-line' | 'done';

function noFlags(): PartFlags {
  return { isMime: false, text: false, multipart: false, multipartDigest: false, messageRfc822: false, overflow: false };
}

function newPart(parent: MimePart | null, position: number): MimePart {
  return { parent, children: [], position, header: { size: 0, lines: 0 }, body: { size: 0, lines: 0 }, flags: noFlags(), fields: [] };
}

function countLines(data: ByteString, start: number, end: number): number {
  let lines = 0;
  for (let i = data.indexOf('\n', start); i >= 0 && i < end; i = data.indexOf('\n', i + 1)) lines++;
  return lines;
}

class MimeParser {
  readonly root: MimePart;
  private part: MimePart;
  private pos = 0;
  private state: ParserState = 'header';
  /** Newest last. */
  private boundaries: Boundary[] = [];
  private lastBoundary: ByteString | null = null;
  private lastChar = '';
  private startsMultipart = false;
  private seenContentType = false;
  private previousNewlineSize = 0;
  private headerReader: HeaderLineReader;
  private collector = new HeaderFieldCollector();
  private nestedParts = 0;
  private totalParts = 1;

  constructor(private readonly data: ByteString) {
    this.root = this.part = newPart(null, 0);
    this.headerReader = this.startHeader();
  }

  run(): MimePart {
    for (;;) {
      switch (this.state) {
        case 'header':
          this.parseHeaderLine();
          break;
        case 'body-to-boundary':
          this.parseBodyToBoundary();
          break;
        case 'body-to-eof':
          this.addBlock(this.pos, this.data.length);
          this.state = 'done';
          break;
        case 'skip-boundary-line':
          this.skipBoundaryLine();
          break;
        case 'done':
          while (this.part.parent) this.finishPart();
          return this.root;
      }
    }
  }

  private startHeader(): HeaderLineReader {
    this.seenContentType = false;
    this.previousNewlineSize = 0;
    this.collector = new HeaderFieldCollector();
    this.state = 'header';
    return new HeaderLineReader(this.data, this.pos, true, this.part.header);
  }

  private appendPart(): void {
    const parent = this.part;
    const part = newPart(parent, parent.position + parent.header.size + parent.body.size);
    parent.children.push(part);
    this.part = part;
    this.nestedParts++;
    this.totalParts++;
  }

  private finishPart(): void {
    const part = this.part;
    const parent = part.parent!;
    parent.body.size += part.body.size + part.header.size;
    parent.body.lines += part.body.lines + part.header.lines;
    this.nestedParts--;
    this.part = parent;
  }

  private tooManyNestedParts(): boolean {
    return this.nestedParts + 1 >= MAX_NESTED_MIME_PARTS;
  }

  private addBlock(start: number, end: number): void {
    if (end <= start) return;
    this.part.body.size += end - start;
    this.part.body.lines += countLines(this.data, start, end);
    this.lastChar = this.data[end - 1]!;
    this.pos = end;
  }

  private parseHeaderLine(): void {
    const data = this.data;
    const part = this.part;
    const atEnd = this.pos >= data.length;
    if (!atEnd && this.lastBoundary !== null && part.flags.isMime && (data[this.pos] === '\n' || data.startsWith('\r\n', this.pos))) {
      // The header ends here and a multipart starts: its boundary is registered now, so a
      // following "--boundary" line is recognised as ours even if an outer one shares a prefix.
      if (!this.tooManyNestedParts()) {
        this.boundaries.push({ part, text: this.lastBoundary, epilogueFound: false });
        this.lastBoundary = null;
        this.startsMultipart = true;
      } else {
        part.flags.overflow = true;
        part.flags.multipart = false;
      }
    }
    const boundary = atEnd || this.boundaries.length === 0 ? null : this.boundaryLineAt(this.pos);
    if (boundary && boundary.part !== part) {
      // A boundary cut the header short; the newline before it belongs to the boundary.
      // Sizes here are as served (CRLF), so a newline always counts 2, as Dovecot's
      // virtual size does.
      if (this.previousNewlineSize > 0) {
        part.header.lines--;
        part.header.size -= 2;
        part.parent!.body.lines++;
        part.parent!.body.size += 2;
      }
      this.endHeader();
      return;
    }
    const line = this.headerReader.next();
    this.pos = this.headerReader.pos;
    if (line === null) {
      this.endHeader();
      return;
    }
    if (!line.eoh) {
      const field = this.collector.add(line);
      const name = asciiLower(line.name);
      if (!line.continued && name === 'mime-version') part.flags.isMime = true;
      if (!line.continued && name === 'content-type') part.flags.isMime = true;
      if (field) {
        part.fields.push(field);
        if (asciiLower(field.name) === 'content-type') this.parseContentType(field.value);
      }
    }
    this.previousNewlineSize = line.noNewline ? 0 : line.crlfNewline ? 2 : 1;
  }

  private parseContentType(value: ByteString): void {
    if (this.seenContentType) return;
    this.seenContentType = true;
    const flags = this.part.flags;
    const parser = new Rfc822Parser(value);
    parser.skipLwsp();
    const contentType = { value: '' };
    const ret = parser.parseContentType(contentType);
    const type = asciiLower(contentType.value);
    if (type === 'message/rfc822') flags.messageRfc822 = true;
    else if (type.startsWith('text') && (type.length === 4 || type[4] === '/')) flags.text = true;
    else if (type.startsWith('multipart/')) {
      flags.multipart = true;
      if (type.slice(10) === 'digest') flags.multipartDigest = true;
    }
    if (ret < 0 || !flags.multipart || this.lastBoundary !== null) return;
    for (const [key, boundary] of parseMimeParameters(parser)) {
      if (asciiLower(key) === 'boundary') {
        this.lastBoundary = boundary.slice(0, BOUNDARY_STRING_MAX_LENGTH);
        break;
      }
    }
  }

  private endHeader(): void {
    const part = this.part;
    if (!part.flags.isMime) part.flags = noFlags();
    this.lastBoundary = null;
    if (!this.seenContentType || !part.flags.isMime) {
      if (part.parent?.flags.multipartDigest) part.flags.messageRfc822 = true;
      else part.flags.text = true;
    }
    this.lastChar = '\n';
    const afterBody = this.boundaries.length > 0 ? 'body-to-boundary' : 'body-to-eof';
    if (this.startsMultipart) {
      this.startsMultipart = false;
      this.state = 'body-to-boundary';
    } else if (!part.flags.messageRfc822) {
      this.state = afterBody;
    } else if (!this.tooManyNestedParts() && this.totalParts < MAX_TOTAL_MIME_PARTS) {
      this.appendPart();
      this.headerReader = this.startHeader();
    } else {
      part.flags.overflow = true;
      part.flags.messageRfc822 = false;
      this.state = afterBody;
    }
  }

  /** The boundary a line starting at `start` opens or closes, if any (boundary_line_find). */
  private boundaryLineAt(start: number): Boundary | null {
    const data = this.data;
    if (data.length - start < 2 || data[start] !== '-' || data[start + 1] !== '-') return null;
    if (this.totalParts >= MAX_TOTAL_MIME_PARTS) {
      this.part.flags.overflow = true;
      return null;
    }
    const textStart = start + 2;
    const lf = data.indexOf('\n', textStart);
    let findSize: number;
    let trailingDashes = false;
    if (lf >= 0) {
      findSize = lf - textStart;
      if (findSize > 0 && data[textStart + findSize - 1] === '\r') findSize--;
      if (findSize > 2 && data[textStart + findSize - 1] === '-' && data[textStart + findSize - 2] === '-') trailingDashes = true;
    } else {
      findSize = Math.min(data.length - textStart, BOUNDARY_END_MAX_LENGTH);
    }
    // Newest first, so a boundary reused by a nested multipart matches the inner one; among
    // prefixes of the line the longest wins.
    let best: Boundary | null = null;
    for (let i = this.boundaries.length - 1; i >= 0; i--) {
      const boundary = this.boundaries[i]!;
      const length = boundary.text.length;
      if (length <= findSize && data.startsWith(boundary.text, textStart) && (best === null || best.text.length < length)) {
        best = boundary;
        if (length === findSize || (length === findSize - 2 && trailingDashes)) break;
      }
    }
    if (best === null) return null;
    best.epilogueFound = data.length - textStart >= best.text.length + 2 && data.startsWith('--', textStart + best.text.length);
    return best;
  }

  private parseBodyToBoundary(): void {
    const data = this.data;
    const start = this.pos;
    if (start >= data.length) {
      this.state = 'done';
      return;
    }
    if (this.lastChar === '\n') {
      const boundary = this.boundaryLineAt(start);
      if (boundary) {
        this.finishAtBoundary(boundary, start, true);
        return;
      }
    }
    for (let lf = data.indexOf('\n', start); lf >= 0; lf = data.indexOf('\n', lf + 1)) {
      const boundary = this.boundaryLineAt(lf + 1);
      if (boundary) {
        const boundaryStart = lf > start && data[lf - 1] === '\r' ? lf - 1 : lf;
        this.addBlock(start, boundaryStart);
        this.pos = boundaryStart;
        this.finishAtBoundary(boundary, boundaryStart, false);
        return;
      }
    }
    this.addBlock(start, data.length);
    this.state = 'done';
  }

  /** parse_part_finish: close parts up to the boundary's multipart, which gets the boundary line. */
  private finishAtBoundary(boundary: Boundary, at: number, firstLine: boolean): void {
    while (this.part !== boundary.part) this.finishPart();
    const index = this.boundaries.indexOf(boundary);
    this.boundaries.length = boundary.epilogueFound ? index : index + 1;
    const newline = firstLine ? 0 : this.data[at] === '\r' ? 2 : 1;
    this.addBlock(at, at + newline + 2 + boundary.text.length + (boundary.epilogueFound ? 2 : 0));
    this.state = 'skip-boundary-line';
  }

  private skipBoundaryLine(): void {
    const data = this.data;
    if (this.pos >= data.length) {
      this.state = 'done';
      return;
    }
    const lf = data.indexOf('\n', this.pos);
    if (lf < 0) {
      this.addBlock(this.pos, data.length);
      this.state = 'done';
      return;
    }
    this.addBlock(this.pos, lf + 1);
    const newest = this.boundaries[this.boundaries.length - 1];
    if (newest === undefined || newest.part !== this.part) {
      // Epilogue of a closed multipart.
      this.state = newest === undefined ? 'body-to-eof' : 'body-to-boundary';
      return;
    }
    this.appendPart();
    this.part.flags.isMime = true;
    this.headerReader = this.startHeader();
  }
}

/** Parses a message (already in the form Dovecot serves it, see MessageModel) into its part tree. */
export function parseMimeStructure(data: ByteString): MimePart {
  return new MimeParser(data).run();
}
