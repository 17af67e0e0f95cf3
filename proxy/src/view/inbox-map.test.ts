import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { VirtualMessage } from '@inlay/schemas';
import { InboxMap, clientUidNext, clientUidValidity } from './inbox-map.js';
import { MAX_SCALABLE_SERVER_UID, UidBeyondScaleError } from './uid-scale.js';
import { parseSequenceSet, resolveRanges, formatRanges, inRanges } from './sequence-set.js';
import { parseFetchHead, rewriteFetchUids, rewriteUidCodes } from './response-rewrite.js';

const virtual = (uid: number): VirtualMessage => ({ uid, campaignId: 'c', variantId: null, internalDate: '2026-11-22T00:00:00Z', flags: [], rfc822: '' });

/** A model of the client's view: the list of (kind, server seq | virtual index) in order. */
function clientList(map: InboxMap): string[] {
  const list: string[] = [];
  for (let seq = 1; seq <= map.clientExists; seq++) {
    const message = map.resolve(seq)!;
    list.push(message.kind === 'real' ? `r${message.serverSeq}` : `v${message.index}`);
  }
  return list;
}

describe('InboxMap', () => {
  it('places virtual messages after the real ones they follow and renumbers both ways', () => {
    const map = new InboxMap(3);
    map.append(virtual(49)); // after server UID 3
    map.serverExists = 5;
    map.append(virtual(81));
    expect(clientList(map)).toEqual(['r1', 'r2', 'r3', 'v0', 'r4', 'r5', 'v1']);
    expect(map.clientSeqOfServer(4)).toBe(5);
    expect(map.clientSeqOfVirtual(1)).toBe(7);
    expect(map.serverExpunged(2)).toBe(2);
    expect(clientList(map)).toEqual(['r1', 'r2', 'v0', 'r3', 'r4', 'v1']);
    expect(map.remove(0)).toBe(3);
    expect(clientList(map)).toEqual(['r1', 'r2', 'r3', 'r4', 'v0']);
  });

  it('splits sequence and UID sets without naming a message the client did not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), (exists, anchors, a, b) => {
        const map = new InboxMap(0);
        const sorted = [...anchors].sort((x, y) => x - y);
        let uidBase = 0;
        for (const anchor of sorted) {
          map.serverExists = Math.min(anchor, exists);
          uidBase = Math.max(uidBase + 1, map.serverExists * 16 + 1);
          map.append(virtual(uidBase));
        }
        map.serverExists = exists;
        const list = clientList(map);
        if (Math.max(a, b) > map.clientExists || map.clientExists === 0) {
          expect(() => map.splitSequenceSet(parseSequenceSet(`${a}:${b}`))).toThrow('Invalid messageset');
          return;
        }
        const ranges = resolveRanges(parseSequenceSet(`${a}:${b}`), map.clientExists);
        const split = map.splitSequenceSet(parseSequenceSet(`${a}:${b}`));
        const named = list.filter((_, index) => inRanges(ranges, index + 1));
        const serverRanges = split.server === null ? [] : resolveRanges(parseSequenceSet(split.server), 0);
        const fromSplit = [
          ...list.filter((entry) => entry.startsWith('r') && inRanges(serverRanges, Number(entry.slice(1)))),
          ...split.virtual.map((index) => `v${index}`),
        ];
        expect(fromSplit.sort()).toEqual(named.sort());
      }),
    );
  });

  it('names no message 0 for a SEARCH set in an empty view, or one with only virtual messages', () => {
    expect(new InboxMap(0).splitSequenceSet(parseSequenceSet('1:*'), false)).toEqual({ server: null, virtual: [] });
    const onlyVirtual = new InboxMap(0);
    onlyVirtual.append(virtual(17));
    expect(onlyVirtual.splitSequenceSet(parseSequenceSet('1:*'), false)).toEqual({ server: null, virtual: [0] });
    expect(new InboxMap(3).splitSequenceSet(parseSequenceSet('*:9,2'), false)).toEqual({ server: '2:3', virtual: [] });
  });

  it('keeps `*` of a FETCH, STORE or COPY set for the server when the last message is real', () => {
    // Cyrus reports new mail at the start of a command and counts it in `*`: the client, told the
    // same EXISTS first, must get the same messages.
    const map = new InboxMap(9);
    map.appendAfter(virtual(5 * 16 + 1), 5);
    expect(map.splitSequenceSet(parseSequenceSet('1:*'))).toEqual({ server: '1:*', virtual: [0] });
    expect(map.splitSequenceSet(parseSequenceSet('8:*,2'))).toEqual({ server: '2,7:*', virtual: [] });
    expect(map.splitSequenceSet(parseSequenceSet('*'))).toEqual({ server: '*', virtual: [] });
    expect(map.splitSequenceSet(parseSequenceSet('1:4'))).toEqual({ server: '1:4', virtual: [] });
    // The last message virtual: `*` is its number, and the server gets numbers only.
    const lastVirtual = new InboxMap(3);
    lastVirtual.append(virtual(3 * 16 + 1));
    expect(lastVirtual.splitSequenceSet(parseSequenceSet('2:*'))).toEqual({ server: '2:3', virtual: [0] });
  });

  it('translates UID ranges into explicit server ranges and the virtual UIDs in them', () => {
    const map = new InboxMap(2);
    map.append(virtual(33));
    const split = map.splitUidSet(parseSequenceSet('17:40'));
    expect(split).toEqual({ server: '2', virtual: [0] });
    expect(map.splitUidSet(parseSequenceSet('100:*'))).toEqual({ server: '3:6', virtual: [0] });
  });
});

describe('client UIDNEXT and UIDVALIDITY', () => {
  it('is the lowest UID a new message could get, so it moves with every new message', () => {
    expect(clientUidNext(11, 0)).toBe(161);
    expect(clientUidNext(11, 161)).toBe(162);
    expect(clientUidNext(12, 161)).toBe(177);
  });
  it('stays above a virtual message gone since, and above what the view says was assigned', () => {
    const map = new InboxMap(9); // server UIDNEXT 10: real UIDs up to 144
    map.append(virtual(145));
    map.remove(0); // withdrawn: 145 is never handed out again, so UIDNEXT stays above it
    expect(clientUidNext(10, map.highestUidHandedOut)).toBe(146);
    const fresh = new InboxMap(9); // a later session, which never saw 145
    expect(clientUidNext(10, fresh.highestUidHandedOut)).toBe(145);
    fresh.noteAssignedBelow(147);
    fresh.noteAssignedBelow(undefined);
    expect(clientUidNext(10, fresh.highestUidHandedOut)).toBe(147);
  });
  it('differs from the server UIDVALIDITY and is never 0', () => {
    expect(clientUidValidity(1_700_000_000)).not.toBe(1_700_000_000);
    expect(clientUidValidity(0x5a5a5a5a)).toBe(1);
  });
});

describe('response rewriting', () => {
  it('scales UID at the top level of a FETCH response, not inside strings or sections', () => {
    const line = Buffer.from('* 3 FETCH (FLAGS (\\Seen) ENVELOPE ("x" "UID 5" NIL) BODY[HEADER.FIELDS (UID)] {4}\r\n');
    const head = parseFetchHead(line)!;
    const state = { depth: 0, afterUidKeyword: false };
    expect(rewriteFetchUids(line, head.listStart, state, () => {}).toString()).toBe(line.toString());
    const after = rewriteFetchUids(Buffer.from(' UID 7)\r\n'), 0, state, () => {});
    expect(after.toString()).toBe(' UID 112)\r\n');
  });
  it('rewrites APPENDUID and COPYUID for INBOX', () => {
    expect(rewriteUidCodes('a OK [APPENDUID 5 3:4] done', { sourceIsInbox: false, targetIsInbox: true })).toBe(`a OK [APPENDUID ${clientUidValidity(5)} 48,64] done`);
    expect(rewriteUidCodes('a OK [COPYUID 9 3 7] done', { sourceIsInbox: true, targetIsInbox: false })).toBe('a OK [COPYUID 9 48 7] done');
  });
  it('leaves UIDs past 2^28 − 1 put into INBOX as the server wrote them, and refuses to scale one', () => {
    const max = MAX_SCALABLE_SERVER_UID;
    expect(rewriteUidCodes(`a OK [APPENDUID 5 ${max}] done`, { sourceIsInbox: false, targetIsInbox: true })).toBe(`a OK [APPENDUID ${clientUidValidity(5)} ${max * 16}] done`);
    expect(rewriteUidCodes(`a OK [APPENDUID 5 ${max}:${max + 1}] done`, { sourceIsInbox: false, targetIsInbox: true })).toBe(`a OK [APPENDUID 5 ${max}:${max + 1}] done`);
    expect(rewriteUidCodes(`a OK [COPYUID 9 3 ${max + 1}] done`, { sourceIsInbox: false, targetIsInbox: true })).toBe(`a OK [COPYUID 9 3 ${max + 1}] done`);
    const fetched = Buffer.from(`* 1 FETCH (UID ${max + 1})\r\n`);
    expect(() => rewriteFetchUids(fetched, parseFetchHead(fetched)!.listStart, { depth: 0, afterUidKeyword: false }, () => {})).toThrow(UidBeyondScaleError);
    expect(max * 16).toBeLessThanOrEqual(0xffffffff);
  });
  it('writes ranges compactly', () => {
    expect(formatRanges([{ from: 5, to: 6 }, { from: 1, to: 2 }, { from: 3, to: 4 }])).toBe('1:6');
  });
});
