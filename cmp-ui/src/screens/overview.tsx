/**
 * Overview: running and scheduled campaigns, events of the last 24 hours and 30 days (summed from
 * each campaign's report counters), and conversion points in trouble.
 */
import type { CampaignReport, CampaignView, ConversionPoint, PointHealth } from '@inlay/schemas';
import { getJson, tenantPath } from '../api.js';
import { SeriesChart, type SeriesPoint } from '../components/charts.js';
import { ErrorNote, Loading, Page, StatusBadge, useLoad } from '../components/common.js';
import { formatTime } from '../format.js';
import { tenantUrl } from '../router.js';

/** Reports summed over at most this many campaigns (the newest), to keep the page quick. */
const MAX_CAMPAIGNS_CHARTED = 20;
const KEYS = ['injected', 'read', 'expunged'] as const;

async function summedSeries(tenant: string, campaigns: readonly CampaignView[], bucket: 'hour' | 'day', spanMs: number): Promise<SeriesPoint[]> {
  const to = new Date();
  const from = new Date(to.getTime() - spanMs);
  const reports = await Promise.all(
    campaigns.slice(-MAX_CAMPAIGNS_CHARTED).map((campaign) => getJson<CampaignReport>(`${tenantPath(tenant, 'campaigns', campaign.id, 'report')}?bucket=${bucket}&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`)),
  );
  const sums = new Map<string, Record<string, number>>();
  for (const report of reports) {
    for (const entry of report.series) {
      const sum = sums.get(entry.start) ?? { injected: 0, read: 0, expunged: 0 };
      for (const key of KEYS) sum[key] = (sum[key] ?? 0) + entry[key];
      sums.set(entry.start, sum);
    }
  }
  const format = new Intl.DateTimeFormat(undefined, bucket === 'hour' ? { hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' });
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([start, values]) => ({ label: format.format(new Date(start)), values }));
}

export function OverviewScreen({ tenant }: { tenant: string }) {
  const data = useLoad(async () => {
    const [campaigns, points] = await Promise.all([getJson<CampaignView[]>(tenantPath(tenant, 'campaigns')), getJson<ConversionPoint[]>(tenantPath(tenant, 'conversionPoints'))]);
    const [day, month, health] = await Promise.all([
      summedSeries(tenant, campaigns, 'hour', 24 * 3_600_000),
      summedSeries(tenant, campaigns, 'day', 30 * 86_400_000),
      Promise.all(points.map((point) => getJson<PointHealth>(tenantPath(tenant, 'conversionPoints', point.id, 'health')))),
    ]);
    return { campaigns, day, month, trouble: health.filter((entry) => entry.health !== 'healthy') };
  }, [tenant]);
  const active = (data.data?.campaigns ?? []).filter((campaign) => campaign.status === 'running' || campaign.status === 'scheduled');
  return (
    <Page title={`Overview: ${tenant}`}>
      <ErrorNote error={data.error} />
      {data.data === undefined ? (
        data.loading ? <Loading what="the overview" /> : null
      ) : (
        <>
          <div class="charts">
            <section class="card" aria-labelledby="day-title">
              <h2 id="day-title">Last 24 hours</h2>
              <SeriesChart title="Events per hour" keys={KEYS} points={data.data.day} />
            </section>
            <section class="card" aria-labelledby="month-title">
              <h2 id="month-title">Last 30 days</h2>
              <SeriesChart title="Events per day" keys={KEYS} points={data.data.month} />
            </section>
          </div>
          <section class="card" aria-labelledby="active-title">
            <h2 id="active-title">Running and scheduled</h2>
            {active.length === 0 ? (
              <p>
                Nothing is running or scheduled. <a href={tenantUrl(tenant, 'campaigns', 'new')}>Create a campaign</a>.
              </p>
            ) : (
              <ul class="plain">
                {active.map((campaign) => (
                  <li key={campaign.id}>
                    <a href={tenantUrl(tenant, 'campaigns', campaign.id, 'results')}>{campaign.name}</a> <StatusBadge status={campaign.status} /> {formatTime(campaign.schedule.startAt, campaign.schedule.timeZone)} – {formatTime(campaign.schedule.endAt, campaign.schedule.timeZone)}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section class="card" aria-labelledby="trouble-title">
            <h2 id="trouble-title">Conversion points in trouble</h2>
            {data.data.trouble.length === 0 ? (
              <p>All conversion points are healthy.</p>
            ) : (
              <ul class="plain">
                {data.data.trouble.map((entry) => (
                  <li key={entry.pointId}>
                    <a href={tenantUrl(tenant, 'conversion-points')}>{entry.pointId}</a> <span class={`badge badge-${entry.health}`}>{entry.health}</span> {entry.lastError ?? entry.disabledReason ?? ''} · backlog {entry.backlog}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </Page>
  );
}
