/**
 * The errors both stores raise, worded once, so a client reads the same sentence whichever store
 * runs. Each says what to do about it. Must never include anything but ids and keyspace names.
 */
import { MiddlewareError } from '../errors.js';
import type { Tenant } from '@inlay/schemas';
import type { Store, StoreKind } from './store.js';

export function tenantExists(id: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_TENANT_EXISTS', `tenant "${id}" already exists; DELETE /api/tenants/${id}/ first to replace it`);
}

export function tenantNotFound(id: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_TENANT_NOT_FOUND', `tenant "${id}" does not exist`);
}

/** The tenant, or TENANT_NOT_FOUND: what every route under /api/tenants/{id} starts with. */
export async function requireTenant(store: Pick<Store, 'getTenant'>, id: string): Promise<Tenant> {
  const tenant = await store.getTenant(id);
  if (!tenant) throw tenantNotFound(id);
  return tenant;
}

export function keyspaceInUse(keyspace: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_KEYSPACE_IN_USE', `keyspace "${keyspace}" belongs to another tenant; choose another keyspaceName`);
}

export function keyspaceReserved(keyspace: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_KEYSPACE_IN_USE', `keyspace "${keyspace}" is reserved (Cassandra's own, or Inlay's registry); choose another keyspaceName`);
}

export function keyspaceMissing(keyspace: string, tenantId: string | undefined, store: StoreKind): MiddlewareError {
  const howToCreate =
    store === 'cassandra'
      ? `create it (CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'NetworkTopologyStrategy', …}) and retry, or`
      : 'there is nothing to create by hand in the embedded store:';
  const owner = tenantId === undefined ? '' : ` of tenant "${tenantId}"`;
  return new MiddlewareError(
    'INLAY_MW_KEYSPACE_MISSING',
    `keyspace "${keyspace}"${owner} does not exist; ${howToCreate} repeat the request with ?createDB=true to have Inlay create it`,
  );
}

export function storeUnavailable(cause: unknown): MiddlewareError {
  return new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE', undefined, {}, { cause });
}

export function concurrentUpdate(id: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_CONCURRENT_UPDATE', `tenant "${id}" kept changing while it was being updated; retry`);
}
