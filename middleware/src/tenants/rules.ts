/**
 * Rules on a tenant's lists that a JSON Schema cannot say: ids unique within a list, exactly one
 * default data source, and which S3 secret a data source keeps when a PUT leaves it out.
 * Everything here is pure and throws 400-class MiddlewareErrors that name the field.
 *
 * Must never accept a data source without a secret unless a stored one with the same id exists.
 */
import type { ConversionPoint, DataSource, DataSourceInput, Tenant, TenantInput } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';

/** `field` is how the list is named in messages: `body` for a PUT, `body.dataSources` in a POST. */
export function checkUniqueIds(items: readonly { id: string }[], field: string): void {
  const firstIndex = new Map<string, number>();
  items.forEach((item, index) => {
    const earlier = firstIndex.get(item.id);
    if (earlier !== undefined) {
      throw new MiddlewareError('INLAY_MW_DUPLICATE_ID', `${field}[${index}].id repeats the id "${item.id}" of ${field}[${earlier}]; ids must be unique`);
    }
    firstIndex.set(item.id, index);
  });
}

/** An empty list is allowed (a tenant without data sources); otherwise exactly one default. */
export function checkDefaultDataSource(dataSources: readonly { defaultDataSource: boolean }[], field: string): void {
  if (dataSources.length === 0) return;
  const defaults = dataSources.flatMap((dataSource, index) => (dataSource.defaultDataSource ? [index] : []));
  if (defaults.length === 1) return;
  const found = defaults.length === 0 ? 'none has' : `${defaults.map((index) => `${field}[${index}]`).join(', ')} have`;
  throw new MiddlewareError('INLAY_MW_DEFAULT_DATA_SOURCE', `exactly one entry of ${field} must have defaultDataSource true; ${found}`);
}

/**
 * The data sources to store for a PUT: each incoming entry with its own secret, or — when it
 * leaves the secret out — the stored secret of the data source with the same id. The read-only
 * `secretKeySet` marker of a GET result is dropped.
 */
export function mergeDataSourceSecrets(current: readonly DataSource[], incoming: readonly DataSourceInput[], field: string): DataSource[] {
  const storedSecrets = new Map(current.map((dataSource) => [dataSource.id, dataSource.awsConnectionInformation.secretKey]));
  return incoming.map((dataSource, index) => {
    const { secretKey, secretKeySet: _readOnly, ...connection } = dataSource.awsConnectionInformation;
    const kept = secretKey ?? storedSecrets.get(dataSource.id);
    if (kept === undefined) {
      throw new MiddlewareError(
        'INLAY_MW_SECRET_REQUIRED',
        `${field}[${index}].awsConnectionInformation.secretKey is required: there is no stored data source "${dataSource.id}" whose key could be kept`,
      );
    }
    return {
      id: dataSource.id,
      type: dataSource.type,
      defaultDataSource: dataSource.defaultDataSource,
      deleteTemporaryImportFiles: dataSource.deleteTemporaryImportFiles ?? false,
      awsConnectionInformation: { ...connection, secretKey: kept },
    };
  });
}

export function checkDataSources(dataSources: readonly DataSourceInput[], field: string): void {
  checkUniqueIds(dataSources, field);
  checkDefaultDataSource(dataSources, field);
}

export function checkConversionPoints(conversionPoints: readonly ConversionPoint[], field: string): void {
  checkUniqueIds(conversionPoints, field);
}

/**
 * DOMAIN_IN_USE when another tenant already lists one of `tenant`'s domains: a login must resolve
 * to one tenant. Checked against the stored tenants before the create, so two creates racing for
 * one domain can both pass; the resolver then picks the tenant with the lowest id
 * (engine/tenant-directory.ts), deterministically on every node.
 */
export function checkDomainsFree(tenant: Tenant, existing: readonly Tenant[]): void {
  const taken = new Map<string, string>();
  for (const other of existing) if (other.id !== tenant.id) for (const domain of other.configuration.domains ?? []) taken.set(domain, other.id);
  (tenant.configuration.domains ?? []).forEach((domain, index) => {
    const owner = taken.get(domain);
    if (owner !== undefined) {
      throw new MiddlewareError('INLAY_MW_DOMAIN_IN_USE', `body.configuration.domains[${index}] is already served by tenant "${owner}"; a domain belongs to one tenant`);
    }
  });
}

/** A posted tenant, checked, as it is stored (a new tenant has no secrets to keep). */
export function tenantFromInput(input: TenantInput): Tenant {
  const conversionPoints = input.conversionPoints ?? [];
  const dataSources = input.dataSources ?? [];
  checkConversionPoints(conversionPoints, 'body.conversionPoints');
  checkDataSources(dataSources, 'body.dataSources');
  return {
    id: input.id,
    name: input.name,
    keyspaceName: input.keyspaceName,
    configuration: {
      secretKey: input.configuration.secretKey,
      hashedEmailAddresses: input.configuration.hashedEmailAddresses ?? false,
      ...(input.configuration.domains === undefined ? {} : { domains: [...input.configuration.domains] }),
    },
    conversionPoints,
    dataSources: mergeDataSourceSecrets([], dataSources, 'body.dataSources'),
  };
}
