import { describe, expect, it } from 'vitest';
import { DROP, ImapFramer, PASS, STOP, isStatusResponse, literalAtEnd, type FrameHandler, type LineVerdict } from './framer.js';

interface Recorded {
  lines: { text: string; first: boolean; literal: number | null }[];
  literalBytes: string;
  out: Buffer[];
  tooLong: number;
}

function makeFramer(side: 'client' | 'server', decide: (line: string) => LineVerdict = () => PASS, maxLineBytes = 1024) {
  const recorded: Recorded = { lines: [], literalBytes: '', out: [], tooLong: 0 };
  const handler: FrameHandler = {
    onLine(line, first, literal) {
      recorded.lines.push({ text: line.toString('latin1'), first, literal: literal?.size ?? null });
      return decide(line.toString('latin1'));
    },
    onLiteralData(chunk) {
      recorded.literalBytes += chunk.toString('latin1');
      return true;
    },
    onLineTooLong() {
      recorded.tooLong++;
    },
  };
  const framer = new ImapFramer(side, handler, (bytes) => recorded.out.push(Buffer.from(bytes)), maxLineBytes);
  return { framer, recorded, output: () => Buffer.concat(recorded.out).toString('latin1') };
}

const fetchResponse =
  '* 1 FETCH (UID 7 BODY[] {12}\r\nhello\r\nworld BODY[1] {3}\r\nabc)\r\n* 2 FETCH (FLAGS (\\Seen))\r\na1 OK done\r\n';

describe('ImapFramer', () => {
  it('forwards every byte unchanged and finds the same segments however the input is split', () => {
    const whole = makeFramer('server');
    whole.framer.push(Buffer.from(fetchResponse, 'latin1'));
    expect(whole.output()).toBe(fetchResponse);
    expect(whole.recorded.lines.map((line) => [line.first, line.literal])).toEqual([
      [true, 12],
      [false, 3],
      [false, null],
      [true, null],
      [true, null],
    ]);
    expect(whole.recorded.literalBytes).toBe('hello\r\nworldabc');

    for (let cut = 1; cut < fetchResponse.length; cut++) {
      const split = makeFramer('server');
      split.framer.push(Buffer.from(fetchResponse.slice(0, cut), 'latin1'));
      split.framer.push(Buffer.from(fetchResponse.slice(cut), 'latin1'));
      expect(split.output()).toBe(fetchResponse);
      expect(split.recorded.lines).toEqual(whole.recorded.lines);
    }
  });

  it('passes literal data as the slices that arrived, without copying them into a line', () => {
    const { framer, recorded } = makeFramer('server');
    const big = Buffer.alloc(200_000, 0x61);
    framer.push(Buffer.from('* 1 FETCH (BODY[] {200000}\r\n'));
    for (let at = 0; at < big.length; at += 65_536) framer.push(big.subarray(at, at + 65_536));
    framer.push(Buffer.from(')\r\n'));
    expect(recorded.literalBytes.length).toBe(200_000);
    expect(recorded.lines.at(-1)).toEqual({ text: ')\r\n', first: false, literal: null });
    // Each literal piece went out on its own, the same size it came in.
    expect(recorded.out.filter((piece) => piece.length === 65_536)).toHaveLength(3);
  });

  it('does not take "{5}" at the end of a server status text for a literal', () => {
    const { framer, recorded } = makeFramer('server');
    framer.push(Buffer.from('a1 NO cannot do {5}\r\n* OK [ALERT] see {3}\r\n+ go {2}\r\n* 3 EXISTS\r\n'));
    expect(recorded.lines.map((line) => line.literal)).toEqual([null, null, null, null]);
    expect(recorded.lines).toHaveLength(4);
  });

  it('treats "{N+}" and "{N}" from a client alike and "{0}" as an empty literal', () => {
    const { framer, recorded } = makeFramer('client');
    framer.push(Buffer.from('a LOGIN {3+}\r\nbob {0}\r\n {2}\r\npw\r\nb NOOP\r\n'));
    expect(recorded.lines.map((line) => [line.text, line.first, line.literal])).toEqual([
      ['a LOGIN {3+}\r\n', true, 3],
      [' {0}\r\n', false, 0],
      [' {2}\r\n', false, 2],
      ['\r\n', false, null],
      ['b NOOP\r\n', true, null],
    ]);
    expect(recorded.literalBytes).toBe('bob' + 'pw');
  });

  it('reports an overlong client line once and stops', () => {
    const { framer, recorded, output } = makeFramer('client', () => PASS, 64);
    framer.push(Buffer.from('a '.padEnd(50, 'x')));
    framer.push(Buffer.from(''.padEnd(50, 'y')));
    framer.push(Buffer.from('\r\nb NOOP\r\n'));
    expect(recorded.tooLong).toBe(1);
    expect(framer.failed).toBe(true);
    expect(output()).toBe('');
  });

  it('streams an overlong server line and still finds the literal at its end', () => {
    const { framer, recorded, output } = makeFramer('server', () => PASS, 64);
    const searchLine = `* SEARCH ${Array.from({ length: 100 }, (_, i) => i + 1).join(' ')}\r\n`;
    const stream = `${searchLine}* 1 FETCH (X-LONG ${'z'.repeat(100)} {4}\r\nabcd)\r\na OK\r\n`;
    for (let at = 0; at < stream.length; at += 17) framer.push(Buffer.from(stream.slice(at, at + 17)));
    expect(output()).toBe(stream);
    expect(recorded.literalBytes).toBe('abcd');
    expect(recorded.lines.map((line) => line.text)).toEqual([')\r\n', 'a OK\r\n']);
  });

  it('hands back the rest of the input after STOP', () => {
    const { framer, output } = makeFramer('client', (line) => (line.startsWith('a STARTTLS') ? STOP : DROP));
    const rest = framer.push(Buffer.from('a STARTTLS\r\nb LOGIN x y\r\n'));
    expect(rest?.toString()).toBe('b LOGIN x y\r\n');
    expect(output()).toBe('');
  });

  it('replaces a line with what the handler returns and keeps the bytes around it', () => {
    const { framer, output } = makeFramer('server', (line) => (line.startsWith('* CAPABILITY') ? Buffer.from('* CAPABILITY IMAP4rev1\r\n') : PASS));
    framer.push(Buffer.from('* OK hi\r\n* CAPABILITY IMAP4rev1 SORT\r\na OK\r\n'));
    expect(output()).toBe('* OK hi\r\n* CAPABILITY IMAP4rev1\r\na OK\r\n');
  });

  it('stops waiting for a synchronizing literal the other side refused', () => {
    let framerRef: ImapFramer | undefined;
    const made = makeFramer('client', (line) => {
      if (line.startsWith('b ')) framerRef!.refuseLiteral();
      return PASS;
    });
    framerRef = made.framer;
    made.framer.push(Buffer.from('b APPEND INBOX {99}\r\nc NOOP\r\n'));
    expect(made.recorded.lines.map((line) => line.text)).toEqual(['b APPEND INBOX {99}\r\n', 'c NOOP\r\n']);

    const waiting = makeFramer('client');
    waiting.framer.push(Buffer.from('d APPEND INBOX {99}\r\n'));
    expect(waiting.framer.abandonLiteral()).toBe(true);
    waiting.framer.push(Buffer.from('e NOOP\r\n'));
    expect(waiting.recorded.lines.at(-1)).toEqual({ text: 'e NOOP\r\n', first: true, literal: null });
  });
});

describe('literalAtEnd / isStatusResponse', () => {
  it('parses literal announcements strictly', () => {
    const at = (text: string) => literalAtEnd(Buffer.from(text), text.length - 1);
    expect(at('x {12}\r\n')).toEqual({ size: 12, synchronizing: true });
    expect(at('x {12+}\r\n')).toEqual({ size: 12, synchronizing: false });
    expect(at('x ~{3}\n')).toEqual({ size: 3, synchronizing: true });
    expect(at('x {}\r\n')).toBeNull();
    expect(at('x {1a}\r\n')).toBeNull();
    expect(at('x 12}\r\n')).toBeNull();
    expect(at('x {-1}\r\n')).toBeNull();
    expect(at('x {5 +}\r\n')).toBeNull();
    expect(at('x {+5}\r\n')).toBeNull();
  });

  it('reads sizes of any length as Dovecot does, and marks those no number holds', () => {
    const at = (text: string) => literalAtEnd(Buffer.from(text), text.length - 1);
    expect(at('x {00000000000000000005+}\r\n')).toEqual({ size: 5, synchronizing: false });
    expect(at('x {0}\r\n')).toEqual({ size: 0, synchronizing: true });
    expect(at('x {9007199254740991}\r\n')).toEqual({ size: Number.MAX_SAFE_INTEGER, synchronizing: true });
    expect(at('x {9999999999999999+}\r\n')).toEqual({ size: Infinity, synchronizing: false });
    expect(at('x {18446744073709551616}\r\n')).toEqual({ size: Infinity, synchronizing: true });
  });

  it('knows status responses', () => {
    for (const text of ['* OK x', 'a1 NO y', 'tag BAD z', '* BYE', '* PREAUTH hi', '+ ready', 'a ok fine']) {
      expect(isStatusResponse(Buffer.from(`${text}\r\n`))).toBe(true);
    }
    for (const text of ['* 1 FETCH (', '* OKAY', '* LIST () "/" {3}', '* NOTOK']) {
      expect(isStatusResponse(Buffer.from(`${text}\r\n`))).toBe(false);
    }
  });
});
