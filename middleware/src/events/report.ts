/**
 * A campaign's report from its counters (store/event-types.ts, CounterRow): totals, unique users,
 * rates, per variant, and a series of hour or day buckets. The counters are kept as events are
 * recorded, so a report reads a few hundred rows however many events the campaign had. Pure.
 *
 * Unique users come from counters bumped when a user's first event of a kind was recorded: over
 * a range they are the users whose first event of that kind fell in it (the whole life of the
 * campaign by default, where they are exact).
 */
import type { CampaignReport, EventTotals, ReportBucket, UniqueUsers } from '@inlay/schemas';
import { DAY_MS, HOUR_MS, type CounterRow } from '../store/event-types.js';

export type ReportBucketSize = 'hour' | 'day';

interface Figures {
  totals: EventTotals;
  uniqueUsers: UniqueUsers;
}

const emptyTotals = (): EventTotals => ({ injected: 0, reinjected: 0, read: 0, expunged: 0 });
const emptyFigures = (): Figures => ({ totals: emptyTotals(), uniqueUsers: { injected: 0, read: 0, expunged: 0 } });

function add(figures: Figures, row: CounterRow): void {
  switch (row.kind) {
    case 'injected':
    case 'reinjected':
    case 'read':
    case 'expunged':
      figures.totals[row.kind] += row.count;
      return;
    case 'unique:injected':
      figures.uniqueUsers.injected += row.count;
      return;
    case 'unique:read':
      figures.uniqueUsers.read += row.count;
      return;
    case 'unique:expunged':
      figures.uniqueUsers.expunged += row.count;
      return;
  }
}

function withRates(figures: Figures): Figures & { readRate: number; expungeRate: number } {
  const shown = figures.uniqueUsers.injected;
  return { ...figures, readRate: shown === 0 ? 0 : figures.uniqueUsers.read / shown, expungeRate: shown === 0 ? 0 : figures.uniqueUsers.expunged / shown };
}

export function bucketStart(ms: number, bucket: ReportBucketSize): number {
  const size = bucket === 'hour' ? HOUR_MS : DAY_MS;
  return Math.floor(ms / size) * size;
}

/** The range a report covers: from rounded down to the hour, to rounded up. */
export function reportRange(from: Date, to: Date): { since: Date; until: Date } {
  return { since: new Date(Math.floor(from.getTime() / HOUR_MS) * HOUR_MS), until: new Date(Math.ceil(to.getTime() / HOUR_MS) * HOUR_MS) };
}

/** Buckets a report may list at once: a year of days, or a month of hours and then some. */
export const MAX_REPORT_BUCKETS = 1000;

export function buildReport(campaignId: string, rows: readonly CounterRow[], range: { since: Date; until: Date }, bucket: ReportBucketSize): CampaignReport {
  const sinceMs = range.since.getTime();
  const untilMs = range.until.getTime();
  const all = emptyFigures();
  const variants = new Map<string | null, Figures>();
  const series = new Map<number, EventTotals>();
  const size = bucket === 'hour' ? HOUR_MS : DAY_MS;
  for (let start = bucketStart(sinceMs, bucket); start < untilMs; start += size) series.set(start, emptyTotals());
  for (const row of rows) {
    if (row.hourMs < sinceMs || row.hourMs >= untilMs) continue;
    add(all, row);
    if (!variants.has(row.variantId)) variants.set(row.variantId, emptyFigures());
    add(variants.get(row.variantId)!, row);
    if (!row.kind.startsWith('unique:')) {
      const totals = series.get(bucketStart(row.hourMs, bucket));
      if (totals !== undefined) totals[row.kind as keyof EventTotals] += row.count;
    }
  }
  return {
    campaignId,
    from: range.since.toISOString(),
    to: range.until.toISOString(),
    bucket,
    ...withRates(all),
    variants: [...variants]
      .sort(([a], [b]) => (a ?? '').localeCompare(b ?? ''))
      .map(([variantId, figures]) => ({ variantId, ...withRates(figures) })),
    series: [...series].map(([start, totals]): ReportBucket => ({ start: new Date(start).toISOString(), ...totals })),
  };
}

/** The series as CSV (RFC 4180, CRLF line ends), header first. */
export function reportCsv(report: CampaignReport): string {
  const lines = ['start,injected,reinjected,read,expunged'];
  for (const bucket of report.series) lines.push([bucket.start, bucket.injected, bucket.reinjected, bucket.read, bucket.expunged].join(','));
  return `${lines.join('\r\n')}\r\n`;
}
