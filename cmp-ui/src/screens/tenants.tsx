/** Tenants (admin only): the list, a new tenant, and tenant tokens (each shown once). */
import { useState } from 'preact/hooks';
import type { TenantView } from '@inlay/schemas';
import { getJson, sendJson } from '../api.js';
import { ActionButton, ErrorNote, Loading, Page, errorText, useLoad } from '../components/common.js';
import { tenantUrl } from '../router.js';

export function TenantsScreen() {
  const tenants = useLoad(() => getJson<TenantView[]>('/tenants'), []);
  const [token, setToken] = useState<{ tenant: string; token: string } | null>(null);
  return (
    <Page title="Tenants">
      <ErrorNote error={tenants.error} />
      {tenants.data === undefined && tenants.loading ? <Loading what="tenants" /> : null}
      {tenants.data?.length === 0 ? <p>No tenants yet. Create “default” first: it serves every login whose domain no other tenant claims.</p> : null}
      {tenants.data && tenants.data.length > 0 ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Table, scrolls sideways on narrow screens">
          <table>
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Keyspace</th>
                <th scope="col">Domains</th>
                <th scope="col">Addresses</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {tenants.data.map((tenant) => (
                <tr key={tenant.id}>
                  <th scope="row">
                    <a href={tenantUrl(tenant.id)}>{tenant.name}</a> <small class="muted">({tenant.id})</small>
                  </th>
                  <td>{tenant.keyspaceName}</td>
                  <td>{(tenant.configuration.domains ?? []).join(', ') || '—'}</td>
                  <td>{tenant.configuration.hashedEmailAddresses ? 'hashed' : 'plain'}</td>
                  <td>
                    <ActionButton label="New token" run={async () => setToken({ tenant: tenant.id, token: (await sendJson<{ token: string }>('POST', `/tenants/${encodeURIComponent(tenant.id)}/tokens`)).token })} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {token ? (
        <div class="note secret" role="status">
          <label for="new-token">Token for {token.tenant} — shown only now; give it to the tenant's team:</label>
          <input id="new-token" readOnly value={token.token} onFocus={(event) => event.currentTarget.select()} />
          <button type="button" class="button secondary" onClick={() => void navigator.clipboard?.writeText(token.token)}>
            Copy
          </button>
        </div>
      ) : null}
      <NewTenant onCreated={tenants.reload} />
    </Page>
  );
}

function NewTenant({ onCreated }: { onCreated: () => void }) {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [secretKey, setSecretKey] = useState('');
  const [hashed, setHashed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="card" aria-labelledby="new-tenant-title">
      <h2 id="new-tenant-title">New tenant</h2>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await sendJson('POST', '/tenants?createDB=true', {
              id,
              name,
              keyspaceName: `inlay_${id.replace(/-/g, '_')}`,
              configuration: { secretKey, hashedEmailAddresses: hashed },
            });
            setId('');
            setName('');
            setSecretKey('');
            onCreated();
          } catch (caught) {
            setError(errorText(caught));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="row">
          <div class="field">
            <label for="tenant-id">Id</label>
            <input id="tenant-id" required pattern="[a-z0-9][a-z0-9_\-]{0,47}" aria-describedby="tenant-id-help" value={id} onInput={(event) => setId(event.currentTarget.value)} />
            <p class="help" id="tenant-id-help">
              Lowercase letters, digits, - and _.
            </p>
          </div>
          <div class="field">
            <label for="tenant-name">Name</label>
            <input id="tenant-name" required value={name} onInput={(event) => setName(event.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="tenant-secret">Hashing key</label>
            <input id="tenant-secret" type="password" required autoComplete="new-password" value={secretKey} onInput={(event) => setSecretKey(event.currentTarget.value)} />
          </div>
        </div>
        <label class="choice">
          <input type="checkbox" checked={hashed} onChange={(event) => setHashed(event.currentTarget.checked)} /> Never store users' addresses (hash them)
        </label>
        <div>
          <button type="submit" class="button primary" disabled={busy} aria-busy={busy}>
            {busy ? 'Creating…' : 'Create tenant'}
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
