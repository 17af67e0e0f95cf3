/**
 * Message tracking: what a user was shown and did — by address, Message-ID or campaign — with the
 * client and address of each event, and the EML exactly as that user's client fetched it.
 */
import { useState } from 'preact/hooks';
import type { TrackingPage } from '@inlay/schemas';
import { call, download, getJson, tenantPath } from '../api.js';
import { ActionButton, errorText } from '../components/common.js';
import { Page } from '../components/common.js';
import { formatTime } from '../format.js';

type Field = 'user' | 'messageId' | 'campaignId';

export function TrackingScreen({ tenant }: { tenant: string }) {
  const [field, setField] = useState<Field>('user');
  const [value, setValue] = useState('');
  const [page, setPage] = useState<TrackingPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const search = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setPage(await getJson<TrackingPage>(`${tenantPath(tenant, 'tracking')}?${field}=${encodeURIComponent(value.trim())}`));
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title="Message tracking">
      <form
        class="row"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          void search();
        }}
      >
        <div class="field">
          <label for="track-by">Search by</label>
          <select id="track-by" value={field} onChange={(event) => setField(event.currentTarget.value as Field)}>
            <option value="user">User address</option>
            <option value="messageId">Message-ID</option>
            <option value="campaignId">Campaign id</option>
          </select>
        </div>
        <div class="field grow">
          <label for="track-value">Value</label>
          <input id="track-value" required value={value} onInput={(event) => setValue(event.currentTarget.value)} />
        </div>
        <button type="submit" class="button primary" disabled={busy} aria-busy={busy}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </form>
      {error ? (
        <p class="note error" role="alert">
          {error}
        </p>
      ) : null}
      {page ? (
        <section aria-live="polite" aria-label="Tracked messages">
          {page.messages.length === 0 ? <p>No campaign message was shown for this search.</p> : null}
          {page.messages.map((message) => (
            <article class="card tracked" key={message.objectId}>
              <h2>
                Campaign {message.campaignId} · variant {message.variantId ?? 'main'}
              </h2>
              <p class="muted">
                Message-ID {message.messageId} · UID {message.uid} (UIDVALIDITY {message.uidValidity}) · user {message.userKey}
              </p>
              <ol class="events" aria-label="Timeline">
                {message.events.map((event) => (
                  <li key={event.id}>
                    <strong>{event.type}</strong> {formatTime(event.at)}
                    {event.clientName ? ` · ${event.clientName}${event.clientVersion ? ` ${event.clientVersion}` : ''}` : ''}
                    {event.clientAddress ? ` · from ${event.clientAddress}` : ''}
                    {event.node ? ` · node ${event.node}` : ''}
                  </li>
                ))}
              </ol>
              {field === 'user' ? (
                <ActionButton
                  label="Download EML"
                  busyLabel="Downloading…"
                  run={async () => {
                    const response = await call(`${tenantPath(tenant, 'tracking', 'message.eml')}?user=${encodeURIComponent(value.trim())}&objectId=${encodeURIComponent(message.objectId)}`);
                    download(await response.blob(), `${message.objectId}.eml`);
                  }}
                />
              ) : null}
            </article>
          ))}
        </section>
      ) : null}
    </Page>
  );
}
