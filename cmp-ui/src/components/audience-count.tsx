/**
 * "N matching users" under the audience: GET …/audience/count with the audience being edited,
 * asked 400 ms after the last change (typing a rule value is many changes), the request of an
 * older audience aborted so a slow answer never overwrites a newer one. The answer is announced
 * politely (aria-live) and kept on screen while the next count runs (aria-busy).
 *
 * The middleware counts with the engine's own targeting, so the number is who the campaign would
 * reach among the tenant's known users.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Audience, AudienceCount as Count } from '@inlay/schemas';
import { call, tenantPath } from '../api.js';
import { errorText } from './common.js';
import { formatCount } from '../format.js';

const DEBOUNCE_MS = 400;

type State = { readonly kind: 'idle' } | { readonly kind: 'hint' | 'error'; readonly text: string } | { readonly kind: 'count'; readonly count: Count };

/** Why an audience cannot be counted yet (an empty field), or undefined when it can. */
export function countBlocker(audience: Audience): string | undefined {
  switch (audience.type) {
    case 'all':
      return undefined;
    case 'list':
      return audience.importId === '' ? 'Choose an import to see how many users it reaches.' : undefined;
    case 'rules':
      return audience.rules.some((rule) => rule.attribute === '') ? 'Give every rule an attribute to see how many users match.' : undefined;
  }
}

export function describeCount(count: Count): string {
  const users = (n: number): string => `${formatCount(n)} matching user${n === 1 ? '' : 's'}`;
  return count.exact ? users(count.matching) : `at least ${users(count.matching)} of ${formatCount(count.scanned)} scanned (the count stopped early)`;
}

export function AudienceCount({ tenant, audience }: { tenant: string; audience: Audience }) {
  const [state, setState] = useState<State>({ kind: 'idle' });
  const [busy, setBusy] = useState(false);
  const key = JSON.stringify(audience);
  useEffect(() => {
    const blocker = countBlocker(audience);
    if (blocker !== undefined) {
      setBusy(false);
      setState({ kind: 'hint', text: blocker });
      return undefined;
    }
    const controller = new AbortController();
    setBusy(true);
    const timer = setTimeout(() => {
      const path = `${tenantPath(tenant, 'audience', 'count')}?audience=${encodeURIComponent(key)}`;
      call(path, { signal: controller.signal })
        .then(async (response) => (await response.json()) as Count)
        .then(
          (count) => {
            if (controller.signal.aborted) return;
            setState({ kind: 'count', count });
            setBusy(false);
          },
          (error: unknown) => {
            if (controller.signal.aborted) return;
            setState({ kind: 'error', text: `The number of matching users is unknown: ${errorText(error)}` });
            setBusy(false);
          },
        );
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [tenant, key]);
  const text = state.kind === 'count' ? describeCount(state.count) : state.kind === 'idle' ? 'Counting matching users…' : state.text;
  return (
    <p id="audience-count" class={state.kind === 'error' ? 'note error' : 'note'} role="status" aria-live="polite" aria-atomic="true" aria-busy={busy}>
      {text}
      {audience.type === 'all' && state.kind === 'count' ? ' known from imports; users never imported get it too when they log in.' : ''}
    </p>
  );
}
