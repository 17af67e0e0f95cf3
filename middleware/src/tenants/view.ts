/**
 * What the API shows of a stored tenant: everything but its secrets. `secretKey` fields are
 * replaced by `secretKeySet: true`, so a client can tell a key is stored without ever reading it.
 * The response schemas have no field for a secret either, so this is the first of two walls.
 *
 * Must never copy an object wholesale into a view: fields are listed one by one.
 */
import { pointView } from '../delivery/point-view.js';
import type { DataSource, DataSourceView, Tenant, TenantView } from '@inlay/schemas';

export function toDataSourceView(dataSource: DataSource): DataSourceView {
  const connection = dataSource.awsConnectionInformation;
  return {
    id: dataSource.id,
    type: dataSource.type,
    defaultDataSource: dataSource.defaultDataSource,
    deleteTemporaryImportFiles: dataSource.deleteTemporaryImportFiles,
    awsConnectionInformation: {
      authorizationType: connection.authorizationType,
      accessKey: connection.accessKey,
      secretKeySet: connection.secretKey.length > 0,
      endpoint: connection.endpoint,
      bucket: connection.bucket,
      ...(connection.region === undefined ? {} : { region: connection.region }),
      ...(connection.pathStyle === undefined ? {} : { pathStyle: connection.pathStyle }),
    },
  };
}

export function toTenantView(tenant: Tenant): TenantView {
  return {
    id: tenant.id,
    name: tenant.name,
    keyspaceName: tenant.keyspaceName,
    configuration: {
      secretKeySet: tenant.configuration.secretKey.length > 0,
      hashedEmailAddresses: tenant.configuration.hashedEmailAddresses,
      ...(tenant.configuration.domains === undefined ? {} : { domains: [...tenant.configuration.domains] }),
    },
    conversionPoints: tenant.conversionPoints.map(pointView),
    dataSources: tenant.dataSources.map(toDataSourceView),
  };
}
