/**
 * Which A/B variant a user gets: a stable function of the campaign and the user, weighted, so a
 * user sees the same variant in every session, on every proxy, in every preview, without any
 * assignment being stored. Must never depend on time or on the order variants were listed in
 * beyond their weights.
 */
import { createHash } from 'node:crypto';
import type { Campaign, CampaignTemplate } from '@inlay/schemas';

export interface ChosenTemplate {
  /** The variant's id, or null for the campaign's own template. */
  readonly variantId: string | null;
  readonly template: CampaignTemplate;
}

export function chooseVariant(campaign: Pick<Campaign, 'id' | 'template' | 'variants'>, userKey: string): ChosenTemplate {
  const variants = campaign.variants ?? [];
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
  if (variants.length === 0 || total <= 0) return { variantId: null, template: campaign.template };
  // 48 bits of SHA-256 spread users evenly over [0, total); the campaign id keeps one user's
  // draws in different campaigns independent.
  const point = (createHash('sha256').update(`${campaign.id}\0${userKey}`).digest().readUIntBE(0, 6) / 2 ** 48) * total;
  let reached = 0;
  for (const variant of variants) {
    reached += variant.weight;
    if (point < reached) return { variantId: variant.id, template: variant.template };
  }
  const last = variants[variants.length - 1]!;
  return { variantId: last.id, template: last.template };
}
