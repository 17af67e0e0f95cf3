/**
 * Which tenant a login belongs to, and the user key it is known by there:
 *
 * 1. "user@domain": the tenant whose configuration.domains lists the domain (lower-cased);
 * 2. otherwise the tenant with id "default", if there is one;
 * 3. otherwise none: the user is unknown and sees no virtual messages.
 *
 * Should two tenants list one domain (two creates that raced past the DOMAIN_IN_USE check), the
 * one with the lowest id wins, the same on every node. Tenants are few and change rarely, and
 * every view request needs them, so the list is kept in memory for a few seconds.
 *
 * Must never log or return a tenant's secret key; it is only handed to userKeyFor.
 */
import type { Tenant } from '@inlay/schemas';
import type { Store } from '../store/store.js';
import { normalizeAddress, userKeyFor } from '../users/user-key.js';
import { TimedCache } from './timed-cache.js';

export const DEFAULT_TENANT_ID = 'default';

export interface ResolvedUser {
  readonly tenant: Tenant;
  /** The login, normalized: what a rendered message is addressed to. */
  readonly address: string;
  readonly userKey: string;
}

/** Pure: the tenant of `login` among `tenants` (listed by id, as the store lists them). */
export function tenantForLogin(tenants: readonly Tenant[], login: string): Tenant | undefined {
  const normalized = normalizeAddress(login);
  const at = normalized.lastIndexOf('@');
  const domain = at >= 0 ? normalized.slice(at + 1) : '';
  const byDomain = domain === '' ? undefined : [...tenants].sort((a, b) => (a.id < b.id ? -1 : 1)).find((tenant) => tenant.configuration.domains?.includes(domain));
  return byDomain ?? tenants.find((tenant) => tenant.id === DEFAULT_TENANT_ID);
}

export class TenantDirectory {
  private readonly cache: TimedCache<readonly Tenant[]>;

  constructor(
    private readonly store: Pick<Store, 'listTenants'>,
    cacheMs: number,
    clock: () => number,
  ) {
    this.cache = new TimedCache(cacheMs, clock);
  }

  async resolve(login: string): Promise<ResolvedUser | undefined> {
    const tenants = await this.cache.get('all', () => this.store.listTenants());
    const tenant = tenantForLogin(tenants, login);
    if (tenant === undefined) return undefined;
    return { tenant, address: normalizeAddress(login), userKey: userKeyFor(tenant, login) };
  }
}
