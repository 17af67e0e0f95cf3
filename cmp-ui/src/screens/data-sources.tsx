/** A tenant's data sources (S3 buckets with templates and user lists), each with a connection
 *  test (HEAD of the bucket); secrets never shown. */
import { useState } from 'preact/hooks';
import type { DataSourceTestResult, DataSourceView } from '@inlay/schemas';
import { getJson, sendJson, tenantPath } from '../api.js';
import { ActionButton, ErrorNote, Loading, Page, useLoad } from '../components/common.js';
import { formatCount } from '../format.js';

export function DataSourcesScreen({ tenant }: { tenant: string }) {
  const sources = useLoad(() => getJson<DataSourceView[]>(tenantPath(tenant, 'dataSources')), [tenant]);
  const [tests, setTests] = useState<Readonly<Record<string, DataSourceTestResult>>>({});
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
                <th scope="col">Connection</th>
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
                  <td>
                    <ActionButton
                      label="Test connection"
                      busyLabel="Testing…"
                      run={async () => {
                        const result = await sendJson<DataSourceTestResult>('POST', tenantPath(tenant, 'dataSources', source.id, 'test'));
                        setTests((current) => ({ ...current, [source.id]: result }));
                      }}
                    />
                    <p role="status" class={tests[source.id]?.ok === false ? 'inline-error' : 'saved'}>
                      {tests[source.id] ? `${tests[source.id]!.ok ? 'OK' : 'Failed'}: ${tests[source.id]!.message} (${formatCount(tests[source.id]!.latencyMs)} ms)` : ''}
                    </p>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
