/**
 * Live preview per user: the message exactly as GET …/preview renders it for that address (raw
 * bytes shown too), its HTML in a frame with sandbox="" (no script, no same-origin, no forms)
 * under the UI's CSP (images only from this origin or data:), so a preview never loads remote
 * content or tracking pixels. Refreshed whenever the campaign is saved.
 */
import { useEffect, useState } from 'preact/hooks';
import { call, tenantPath } from '../api.js';
import { errorText } from '../components/common.js';
import { parseMessage, type ParsedMessage } from '../mime.js';

interface Shown {
  readonly user: string;
  readonly variant: string;
  readonly raw: string;
  readonly parsed: ParsedMessage;
}

export function PreviewPanel({ tenant, campaignId, revision }: { tenant: string; campaignId: string | null; revision: number }) {
  const [user, setUser] = useState('');
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (address: string): Promise<void> => {
    if (campaignId === null || address.trim() === '') return;
    setBusy(true);
    setError(null);
    try {
      const response = await call(`${tenantPath(tenant, 'campaigns', campaignId, 'preview')}?user=${encodeURIComponent(address.trim())}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const binary = Array.from(bytes, (byte) => String.fromCharCode(byte)).join('');
      setShown({ user: address.trim(), variant: response.headers.get('x-inlay-variant') ?? 'main', raw: new TextDecoder().decode(bytes), parsed: parseMessage(binary) });
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  // A save changes the revision: show the same user the new message.
  useEffect(() => {
    if (shown) void load(shown.user);
  }, [revision]);

  return (
    <section aria-labelledby="preview-title" class="card preview">
      <h2 id="preview-title">Preview for a user</h2>
      {campaignId === null ? (
        <p class="help">Save the campaign once to preview it for a user.</p>
      ) : (
        <form
          class="row"
          onSubmit={(event) => {
            event.preventDefault();
            void load(user);
          }}
        >
          <div class="field">
            <label for="preview-user">User address</label>
            <input id="preview-user" type="text" autoComplete="off" spellcheck={false} required value={user} placeholder="alice@example.org" onInput={(event) => setUser(event.currentTarget.value)} />
          </div>
          <button type="submit" class="button secondary" disabled={busy} aria-busy={busy}>
            {busy ? 'Rendering…' : 'Show preview'}
          </button>
        </form>
      )}
      {error ? (
        <p class="note error" role="alert">
          {error}
        </p>
      ) : null}
      {shown ? (
        <div class="preview-body" aria-live="polite">
          <dl class="headers">
            <dt>For</dt>
            <dd>{shown.user}</dd>
            <dt>Variant</dt>
            <dd data-testid="preview-variant">{shown.variant}</dd>
            <dt>From</dt>
            <dd>{shown.parsed.headers.get('from') ?? ''}</dd>
            <dt>Subject</dt>
            <dd data-testid="preview-subject">{shown.parsed.headers.get('subject') ?? ''}</dd>
          </dl>
          {shown.parsed.html !== null ? <iframe title={`HTML preview for ${shown.user}`} sandbox="" srcdoc={shown.parsed.html} class="preview-frame" /> : null}
          {shown.parsed.text !== null ? (
            <details>
              <summary>Text part</summary>
              <pre class="text-part">{shown.parsed.text}</pre>
            </details>
          ) : null}
          <details>
            <summary>Raw message ({shown.raw.length.toLocaleString()} bytes), as the user's mail client fetches it</summary>
            <pre class="raw" data-testid="preview-raw">
              {shown.raw}
            </pre>
          </details>
        </div>
      ) : null}
    </section>
  );
}
