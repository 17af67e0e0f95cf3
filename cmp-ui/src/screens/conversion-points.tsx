/**
 * Conversion points: each point's health, its delivery log with resend, recover since a time,
 * enable/disable, and secret rotation (the new secret shown once, with a copy button). New points
 * are added to the tenant's list (PUT of the whole list, as the API takes it).
 */
import { useState } from 'preact/hooks';
import type { ConversionPoint, DeliverySummary, EventType, PointHealth as Health } from '@inlay/schemas';
import { getJson, sendJson, tenantPath } from '../api.js';
import { ActionButton, ErrorNote, Loading, Page, errorText, useLoad } from '../components/common.js';
import { formatCount, formatTime } from '../format.js';

const EVENT_TYPES: readonly EventType[] = ['injected', 'reinjected', 'read', 'expunged'];

export function ConversionPointsScreen({ tenant }: { tenant: string }) {
  const points = useLoad(() => getJson<ConversionPoint[]>(tenantPath(tenant, 'conversionPoints')), [tenant]);
  return (
    <Page title="Conversion points">
      <ErrorNote error={points.error} />
      {points.data === undefined ? (points.loading ? <Loading what="conversion points" /> : null) : null}
      {points.data?.length === 0 ? <p>No conversion points yet: events are recorded but sent nowhere.</p> : null}
      {points.data?.map((point) => <PointCard key={point.id} tenant={tenant} point={point} />)}
      {points.data ? <AddPoint tenant={tenant} points={points.data} onAdded={points.reload} /> : null}
    </Page>
  );
}

function PointCard({ tenant, point }: { tenant: string; point: ConversionPoint }) {
  const base = tenantPath(tenant, 'conversionPoints', point.id);
  const health = useLoad(() => getJson<Health>(`${base}/health`), [tenant, point.id]);
  const log = useLoad(() => getJson<DeliverySummary[]>(`${base}/deliveries?limit=50`), [tenant, point.id]);
  const [secret, setSecret] = useState<string | null>(null);
  const [since, setSince] = useState('');
  const [message, setMessage] = useState('');
  const refresh = (): void => {
    health.reload();
    log.reload();
  };
  return (
    <section class="card point" aria-labelledby={`point-${point.id}`}>
      <h2 id={`point-${point.id}`}>
        {point.id} <small class="muted">({point.type} · {point.eventType})</small>
      </h2>
      <p class="muted url">{point.connectionInformation.url}</p>
      <ErrorNote error={health.error ?? log.error} />
      {health.data ? (
        <p>
          <span class={`badge badge-${health.data.health}`}>{health.data.health}</span> · backlog {formatCount(health.data.backlog)} · last success {formatTime(health.data.lastSuccessAt)} · last failure {formatTime(health.data.lastFailureAt)}
          {health.data.disabledReason ? ` · ${health.data.disabledReason}` : ''}
          {health.data.lastError ? ` · last error: ${health.data.lastError}` : ''}
        </p>
      ) : null}
      <div class="button-row">
        <ActionButton label="Refresh" run={async () => refresh()} />
        {health.data?.health === 'disabled' ? (
          <ActionButton label="Enable" run={async () => (await sendJson('POST', `${base}/enable`), refresh())} />
        ) : (
          <ActionButton label="Disable" kind="danger" run={async () => (await sendJson('POST', `${base}/disable`), refresh())} />
        )}
        <ActionButton
          label="Rotate secret"
          kind="danger"
          run={async () => {
            if (!confirm(`Rotate the signing secret of ${point.id}? The old one keeps signing alongside for 24 hours.`)) return;
            setSecret((await sendJson<{ secret: string }>('POST', `${base}/secret/rotate`)).secret);
          }}
        />
      </div>
      {secret ? (
        <div class="note secret" role="status">
          <label for={`secret-${point.id}`}>New secret — shown only now; copy it into your receiver:</label>
          <input id={`secret-${point.id}`} readOnly value={secret} onFocus={(event) => event.currentTarget.select()} />
          <button type="button" class="button secondary" onClick={() => void navigator.clipboard?.writeText(secret).then(() => setMessage('Secret copied.'), () => setMessage('Copy failed: select the field and copy by hand.'))}>
            Copy
          </button>
          <button type="button" class="button secondary" onClick={() => setSecret(null)}>
            Hide
          </button>
        </div>
      ) : null}
      <form
        class="row"
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            const result = await sendJson<{ requeued: number }>('POST', `${base}/recover`, { since: new Date(since).toISOString() });
            setMessage(`${formatCount(result.requeued)} deliveries queued again.`);
            refresh();
          } catch (caught) {
            setMessage(errorText(caught));
          }
        }}
      >
        <div class="field">
          <label for={`recover-${point.id}`}>Resend failed and dead deliveries since</label>
          <input id={`recover-${point.id}`} type="datetime-local" required value={since} onInput={(event) => setSince(event.currentTarget.value)} />
        </div>
        <button type="submit" class="button secondary">
          Recover
        </button>
      </form>
      <p role="status">{message}</p>
      <h3>Delivery log</h3>
      {log.data && log.data.length === 0 ? <p>No deliveries yet.</p> : null}
      {log.data && log.data.length > 0 ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Table, scrolls sideways on narrow screens">
          <table class="delivery-log" aria-label={`Delivery log of ${point.id}`}>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">State</th>
                <th scope="col" class="num">Attempts</th>
                <th scope="col">Last result</th>
                <th scope="col">Updated</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {log.data.map((delivery) => (
                <tr key={delivery.deliveryId}>
                  <th scope="row">
                    {delivery.eventType} <small class="muted">{delivery.deliveryId}</small>
                  </th>
                  <td>{delivery.state}</td>
                  <td class="num">{formatCount(delivery.attempts)}</td>
                  <td>{delivery.lastResult ?? '—'}</td>
                  <td>{formatTime(delivery.updatedAt)}</td>
                  <td>
                    <ActionButton label="Resend" run={async () => (await sendJson('POST', `${base}/deliveries/${encodeURIComponent(delivery.deliveryId)}/resend`), refresh())} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function AddPoint({ tenant, points, onAdded }: { tenant: string; points: readonly ConversionPoint[]; onAdded: () => void }) {
  const [id, setId] = useState('');
  const [eventType, setEventType] = useState<EventType>('read');
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="card" aria-labelledby="add-point-title">
      <h2 id="add-point-title">Add a webhook point</h2>
      <form
        class="row"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await sendJson('PUT', tenantPath(tenant, 'conversionPoints'), [...points, { id, type: 'webhook', eventType, connectionInformation: { url } }]);
            setId('');
            setUrl('');
            onAdded();
          } catch (caught) {
            setError(errorText(caught));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="field">
          <label for="point-id">Id</label>
          <input id="point-id" required value={id} onInput={(event) => setId(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="point-event">Event</label>
          <select id="point-event" value={eventType} onChange={(event) => setEventType(event.currentTarget.value as EventType)}>
            {EVENT_TYPES.map((type) => (
              <option key={type} value={type}>
                {type}
              </option>
            ))}
          </select>
        </div>
        <div class="field grow">
          <label for="point-url">URL</label>
          <input id="point-url" type="url" required value={url} onInput={(event) => setUrl(event.currentTarget.value)} />
        </div>
        <button type="submit" class="button primary" disabled={busy} aria-busy={busy}>
          {busy ? 'Adding…' : 'Add point'}
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
