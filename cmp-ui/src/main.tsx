/**
 * The app shell: who is signed in, which screen the URL names, the navigation. Screens load their
 * own data through api.ts; a 401 anywhere brings the user back here, to sign-in, with the reason.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Session } from '@inlay/schemas';
import { currentSignIn, onSignedOut, signOut, takeSignOutReason, type SignedIn } from './api.js';
import { interceptLinks, navigate, onNavigate, parseRoute, tenantUrl, type Route } from './router.js';
import { SignInScreen } from './screens/sign-in.js';
import { OverviewScreen } from './screens/overview.js';
import { CampaignListScreen } from './screens/campaign-list.js';
import { CampaignEditorScreen } from './screens/campaign-editor.js';
import { ResultsScreen } from './screens/results.js';
import { TrackingScreen } from './screens/tracking.js';
import { ConversionPointsScreen } from './screens/conversion-points.js';
import { DataSourcesScreen } from './screens/data-sources.js';
import { ImportsScreen } from './screens/imports.js';
import { TenantsScreen } from './screens/tenants.js';
import './styles.css';

function homeOf(session: Session): string {
  return session.kind === 'tenant' ? tenantUrl(session.tenantId) : '/tenants';
}

/** A tenant token may only look at its own tenant: any other tenant in the URL goes home. */
function allowed(route: Route, session: Session): boolean {
  if (session.kind === 'admin') return true;
  if (route.screen === 'tenants') return false;
  return !('tenant' in route) || route.tenant === session.tenantId;
}

function App() {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(currentSignIn());
  const [route, setRoute] = useState<Route>(parseRoute(location.pathname));
  const [notice, setNotice] = useState(() => (currentSignIn() ? '' : takeSignOutReason()));

  useEffect(() => {
    onNavigate(() => {
      setRoute(parseRoute(location.pathname));
      // Focus the new page's heading so screen readers announce it and Tab starts there.
      requestAnimationFrame(() => document.getElementById('page-title')?.focus({ preventScroll: false }));
    });
    onSignedOut((reason) => {
      setSignedIn(null);
      setNotice(takeSignOutReason() || reason);
      navigate('/signin', true);
    });
    interceptLinks();
  }, []);

  useEffect(() => {
    if (signedIn && (route.screen === 'signin' || !allowed(route, signedIn.session))) navigate(homeOf(signedIn.session), true);
    if (!signedIn && location.pathname !== '/signin') navigate('/signin', true);
  }, [signedIn, route]);

  if (!signedIn || route.screen === 'signin') {
    return (
      <SignInScreen
        notice={notice}
        onSignedIn={(value) => {
          setNotice('');
          setSignedIn(value);
          navigate(homeOf(value.session), true);
        }}
      />
    );
  }
  if (!allowed(route, signedIn.session)) return null;
  const tenant = 'tenant' in route ? route.tenant : signedIn.session.kind === 'tenant' ? signedIn.session.tenantId : null;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={homeOf(signedIn.session)}>
          Inlay campaigns
        </a>
        <nav aria-label="Main">
          <ul>
            {tenant ? (
              <>
                <NavLink href={tenantUrl(tenant)} current={route.screen === 'overview'} label="Overview" />
                <NavLink href={tenantUrl(tenant, 'campaigns')} current={route.screen === 'campaigns' || route.screen === 'campaign' || route.screen === 'results'} label="Campaigns" />
                <NavLink href={tenantUrl(tenant, 'tracking')} current={route.screen === 'tracking'} label="Tracking" />
                <NavLink href={tenantUrl(tenant, 'conversion-points')} current={route.screen === 'points'} label="Conversion points" />
                <NavLink href={tenantUrl(tenant, 'data-sources')} current={route.screen === 'sources'} label="Data sources" />
                <NavLink href={tenantUrl(tenant, 'imports')} current={route.screen === 'imports'} label="Imports" />
              </>
            ) : null}
            {signedIn.session.kind === 'admin' ? <NavLink href="/tenants" current={route.screen === 'tenants'} label="Tenants" /> : null}
          </ul>
        </nav>
        <div class="who">
          <span>{signedIn.session.kind === 'admin' ? (tenant ? `Admin · ${tenant}` : 'Admin') : `Tenant ${signedIn.session.tenantId}`}</span>
          <button type="button" class="button secondary" onClick={() => signOut('You signed out.')}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Screen route={route} admin={signedIn.session.kind === 'admin'} />
      </main>
    </>
  );
}

function NavLink({ href, current, label }: { href: string; current: boolean; label: string }) {
  return (
    <li>
      <a href={href} aria-current={current ? 'page' : undefined}>
        {label}
      </a>
    </li>
  );
}

function Screen({ route, admin }: { route: Route; admin: boolean }) {
  switch (route.screen) {
    case 'signin':
      return null;
    case 'tenants':
      return <TenantsScreen />;
    case 'overview':
      return <OverviewScreen tenant={route.tenant} />;
    case 'campaigns':
      return <CampaignListScreen tenant={route.tenant} />;
    case 'campaign':
      return <CampaignEditorScreen key={route.campaignId ?? 'new'} tenant={route.tenant} campaignId={route.campaignId} />;
    case 'results':
      return <ResultsScreen tenant={route.tenant} campaignId={route.campaignId} />;
    case 'tracking':
      return <TrackingScreen tenant={route.tenant} />;
    case 'points':
      return <ConversionPointsScreen tenant={route.tenant} />;
    case 'sources':
      return <DataSourcesScreen tenant={route.tenant} />;
    case 'imports':
      return <ImportsScreen tenant={route.tenant} />;
    case 'notFound':
      return (
        <>
          <h1 id="page-title" tabIndex={-1}>
            Page not found
          </h1>
          <p>
            This address is not a page of the campaign tool. <a href={admin ? '/tenants' : '/'}>Go to the start page</a>.
          </p>
        </>
      );
  }
}

render(<App />, document.getElementById('app')!);
