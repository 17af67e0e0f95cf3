// Proves the harness's S3Proxy behaves like S3 for the AWS SDK v3 the project
// uses: bucket and object round trip with SigV4, and a bad signature refused.
import { afterAll, expect, inject, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { s3ClientFor } from '../services/s3proxy.ts';

const info = inject('s3');

const s3 = s3ClientFor(info);
afterAll(() => s3.destroy());

test('creates a bucket, stores an object, reads and lists it', async () => {
  const bucket = `smoke-${randomBytes(4).toString('hex')}`;
  const key = 'campaigns/2030/creative.html';
  const body = `<p>Hello from Inlay ${randomBytes(8).toString('hex')}</p>`;

  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/html' }));

  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  expect(await object.Body?.transformToString()).toBe(body);

  const listing = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  expect(listing.Contents?.map((entry) => entry.Key)).toEqual([key]);
});

test('rejects a request signed with the wrong secret key', async () => {
  const impostor = s3ClientFor(info, `${info.secretKey}-wrong`);
  try {
    const attempt = impostor.send(new CreateBucketCommand({ Bucket: `denied-${randomBytes(4).toString('hex')}` }));
    await expect(attempt).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
  } finally {
    impostor.destroy();
  }
});
