/** Sign in with an API token: the admin's, or a tenant's (which then sees only its tenant). */
import { useState } from 'preact/hooks';
import { signIn, type SignedIn } from '../api.js';
import { errorText } from '../components/common.js';

export function SignInScreen({ notice, onSignedIn }: { notice: string; onSignedIn: (signedIn: SignedIn) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="signin">
      <h1 id="page-title" tabIndex={-1}>
        Inlay campaigns
      </h1>
      <p>Sign in with the API token your administrator gave you: the admin token, or a token of your tenant.</p>
      {notice ? (
        <p class="note" role="status">
          {notice}
        </p>
      ) : null}
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            onSignedIn(await signIn(token.trim()));
          } catch (caught) {
            setError(errorText(caught));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="field">
          <label for="token">API token</label>
          <input id="token" name="token" type="password" autoComplete="off" required value={token} onInput={(event) => setToken(event.currentTarget.value)} aria-describedby="token-help" />
          <p id="token-help" class="help">
            Kept only in this browser tab until you sign out or close it.
          </p>
        </div>
        {error ? (
          <p class="note error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="button primary" disabled={busy || token.trim() === ''} aria-busy={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
