/**
 * POP3 multi-line responses (RFC 1939 §3): a campaign message turned into one (CRLF line ends,
 * dot-stuffing, TOP's header-plus-n-lines), and the end of a server's found in a byte stream
 * without collecting it.
 *
 * Must never change a campaign message's text beyond line ends and stuffing: LIST's size is
 * the size of exactly what RETR then sends before stuffing.
 */

/** The message with every line ended by CRLF (a bare LF or a missing last one made CRLF). */
export function withCrlf(message: Buffer): Buffer {
  const lines = splitLines(message);
  return Buffer.from(lines.map((line) => `${line}\r\n`).join(''), 'latin1');
}

/** A message's lines without their ends, as latin1 text (every byte kept). */
function splitLines(message: Buffer): string[] {
  const text = message.toString('latin1');
  if (text === '') return [];
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

/** RETR's payload: every line CRLF-ended and dot-stuffed, then the terminating ".". */
export function retrPayload(message: Buffer): Buffer {
  return stuffed(splitLines(message));
}

/** TOP's payload: the header, the blank line, and the first `bodyLines` lines of the body. */
export function topPayload(message: Buffer, bodyLines: number): Buffer {
  const lines = splitLines(message);
  const blank = lines.indexOf('');
  const headerEnd = blank === -1 ? lines.length : blank + 1;
  return stuffed(lines.slice(0, Math.min(lines.length, headerEnd + bodyLines)));
}

function stuffed(lines: readonly string[]): Buffer {
  let text = '';
  for (const line of lines) text += `${line.startsWith('.') ? '.' : ''}${line}\r\n`;
  return Buffer.from(`${text}.\r\n`, 'latin1');
}

type EndState = 'lineStart' | 'inLine' | 'dot' | 'dotCr' | 'cr';

/**
 * Finds where a server's multi-line response ends ("CRLF . CRLF", or "." on the first line) in
 * the chunks that follow its status line. Reads one byte at a time only at line starts; within
 * a line it jumps to the next LF.
 */
export class MultilineEnd {
  private state: EndState = 'lineStart';

  /** Offset just past the terminator within `chunk`, or -1 when it has not come yet. */
  feed(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length) {
      const byte = chunk[i]!;
      switch (this.state) {
        case 'lineStart':
          this.state = byte === 0x2e ? 'dot' : byte === 0x0a ? 'lineStart' : byte === 0x0d ? 'cr' : 'inLine';
          i++;
          break;
        case 'dot':
          if (byte === 0x0d) this.state = 'dotCr';
          else if (byte === 0x0a) return i + 1; // "." LF: a server that ends lines with LF alone
          else this.state = 'inLine';
          i++;
          break;
        case 'dotCr':
          if (byte === 0x0a) return i + 1;
          this.state = 'inLine';
          break;
        case 'cr':
          this.state = byte === 0x0a ? 'lineStart' : 'inLine';
          i++;
          break;
        case 'inLine': {
          const lf = chunk.indexOf(0x0a, i);
          if (lf === -1) return -1;
          this.state = 'lineStart';
          i = lf + 1;
          break;
        }
        default: {
          const unreachable: never = this.state;
          throw new Error(`unknown state ${String(unreachable)}`);
        }
      }
    }
    return -1;
  }
}
