/**
 * Routes as a typed union parsed from the URL path (History API), so every screen has a link of
 * its own and reload keeps the place. The middleware answers index.html for these paths.
 */
export type Route =
  | { readonly screen: 'signin' }
  | { readonly screen: 'tenants' }
  | { readonly screen: 'overview'; readonly tenant: string }
  | { readonly screen: 'campaigns'; readonly tenant: string }
  | { readonly screen: 'campaign'; readonly tenant: string; readonly campaignId: string | null }
  | { readonly screen: 'results'; readonly tenant: string; readonly campaignId: string }
  | { readonly screen: 'tracking'; readonly tenant: string }
  | { readonly screen: 'points'; readonly tenant: string }
  | { readonly screen: 'sources'; readonly tenant: string }
  | { readonly screen: 'imports'; readonly tenant: string }
  | { readonly screen: 'notFound' };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter((part) => part !== '').map(decodeURIComponent);
  if (parts.length === 0) return { screen: 'signin' };
  if (parts[0] === 'signin' && parts.length === 1) return { screen: 'signin' };
  if (parts[0] === 'tenants' && parts.length === 1) return { screen: 'tenants' };
  if (parts[0] !== 't' || parts[1] === undefined) return { screen: 'notFound' };
  const tenant = parts[1];
  const [section, id, sub] = parts.slice(2);
  switch (section) {
    case undefined:
      return { screen: 'overview', tenant };
    case 'campaigns':
      if (id === undefined) return { screen: 'campaigns', tenant };
      if (id === 'new') return { screen: 'campaign', tenant, campaignId: null };
      if (sub === 'results') return { screen: 'results', tenant, campaignId: id };
      if (sub === undefined) return { screen: 'campaign', tenant, campaignId: id };
      return { screen: 'notFound' };
    case 'tracking':
      return { screen: 'tracking', tenant };
    case 'conversion-points':
      return { screen: 'points', tenant };
    case 'data-sources':
      return { screen: 'sources', tenant };
    case 'imports':
      return { screen: 'imports', tenant };
    default:
      return { screen: 'notFound' };
  }
}

export const tenantUrl = (tenant: string, ...rest: string[]): string => ['', 't', tenant, ...rest].map(encodeURIComponent).join('/');

let listener: () => void = () => undefined;
export function onNavigate(callback: () => void): void {
  listener = callback;
  window.addEventListener('popstate', () => listener());
}

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listener();
}

/** Same-origin link clicks go through navigate() instead of a page load. */
export function interceptLinks(): void {
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element | null)?.closest?.('a');
    if (!link || link.target || link.hasAttribute('download')) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
}
