/**
 * Just enough MIME to show a preview: the headers (unfolded, RFC 2047 words decoded), and the
 * text/plain and text/html parts of a message as MailComposer builds it (a single part, or
 * multipart/alternative or /mixed), with quoted-printable and base64 decoded as UTF-8. The raw
 * bytes are always shown beside it, so nothing depends on this being a full parser.
 */
export interface ParsedMessage {
  readonly headers: ReadonlyMap<string, string>;
  readonly text: string | null;
  readonly html: string | null;
}

interface Part {
  headers: Map<string, string>;
  body: string;
}

function splitPart(raw: string): Part {
  const end = raw.search(/\r?\n\r?\n/);
  const head = end < 0 ? raw : raw.slice(0, end);
  const body = end < 0 ? '' : raw.slice(end).replace(/^\r?\n\r?\n/, '');
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

const utf8 = new TextDecoder('utf-8');

function bytesOf(binary: string): Uint8Array {
  return Uint8Array.from(binary, (char) => char.charCodeAt(0) & 0xff);
}

function decodeBody(part: Part): string {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'base64') {
    try {
      return utf8.decode(bytesOf(atob(part.body.replace(/\s+/g, ''))));
    } catch {
      return part.body;
    }
  }
  if (encoding === 'quoted-printable') {
    const binary = part.body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return utf8.decode(bytesOf(binary));
  }
  return part.body;
}

export function decodeWords(value: string): string {
  // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2); elsewhere it is.
  return value.replace(/(\?=)\s+(?==\?)/g, '$1').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset: string, kind: string, text: string) => {
    const binary = kind.toUpperCase() === 'B' ? atob(text) : text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return utf8.decode(bytesOf(binary));
  });
}

function walk(part: Part, found: { text: string | null; html: string | null }, depth: number): void {
  const type = part.headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary && depth < 5) {
    const pieces = part.body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?\\n?`));
    for (const piece of pieces.slice(1)) if (piece.trim() !== '') walk(splitPart(piece), found, depth + 1);
    return;
  }
  if (/^text\/html/i.test(type)) found.html ??= decodeBody(part);
  else if (/^text\/plain/i.test(type)) found.text ??= decodeBody(part);
}

export function parseMessage(raw: string): ParsedMessage {
  const top = splitPart(raw);
  const found = { text: null as string | null, html: null as string | null };
  walk(top, found, 0);
  const headers = new Map([...top.headers].map(([name, value]) => [name, decodeWords(value)]));
  return { headers, ...found };
}
