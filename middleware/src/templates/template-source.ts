/**
 * Where campaign templates come from: a tenant's S3 data source, or a local directory (the
 * embedded default, `<dataDir>/templates/<tenantId>/`). Both answer `get(key)` with the template
 * text (UTF-8), or throw TEMPLATE_NOT_FOUND / TEMPLATE_KEY_INVALID / TEMPLATE_TOO_LARGE /
 * DATA_SOURCE_UNAVAILABLE.
 *
 * Must never read outside the local directory (no "..", absolute paths, NUL, or symlinks out of
 * it) and never put an S3 secret into an error.
 */
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DataSource, Tenant } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { describeObject, isMissingObject, s3ClientFor, s3Failure } from './s3.js';

export interface TemplateSource {
  /** The template text stored under `key`. */
  get(key: string): Promise<string>;
  /** Releases connections (S3); a no-op for a directory. */
  close(): void;
}

/** A subject, html and text part together stay far below this; a larger object is a mistake
 *  (a user list, a video) and must not be read into memory. */
export const MAX_TEMPLATE_BYTES = 1_048_576;
/** Template keys are short relative paths. */
const MAX_TEMPLATE_KEY_LENGTH = 1024;

function tooLarge(where: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_TEMPLATE_TOO_LARGE', `template ${where} is over ${MAX_TEMPLATE_BYTES} bytes`);
}

/** Refuses keys that are empty, absolute, contain NUL or control characters, or climb out with "..". */
export function checkTemplateKey(key: string): void {
  const invalid = (why: string) => new MiddlewareError('INLAY_MW_TEMPLATE_KEY_INVALID', `template key ${why}`);
  if (key.length === 0 || key.length > MAX_TEMPLATE_KEY_LENGTH) throw invalid(`must be 1 to ${MAX_TEMPLATE_KEY_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw invalid('must not contain NUL or control characters');
  if (isAbsolute(key) || key.startsWith('/') || key.startsWith('\\') || /^[A-Za-z]:/.test(key)) throw invalid('must be a relative path');
  if (key.split(/[/\\]/).some((part) => part === '..')) throw invalid('must not contain ".."');
}

export class S3TemplateSource implements TemplateSource {
  private readonly client: S3Client;

  constructor(private readonly dataSource: DataSource) {
    this.client = s3ClientFor(dataSource);
  }

  async get(key: string): Promise<string> {
    checkTemplateKey(key);
    const where = describeObject(this.dataSource, key);
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.dataSource.awsConnectionInformation.bucket, Key: key }));
      if ((object.ContentLength ?? 0) > MAX_TEMPLATE_BYTES) {
        (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw tooLarge(where);
      }
      const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      if (bytes.byteLength > MAX_TEMPLATE_BYTES) throw tooLarge(where);
      return Buffer.from(bytes).toString('utf8');
    } catch (error) {
      if (isMissingObject(error)) throw new MiddlewareError('INLAY_MW_TEMPLATE_NOT_FOUND', `template ${where} does not exist`, {}, { cause: error });
      throw s3Failure(error, this.dataSource, key);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/** The embedded default: `<dataDir>/templates/<tenantId>/`. */
export function localTemplateDirectory(dataDir: string, tenantId: string): string {
  return join(resolve(dataDir), 'templates', tenantId);
}

export class LocalDirectoryTemplateSource implements TemplateSource {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async get(key: string): Promise<string> {
    checkTemplateKey(key);
    const notFound = () => new MiddlewareError('INLAY_MW_TEMPLATE_NOT_FOUND', `template "${key}" does not exist in the tenant's template directory`);
    const path = resolve(this.root, key);
    let real: string;
    let realRoot: string;
    try {
      [real, realRoot] = await Promise.all([realpath(path), realpath(this.root)]);
    } catch {
      throw notFound();
    }
    // A symlink inside the directory must not lead out of it.
    const inside = relative(realRoot, real);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      throw new MiddlewareError('INLAY_MW_TEMPLATE_KEY_INVALID', `template key "${key}" leads outside the tenant's template directory`);
    }
    const handle = await open(real, 'r').catch(() => {
      throw notFound();
    });
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw notFound();
      if (stats.size > MAX_TEMPLATE_BYTES) throw tooLarge(`"${key}"`);
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }

  close(): void {
    // Nothing held open between calls.
  }
}

/**
 * The template source of a tenant: its data source `dataSourceId` (or its default data source) in
 * S3; a tenant without data sources reads `<dataDir>/templates/<tenantId>/`, so the embedded
 * default works with no S3 at all. An unknown `dataSourceId` is DATA_SOURCE_NOT_FOUND.
 */
export function templateSourceFor(tenant: Pick<Tenant, 'id' | 'dataSources'>, options: { dataDir: string; dataSourceId?: string }): TemplateSource {
  if (options.dataSourceId !== undefined) {
    const named = tenant.dataSources.find((entry) => entry.id === options.dataSourceId);
    if (!named) throw new MiddlewareError('INLAY_MW_DATA_SOURCE_NOT_FOUND', `tenant "${tenant.id}" has no data source "${options.dataSourceId}"`);
    return new S3TemplateSource(named);
  }
  const fallback = tenant.dataSources.find((entry) => entry.defaultDataSource);
  return fallback ? new S3TemplateSource(fallback) : new LocalDirectoryTemplateSource(localTemplateDirectory(options.dataDir, tenant.id));
}
