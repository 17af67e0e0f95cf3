/** A tenant's data sources (S3 buckets with templates and user lists); secrets never shown. */
import type { DataSourceView } from '@inlay/schemas';
import { getJson, tenantPath } from '../api.js';
import { ErrorNote, Loading, Page, useLoad } from '../components/common.js';
import { tenantUrl } from '../router.js';

export function DataSourcesScreen({ tenant }: { tenant: string }) {
  const sources = useLoad(() => getJson<DataSourceView[]>(tenantPath(tenant, 'dataSources')), [tenant]);
  return (
    <Page title="Data sources">
      <ErrorNote error={sources.error} />
      {sources.data === undefined && sources.loading ? <Loading what="data sources" /> : null}
      {sources.data?.length === 0 ? <p>No data sources: campaigns can still use inline templates, but users cannot be imported.</p> : null}
      {sources.data && sources.data.length > 0 ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Table, scrolls sideways on narrow screens">
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Default</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Bucket</th>
                <th scope="col">Access key</th>
                <th scope="col">Secret</th>
              </tr>
            </thead>
            <tbody>
              {sources.data.map((source) => (
                <tr key={source.id}>
                  <th scope="row">{source.id}</th>
                  <td>{source.defaultDataSource ? 'yes' : 'no'}</td>
                  <td class="url">{source.awsConnectionInformation.endpoint}</td>
                  <td>{source.awsConnectionInformation.bucket}</td>
                  <td>{source.awsConnectionInformation.accessKey}</td>
                  <td>{source.awsConnectionInformation.secretKeySet ? 'set (never shown)' : 'not set'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <p class="help">
        To check a connection, start an import from it on the <a href={tenantUrl(tenant, 'imports')}>Imports</a> page: a source that cannot be reached fails the import at once with S3's reason.
      </p>
    </Page>
  );
}
