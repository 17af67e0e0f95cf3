/**
 * IMAP sequence sets (RFC 3501 §9 `sequence-set`): parsing into ranges, with `*` resolved by the
 * caller, and writing ranges back compactly. Used for both message sequence numbers and UIDs.
 *
 * Must never expand a range into its members: "1:4294967295" is a valid set of one range.
 */

export interface Range {
  readonly from: number;
  readonly to: number;
}

/** A set as sent, with `*` kept symbolic until the caller knows what it stands for. */
export type SetBound = number | '*';
export interface RawRange {
  readonly from: SetBound;
  readonly to: SetBound;
}

export class SequenceSetError extends Error {
  override readonly name = 'SequenceSetError';
}

const NUMBER = /^[1-9][0-9]{0,9}$/;
const MAX_NUMBER = 0xffff_ffff;

function bound(text: string, whole: string): SetBound {
  if (text === '*') return '*';
  if (!NUMBER.test(text) || Number(text) > MAX_NUMBER) throw new SequenceSetError(`Invalid sequence set "${whole.slice(0, 100)}"`);
  return Number(text);
}

/** True when the text looks like a sequence set (used to tell it from a search key). */
export function isSequenceSet(text: string): boolean {
  return /^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/.test(text);
}

export function parseSequenceSet(text: string): RawRange[] {
  if (text.length === 0) throw new SequenceSetError('Empty sequence set');
  return text.split(',').map((part) => {
    const colon = part.indexOf(':');
    if (colon === -1) {
      const value = bound(part, text);
      return { from: value, to: value };
    }
    return { from: bound(part.slice(0, colon), text), to: bound(part.slice(colon + 1), text) };
  });
}

/** Resolves `*` to `star` and orders each range (RFC 3501: "2:4" and "4:2" are the same set). */
export function resolveRanges(raw: readonly RawRange[], star: number): Range[] {
  return raw.map(({ from, to }) => {
    const a = from === '*' ? star : from;
    const b = to === '*' ? star : to;
    return a <= b ? { from: a, to: b } : { from: b, to: a };
  });
}

export function inRanges(ranges: readonly Range[], value: number): boolean {
  for (const range of ranges) if (value >= range.from && value <= range.to) return true;
  return false;
}

/** Sorted, merged, written as "1:3,7,9:12"; null for an empty list. */
export function formatRanges(ranges: readonly Range[]): string | null {
  const sorted = ranges.filter((range) => range.from <= range.to).sort((x, y) => x.from - y.from);
  if (sorted.length === 0) return null;
  const merged: { from: number; to: number }[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.from <= last.to + 1) last.to = Math.max(last.to, range.to);
    else merged.push({ ...range });
  }
  return merged.map((range) => (range.from === range.to ? `${range.from}` : `${range.from}:${range.to}`)).join(',');
}

/** A set of single numbers written compactly ("3,5:7"); null when empty. */
export function formatNumbers(values: readonly number[]): string | null {
  return formatRanges(values.map((value) => ({ from: value, to: value })));
}

/** Every member of a set known to be small (COPYUID / APPENDUID sets, at most a few thousand). */
export function expandSmallSet(text: string, limit = 100_000): number[] {
  const values: number[] = [];
  for (const { from, to } of resolveRanges(parseSequenceSet(text), 0)) {
    if (to - from + values.length > limit) throw new SequenceSetError('Set too large to expand');
    for (let value = from; value <= to; value++) values.push(value);
  }
  return values;
}
