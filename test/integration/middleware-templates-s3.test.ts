// The S3 template source against the S3Proxy the integration setup starts: a bucket per run,
// templates read and rendered, and every failure mapped to its registry code without the secret.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { s3ClientFor } from '../services/s3proxy.ts';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { DataSource } from '@inlay/schemas';
import { S3TemplateSource } from '../../middleware/src/templates/template-source.ts';
import { renderTemplate } from '../../middleware/src/templates/render.ts';

const info = inject('s3');
const bucket = `templates-${randomBytes(4).toString('hex')}`;
const admin = s3ClientFor(info);

function dataSource(overrides: Partial<DataSource['awsConnectionInformation']> = {}): DataSource {
  return {
    id: 'templates',
    type: 'ongage',
    defaultDataSource: true,
    deleteTemporaryImportFiles: false,
    // No region and no pathStyle: the defaults (us-east-1, path-style) must reach S3Proxy.
    awsConnectionInformation: { authorizationType: 'aws', accessKey: info.accessKey, secretKey: info.secretKey, endpoint: info.endpoint, bucket, ...overrides },
  };
}

beforeAll(async () => {
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  await admin.send(new PutObjectCommand({ Bucket: bucket, Key: 'spring/offer.html', Body: '<p>Hallo {{displayName}} – {{attributes.plan}}</p>', ContentType: 'text/html' }));
});
afterAll(() => admin.destroy());

test('reads a template from the data source and renders it', async () => {
  const source = new S3TemplateSource(dataSource());
  try {
    const html = await source.get('spring/offer.html');
    expect(html).toBe('<p>Hallo {{displayName}} – {{attributes.plan}}</p>');
    const rendered = renderTemplate({ subject: 'Hi {{displayName}}', from: 'news@example.org', html, text: 'Hi' }, { displayName: 'Zoë <z>', attributes: { plan: 'gold' } });
    expect(rendered.html).toBe('<p>Hallo Zoë &lt;z&gt; – gold</p>');
    expect(rendered.subject).toBe('Hi Zoë <z>');
  } finally {
    source.close();
  }
});

test('a missing object is TEMPLATE_NOT_FOUND naming bucket and key', async () => {
  const source = new S3TemplateSource(dataSource());
  try {
    const failure = source.get('spring/missing.html');
    await expect(failure).rejects.toMatchObject({ code: 'INLAY_MW_TEMPLATE_NOT_FOUND', statusCode: 424 });
    await expect(source.get('spring/missing.html')).rejects.toThrow(`s3://${bucket}/spring/missing.html`);
  } finally {
    source.close();
  }
});

test('a wrong secret, a missing bucket and an unreachable endpoint are DATA_SOURCE_UNAVAILABLE, never showing the secret', async () => {
  const wrongSecret = `wrong-${randomBytes(12).toString('hex')}`;
  const closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const cases: [Partial<DataSource['awsConnectionInformation']>, RegExp][] = [
    [{ secretKey: wrongSecret }, /SignatureDoesNotMatch \(HTTP 403\)/],
    [{ bucket: `nobucket-${randomBytes(4).toString('hex')}` }, /NoSuchBucket/],
    [{ endpoint: `http://127.0.0.1:${closedPort}` }, /could not be reached.*ECONNREFUSED/],
  ];
  for (const [overrides, reason] of cases) {
    const source = new S3TemplateSource(dataSource(overrides));
    try {
      const error = await source.get('spring/offer.html').then(
        () => undefined,
        (thrown: unknown) => thrown as Error & { code: string; statusCode: number },
      );
      expect(error).toMatchObject({ code: 'INLAY_MW_DATA_SOURCE_UNAVAILABLE', statusCode: 502 });
      expect(error?.message).toMatch(reason);
      expect(error?.message).not.toContain(wrongSecret);
      expect(error?.message).not.toContain(info.secretKey);
      expect(error?.message).not.toContain(info.accessKey);
    } finally {
      source.close();
    }
  }
});
