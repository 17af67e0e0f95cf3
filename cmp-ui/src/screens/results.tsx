/**
 * A campaign's results: charts first (funnel injected → read, series by hour or day), the numbers
 * beside them, per variant; unique users; CSV of the series. Refreshed every 10 s while open.
 */
import { useEffect, useState } from 'preact/hooks';
import type { CampaignReport, CampaignView } from '@inlay/schemas';
import { call, download, getJson, tenantPath } from '../api.js';
import { ActionButton, ErrorNote, Loading, Page, StatusBadge, useLoad } from '../components/common.js';
import { Funnel, SeriesChart } from '../components/charts.js';
import { formatCount, formatRate } from '../format.js';
import { tenantUrl } from '../router.js';

const LIVE_REFRESH_MS = 10_000;
type Bucket = 'hour' | 'day';

function range(bucket: Bucket): { from: string; to: string } {
  const now = Date.now();
  const span = bucket === 'hour' ? 48 * 3_600_000 : 30 * 86_400_000;
  return { from: new Date(now - span).toISOString(), to: new Date(now + 3_600_000).toISOString() };
}

export function ResultsScreen({ tenant, campaignId }: { tenant: string; campaignId: string }) {
  const [bucket, setBucket] = useState<Bucket>('hour');
  const campaign = useLoad(() => getJson<CampaignView>(tenantPath(tenant, 'campaigns', campaignId)), [tenant, campaignId]);
  const reportPath = (): string => {
    const { from, to } = range(bucket);
    return `${tenantPath(tenant, 'campaigns', campaignId, 'report')}?bucket=${bucket}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  };
  const report = useLoad(() => getJson<CampaignReport>(reportPath()), [tenant, campaignId, bucket]);
  useEffect(() => {
    const timer = setInterval(() => report.reload(), LIVE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [tenant, campaignId]);
  const data = report.data;
  const label = (iso: string): string => new Intl.DateTimeFormat(undefined, bucket === 'hour' ? { hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' }).format(new Date(iso));
  return (
    <Page
      title={`Results: ${campaign.data?.name ?? 'campaign'}`}
      actions={
        <>
          <a class="button secondary" href={tenantUrl(tenant, 'campaigns', campaignId)}>
            Edit campaign
          </a>
          <ActionButton
            label="Download CSV"
            busyLabel="Preparing CSV…"
            run={async () => {
              const response = await call(reportPath(), { headers: { accept: 'text/csv' } });
              download(await response.blob(), `campaign-${campaignId}-${bucket}.csv`);
            }}
          />
        </>
      }
    >
      <ErrorNote error={campaign.error ?? report.error} />
      {campaign.data ? (
        <p>
          Status <StatusBadge status={campaign.data.status} />
        </p>
      ) : null}
      <div class="field inline">
        <label for="bucket">Series by</label>
        <select id="bucket" value={bucket} onChange={(event) => setBucket(event.currentTarget.value as Bucket)}>
          <option value="hour">hour (last 48 hours)</option>
          <option value="day">day (last 30 days)</option>
        </select>
      </div>
      {data === undefined ? (
        report.loading ? <Loading what="the report" /> : null
      ) : (
        <>
          <div class="charts">
            <section class="card" aria-labelledby="funnel-title">
              <h2 id="funnel-title">Funnel (unique users)</h2>
              <Funnel
                steps={[
                  { label: 'Injected', value: data.uniqueUsers.injected },
                  { label: 'Read', value: data.uniqueUsers.read },
                ]}
              />
              <dl class="figures">
                <dt>Read rate</dt>
                <dd data-testid="read-rate">{formatRate(data.readRate)}</dd>
                <dt>Expunge rate</dt>
                <dd>{formatRate(data.expungeRate)}</dd>
                <dt>Expunged (users)</dt>
                <dd>{formatCount(data.uniqueUsers.expunged)}</dd>
              </dl>
            </section>
            <section class="card" aria-labelledby="series-title">
              <h2 id="series-title">Events over time</h2>
              <SeriesChart title={`Events per ${bucket}`} keys={['injected', 'read', 'expunged']} points={data.series.map(({ start, ...values }) => ({ label: label(start), values }))} />
            </section>
          </div>
          <section class="card" aria-labelledby="variants-title">
            <h2 id="variants-title">By variant</h2>
            <div class="table-wrap" tabIndex={0} role="region" aria-label="Table, scrolls sideways on narrow screens">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Variant</th>
                    <th scope="col" class="num">Injected</th>
                    <th scope="col" class="num">Reinjected</th>
                    <th scope="col" class="num">Read</th>
                    <th scope="col" class="num">Expunged</th>
                    <th scope="col" class="num">Users shown</th>
                    <th scope="col" class="num">Users read</th>
                    <th scope="col" class="num">Read rate</th>
                  </tr>
                </thead>
                <tbody>
                  {[{ variantId: 'All variants', ...data }, ...data.variants].map((row) => (
                    <tr key={row.variantId ?? 'main'} data-variant={row.variantId ?? 'main'}>
                      <th scope="row">{row.variantId ?? 'main'}</th>
                      <td class="num">{formatCount(row.totals.injected)}</td>
                      <td class="num">{formatCount(row.totals.reinjected)}</td>
                      <td class="num">{formatCount(row.totals.read)}</td>
                      <td class="num">{formatCount(row.totals.expunged)}</td>
                      <td class="num">{formatCount(row.uniqueUsers.injected)}</td>
                      <td class="num">{formatCount(row.uniqueUsers.read)}</td>
                      <td class="num">{formatRate(row.readRate)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
    </Page>
  );
}
