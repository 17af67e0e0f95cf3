/**
 * Dovecot 2.3's search normaliser (uni_utf8_to_decomposed_titlecase, src/lib/unichar.c), which
 * makes SEARCH case-insensitive: every character is mapped to its titlecase form, then
 * decomposed one level deep (so "é" becomes "E" + U+0301 and "cafe" finds "café", while "naive"
 * does not find "naïve"); invalid UTF-8 becomes one U+FFFD per run.
 *
 * It must never use String.prototype.normalize or toUpperCase: their Unicode version and their
 * full (recursive) decompositions differ from the tables Dovecot was built with.
 */
import { MULTI_DECOMPOSITION, SINGLE_DECOMPOSITION, TITLECASE } from './search-unicode-data.js';

function unpackRuns(packed: string): Map<number, number> {
  const map = new Map<number, number>();
  let key = 0;
  for (const run of packed.split(',')) {
    const [head = '', count = '1'] = run.split('*');
    const [keyDelta = '0', valueDelta = '0'] = head.split(':');
    const [length = '1', step = '1'] = count.split('/');
    key += parseInt(keyDelta, 36);
    const offset = parseInt(valueDelta, 36);
    const runLength = parseInt(length, 36);
    const keyStep = parseInt(step, 36);
    for (let i = 0; i < runLength; i++) map.set(key + i * keyStep, key + i * keyStep + offset);
    key += (runLength - 1) * keyStep;
  }
  return map;
}

function unpackMulti(packed: string): Map<number, string> {
  const map = new Map<number, string>();
  let key = 0;
  for (const entry of packed.split(',')) {
    const [keyDelta = '0', values = ''] = entry.split(':');
    key += parseInt(keyDelta, 36);
    map.set(key, String.fromCodePoint(...values.split('.').map((value) => parseInt(value, 36))));
  }
  return map;
}

const titlecase = unpackRuns(TITLECASE);
const singleDecomposition = unpackRuns(SINGLE_DECOMPOSITION);
const multiDecomposition = unpackMulti(MULTI_DECOMPOSITION);

const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;
const REPLACEMENT = '\ufffd';

/** One character as the normaliser writes it. */
function mapCodePoint(input: number): string {
  const chr = titlecase.get(input) ?? input;
  if (chr >= HANGUL_FIRST && chr <= HANGUL_LAST) {
    const index = chr - HANGUL_FIRST;
    const trailing = 0x11a7 + (index % 28);
    return String.fromCodePoint(0x1100 + Math.floor(index / (21 * 28)), 0x1161 + Math.floor((index % (21 * 28)) / 28)) + (trailing === 0x11a7 ? '' : String.fromCodePoint(trailing));
  }
  const single = singleDecomposition.get(chr);
  if (single !== undefined) return String.fromCodePoint(single);
  return multiDecomposition.get(chr) ?? String.fromCodePoint(chr);
}

/** Normalises a string that is already valid Unicode (a decoded charset, a search key). */
export function normalizeText(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    // A lone surrogate cannot come from UTF-8: Dovecot would have seen an invalid sequence.
    if (code >= 0xd800 && code <= 0xdfff) {
      if (!out.endsWith(REPLACEMENT)) out += REPLACEMENT;
      continue;
    }
    out += code < 0x80 && (code < 0x61 || code > 0x7a) ? char : mapCodePoint(code);
  }
  return out;
}

/** Bytes a UTF-8 sequence announces by its first byte, as Dovecot counts them (up to 6). */
function sequenceLength(byte: number): number {
  if (byte < 0xc0) return 1;
  if (byte < 0xe0) return 2;
  if (byte < 0xf0) return 3;
  if (byte < 0xf8) return 4;
  if (byte < 0xfc) return 5;
  return byte < 0xfe ? 6 : 1;
}

const LOWEST_VALID = [0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000];

/** Decodes one UTF-8 character at `at` the way uni_utf8_get_char_n does; null when invalid. */
function codePointAt(bytes: Uint8Array, at: number): { code: number; length: number } | null {
  const first = bytes[at]!;
  if (first < 0x80) return { code: first, length: 1 };
  const length = sequenceLength(first);
  if (length === 1 || at + length > bytes.length) return null;
  let code = first & (0x7f >> length);
  for (let i = 1; i < length; i++) {
    const next = bytes[at + i]!;
    if ((next & 0xc0) !== 0x80) return null;
    code = code * 64 + (next & 0x3f);
  }
  if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || code < LOWEST_VALID[length]!) return null;
  return { code, length };
}

/** Normalises UTF-8 bytes; each run of invalid bytes becomes a single U+FFFD. */
export function normalizeUtf8(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const decoded = codePointAt(bytes, i);
    if (!decoded) {
      if (!out.endsWith(REPLACEMENT)) out += REPLACEMENT;
      i++;
      continue;
    }
    const { code, length } = decoded;
    out += code < 0x80 && (code < 0x61 || code > 0x7a) ? String.fromCharCode(code) : mapCodePoint(code);
    i += length;
  }
  return out;
}

/**
 * Dovecot's check that bytes are valid UTF-8 (uni_utf8_get_valid_data): null when they are,
 * otherwise the text with each invalid run replaced by U+FFFD and nothing else changed.
 */
export function validUtf8OrReplaced(bytes: Uint8Array): string | null {
  let out = '';
  let valid = true;
  for (let i = 0; i < bytes.length; ) {
    const decoded = codePointAt(bytes, i);
    if (!decoded) {
      valid = false;
      if (!out.endsWith(REPLACEMENT)) out += REPLACEMENT;
      i++;
      continue;
    }
    out += String.fromCodePoint(decoded.code);
    i += decoded.length;
  }
  return valid ? null : out;
}

/**
 * The length of `bytes` without a trailing incomplete UTF-8 sequence, which Dovecot holds back
 * for the next block of a body and drops when the part ends (uni_utf8_partial_strlen_n).
 */
export function completeUtf8Length(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes[i]!);
    if (i + length > bytes.length) break;
    i += length;
  }
  return i;
}
