import { describe, expect, it } from 'vitest';
import { campaignUidl, Maildrop, type CampaignEntry } from './maildrop.js';

const entry = (uid: number, size: number): CampaignEntry => ({ uid, uidl: campaignUidl(7, 0x1234, uid), message: Buffer.alloc(size), seen: false });

describe('Maildrop', () => {
  const campaign = [entry(49, 100), entry(50, 200)];

  it('keeps the server numbers and puts campaign messages after them', () => {
    const drop = new Maildrop(3, campaign);
    expect(drop.lookup(1)).toEqual({ kind: 'real', serverNumber: 1 });
    expect(drop.lookup(3)).toEqual({ kind: 'real', serverNumber: 3 });
    expect(drop.lookup(4)).toMatchObject({ kind: 'campaign', entry: { uid: 49 } });
    expect(drop.lookup(5)).toMatchObject({ kind: 'campaign', entry: { uid: 50 } });
    expect(drop.lookup(6)).toEqual({ kind: 'none' });
    expect(drop.lookup(0)).toEqual({ kind: 'none' });
  });

  it('holds a deletion until reset, and leaves it out of STAT and listings', () => {
    const drop = new Maildrop(2, campaign);
    expect(drop.stat(2, 50)).toEqual({ count: 4, octets: 350 });
    drop.markDeleted(campaign[0]!);
    expect(drop.lookup(3)).toEqual({ kind: 'deleted' });
    expect(drop.visibleCampaign().map(({ number }) => number)).toEqual([4]);
    expect(drop.stat(2, 50)).toEqual({ count: 3, octets: 250 });
    expect(drop.deletedUids()).toEqual([49]);
    drop.reset();
    expect(drop.deletedUids()).toEqual([]);
    expect(drop.lookup(3)).toMatchObject({ kind: 'campaign' });
  });

  it('UIDLs are printable, at most 70 characters, never hexadecimal only', () => {
    const uidl = campaignUidl(0xffff_ffff, 0xffff_ffff, 0xffff_ffff);
    expect(uidl).toMatch(/^inlay-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/);
    expect(uidl.length).toBeLessThanOrEqual(70);
    expect(campaignUidl(1, 2, 3)).not.toBe(campaignUidl(2, 2, 3));
  });
});
