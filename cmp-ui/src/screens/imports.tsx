/**
 * Imports of users from a data source: start one, watch it run (rows read, imported, refused;
 * refreshed every second while one runs), read its per-row errors, and the history.
 */
import { useEffect, useState } from 'preact/hooks';
import type { DataSourceView, ImportView } from '@inlay/schemas';
import { getJson, sendJson, tenantPath } from '../api.js';
import { ErrorNote, Loading, Page, StatusBadge, errorText, useLoad } from '../components/common.js';
import { formatCount, formatTime } from '../format.js';

const POLL_MS = 1_000;

export function ImportsScreen({ tenant }: { tenant: string }) {
  const imports = useLoad(() => getJson<ImportView[]>(tenantPath(tenant, 'imports')), [tenant]);
  const sources = useLoad(() => getJson<DataSourceView[]>(tenantPath(tenant, 'dataSources')), [tenant]);
  const [selected, setSelected] = useState<string | null>(null);
  const running = (imports.data ?? []).some((entry) => entry.status === 'queued' || entry.status === 'running');
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => imports.reload(), POLL_MS);
    return () => clearInterval(timer);
  }, [running]);
  return (
    <Page title="Imports">
      <StartImport tenant={tenant} sources={sources.data ?? []} onStarted={(id) => (setSelected(id), imports.reload())} />
      <ErrorNote error={imports.error} />
      {imports.data === undefined && imports.loading ? <Loading what="imports" /> : null}
      {imports.data?.length === 0 ? <p>No imports yet.</p> : null}
      {imports.data && imports.data.length > 0 ? (
        <section class="card" aria-labelledby="history-title">
          <h2 id="history-title">History</h2>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Table, scrolls sideways on narrow screens">
            <table>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Status</th>
                  <th scope="col">Progress</th>
                  <th scope="col" class="num">Imported</th>
                  <th scope="col" class="num">Refused</th>
                  <th scope="col">Started</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {imports.data.map((entry) => (
                  <tr key={entry.id}>
                    <th scope="row">
                      {entry.objectKey} <small class="muted">({entry.dataSourceId})</small>
                    </th>
                    <td>
                      <StatusBadge status={entry.status} />
                      {entry.error ? <span class="inline-error"> {entry.error}</span> : null}
                    </td>
                    <td>
                      {entry.status === 'running' || entry.status === 'queued' ? <progress aria-label={`Import of ${entry.objectKey}`} /> : null} {formatCount(entry.rowsRead)} rows read
                    </td>
                    <td class="num">{formatCount(entry.rowsImported)}</td>
                    <td class="num">{formatCount(entry.rowsFailed)}</td>
                    <td>{formatTime(entry.startedAt ?? entry.createdAt)}</td>
                    <td>
                      <button type="button" class="button secondary" onClick={() => setSelected(entry.id)} aria-label={`Details of the import of ${entry.objectKey}`}>
                        Details
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      {selected ? <ImportDetails key={selected} tenant={tenant} importId={selected} poll={running} /> : null}
    </Page>
  );
}

function StartImport({ tenant, sources, onStarted }: { tenant: string; sources: readonly DataSourceView[]; onStarted: (id: string) => void }) {
  const [dataSourceId, setDataSourceId] = useState('');
  const [objectKey, setObjectKey] = useState('');
  const [format, setFormat] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="card" aria-labelledby="start-title">
      <h2 id="start-title">Start an import</h2>
      <form
        class="row"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const started = await sendJson<ImportView>('POST', tenantPath(tenant, 'imports'), { objectKey, ...(dataSourceId ? { dataSourceId } : {}), ...(format ? { format } : {}) });
            onStarted(started.id);
          } catch (caught) {
            setError(errorText(caught));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="field">
          <label for="import-source">Data source</label>
          <select id="import-source" value={dataSourceId} onChange={(event) => setDataSourceId(event.currentTarget.value)}>
            <option value="">the default one</option>
            {sources.map((source) => (
              <option key={source.id} value={source.id}>
                {source.id}
              </option>
            ))}
          </select>
        </div>
        <div class="field grow">
          <label for="import-key">File (object key)</label>
          <input id="import-key" required value={objectKey} placeholder="users/2026-12.csv" onInput={(event) => setObjectKey(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="import-format">Format</label>
          <select id="import-format" value={format} onChange={(event) => setFormat(event.currentTarget.value)}>
            <option value="">from the file name</option>
            <option value="csv">CSV</option>
            <option value="jsonl">JSON lines</option>
          </select>
        </div>
        <button type="submit" class="button primary" disabled={busy} aria-busy={busy}>
          {busy ? 'Starting…' : 'Start import'}
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}

function ImportDetails({ tenant, importId, poll }: { tenant: string; importId: string; poll: boolean }) {
  const detail = useLoad(() => getJson<ImportView>(tenantPath(tenant, 'imports', importId)), [tenant, importId]);
  useEffect(() => {
    if (!poll) return;
    const timer = setInterval(() => detail.reload(), POLL_MS);
    return () => clearInterval(timer);
  }, [poll]);
  const data = detail.data;
  return (
    <section class="card" aria-labelledby="detail-title" aria-live="polite">
      <h2 id="detail-title">Import {data?.objectKey ?? importId}</h2>
      <ErrorNote error={detail.error} />
      {data ? (
        <>
          <p>
            <StatusBadge status={data.status} /> · {formatCount(data.rowsRead)} rows read, {formatCount(data.rowsImported)} imported, {formatCount(data.rowsFailed)} refused · finished {formatTime(data.finishedAt)}
          </p>
          {data.error ? <p class="note error">{data.error}</p> : null}
          {(data.errors ?? []).length > 0 ? (
            <div class="table-wrap" tabIndex={0} role="region" aria-label="Table, scrolls sideways on narrow screens">
              <table aria-label="Refused rows">
                <thead>
                  <tr>
                    <th scope="col" class="num">Line</th>
                    <th scope="col">Why it was refused</th>
                  </tr>
                </thead>
                <tbody>
                  {(data.errors ?? []).map((row) => (
                    <tr key={row.row}>
                      <td class="num">{formatCount(row.row)}</td>
                      <td>{row.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p>No row was refused.</p>
          )}
          {data.errorsOmitted ? <p>{formatCount(data.errorsOmitted)} more refused rows are not listed.</p> : null}
        </>
      ) : null}
    </section>
  );
}
