/**
 * Campaign ids: version-1 (time-based) UUIDs, the form of Cassandra's `timeuuid`, so the tenant's
 * campaign index lists campaigns in creation order. The node part is random per process (RFC 4122
 * §4.5, multicast bit set), never a MAC address; a counter keeps ids made in one millisecond
 * distinct and ordered.
 */
import { randomBytes } from 'node:crypto';

/** 100-ns intervals between the Gregorian reform (1582-10-15) and the Unix epoch. */
const GREGORIAN_OFFSET_MS = 12_219_292_800_000n;
const TICKS_PER_MS = 10_000n;

const node = randomBytes(6);
node[0]! |= 0x01;
const nodeHex = node.toString('hex');
const clockSequence = (randomBytes(2).readUInt16BE(0) & 0x3fff) | 0x8000;

let lastMs = -1;
let ticksThisMs = 0;

export function newCampaignId(now: number = Date.now()): string {
  if (now === lastMs) {
    ticksThisMs += 1;
  } else if (now > lastMs) {
    lastMs = now;
    ticksThisMs = 0;
  } else {
    // The clock went back: stay on the last millisecond so ids keep their order.
    ticksThisMs += 1;
  }
  if (ticksThisMs >= Number(TICKS_PER_MS)) {
    lastMs += 1;
    ticksThisMs = 0;
  }
  return formatTimeUuid(lastMs, ticksThisMs, clockSequence, nodeHex);
}

/**
 * A version-1 UUID from its parts: the time (ms since the Unix epoch plus 0–9999 ticks of 100 ns),
 * a 14-bit clock sequence and a 48-bit node in hex. Also used for event ids that must come out the
 * same whoever computes them (engine/events.ts).
 */
export function formatTimeUuid(ms: number, subMsTicks: number, clockSequence14: number, node48Hex: string): string {
  const ticks = (BigInt(ms) + GREGORIAN_OFFSET_MS) * TICKS_PER_MS + BigInt(subMsTicks);
  const timeLow = (ticks & 0xffff_ffffn).toString(16).padStart(8, '0');
  const timeMid = ((ticks >> 32n) & 0xffffn).toString(16).padStart(4, '0');
  const timeHigh = (((ticks >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, '0');
  const clock = ((clockSequence14 & 0x3fff) | 0x8000).toString(16);
  return `${timeLow}-${timeMid}-${timeHigh}-${clock}-${node48Hex}`;
}
