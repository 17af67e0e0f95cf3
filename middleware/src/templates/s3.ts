/**
 * S3 access for one data source: a client built from its `awsConnectionInformation`, and S3's
 * failures translated into the error registry. Templates and imports both read through here.
 *
 * Must never put the secret key (or the access key) into an error message or a log line: errors
 * name the endpoint host, bucket, key and S3's error code only.
 */
import { S3Client, S3ServiceException, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { DataSource } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';

/** Used when a data source names no region: S3-compatible stores (Ceph RADOS, MinIO, S3Proxy)
 *  answer for it, and AWS routes it. */
export const DEFAULT_S3_REGION = 'us-east-1';
/** A template or import whose connection cannot open in this long is unreachable for us. */
const S3_CONNECT_TIMEOUT_MS = 5_000;
/** Attempts per request (the SDK's retry with backoff); 3 is the SDK default, stated. */
const S3_MAX_ATTEMPTS = 3;

export function s3ClientFor(dataSource: DataSource): S3Client {
  const connection = dataSource.awsConnectionInformation;
  let endpoint: string;
  try {
    endpoint = new URL(connection.endpoint).toString();
  } catch {
    throw new MiddlewareError('INLAY_MW_DATA_SOURCE_UNAVAILABLE', `data source "${dataSource.id}": its endpoint is not a URL`);
  }
  const config: S3ClientConfig = {
    endpoint,
    region: connection.region ?? DEFAULT_S3_REGION,
    credentials: { accessKeyId: connection.accessKey, secretAccessKey: connection.secretKey },
    // S3-compatible stores mostly serve buckets as paths; AWS itself takes either.
    forcePathStyle: connection.pathStyle ?? true,
    // Newer SDKs add CRC checksums many S3-compatible stores do not know; send and check them
    // only where S3 itself requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: S3_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: S3_CONNECT_TIMEOUT_MS },
  };
  return new S3Client(config);
}

/** S3 error codes that mean "this object is not there". */
const MISSING_CODES = new Set(['NoSuchKey', 'NotFound']);

/** Where an object lives, for messages: host, bucket and key; no credentials. */
export function describeObject(dataSource: DataSource, key: string): string {
  let host = '?';
  try {
    host = new URL(dataSource.awsConnectionInformation.endpoint).host;
  } catch {
    // Not a URL: s3ClientFor has already refused it.
  }
  return `s3://${dataSource.awsConnectionInformation.bucket}/${key} (data source "${dataSource.id}" at ${host})`;
}

export function isMissingObject(error: unknown): boolean {
  return error instanceof S3ServiceException && (MISSING_CODES.has(error.name) || error.$metadata.httpStatusCode === 404) && error.name !== 'NoSuchBucket';
}

/**
 * Anything an S3 call threw, as DATA_SOURCE_UNAVAILABLE naming S3's error code (AccessDenied,
 * SignatureDoesNotMatch, NoSuchBucket, a network error's code); MiddlewareErrors pass through.
 */
export function s3Failure(error: unknown, dataSource: DataSource, key: string): MiddlewareError {
  if (error instanceof MiddlewareError) return error;
  const where = describeObject(dataSource, key);
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode;
    return new MiddlewareError('INLAY_MW_DATA_SOURCE_UNAVAILABLE', `S3 refused ${where}: ${error.name}${status === undefined ? '' : ` (HTTP ${status})`}`, {}, { cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  const reason = typeof code === 'string' ? code : typeof name === 'string' ? name : 'unknown error';
  return new MiddlewareError('INLAY_MW_DATA_SOURCE_UNAVAILABLE', `S3 could not be reached for ${where}: ${reason}`, {}, { cause: error });
}
