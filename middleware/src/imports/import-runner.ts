/**
 * Runs user-data imports in the background: streams the object from the tenant's S3 data source
 * (GetObject body → row reader → batches of IMPORT_BATCH_ROWS → store), records per-row errors
 * (the first MAX_STORED_ROW_ERRORS; the rest are counted), keeps progress in the import record,
 * and deletes the object afterwards when the data source says `deleteTemporaryImportFiles`.
 *
 * At most MAX_CONCURRENT_IMPORTS run at once; the others wait as `queued`. Closing aborts the
 * running ones (they end `failed`) and waits for them, so nothing writes to a closed store.
 *
 * Must never hold a file in memory (one batch at a time, S3 backpressure through the stream) and
 * never put an S3 secret into the import's error.
 */
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import type { DataSource, Tenant } from '@inlay/schemas';
import type { Logger } from 'pino';
import { MiddlewareError } from '../errors.js';
import type { ImportFormat, ImportRecord, ImportRowError, Store, UserUpsert } from '../store/store.js';
import { isMissingObject, s3ClientFor, s3Failure, describeObject } from '../templates/s3.js';
import { ImportFileError, readRows } from './row-reader.js';
import { mapRow } from './row-mapping.js';

/** Rows per store write: large enough that per-batch costs (an LMDB commit, a progress update)
 *  vanish, small enough that a batch is a few hundred KiB. */
export const IMPORT_BATCH_ROWS = 500;
/** Per-row errors kept per import; a file with a million bad rows is a wrong file, and the first
 *  thousand say why. The rest are counted in rowsFailed. */
export const MAX_STORED_ROW_ERRORS = 1000;
/** Imports running at once per middleware process; each keeps a store writer and an S3 stream busy. */
export const MAX_CONCURRENT_IMPORTS = 2;

export interface ImportJob {
  readonly tenant: Tenant;
  readonly dataSource: DataSource;
  readonly record: ImportRecord;
}

export function newImportId(): string {
  // Time-based (v1): Cassandra's `imports` table clusters by it, newest first.
  return cassandra.types.TimeUuid.now().toString();
}

/** csv or jsonl from the key's extension (.csv; .jsonl or .ndjson). Compressed files are not read. */
export function formatFromKey(objectKey: string): ImportFormat | undefined {
  const lower = objectKey.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

export class ImportRunner {
  private readonly queue: ImportJob[] = [];
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly log?: Logger,
  ) {}

  /** Queues an already-saved (`queued`) import. */
  submit(job: ImportJob): void {
    if (this.closed) throw new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE', 'the middleware is shutting down; retry the import later');
    this.queue.push(job);
    this.startNext();
  }

  /** Resolves when every import started so far has finished (tests and the benchmark). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.queue.length > 0) {
      await Promise.all([...this.running.values()].map((entry) => entry.done));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    for (const entry of this.running.values()) entry.controller.abort();
    await Promise.all([...this.running.values()].map((entry) => entry.done));
  }

  private startNext(): void {
    while (!this.closed && this.running.size < MAX_CONCURRENT_IMPORTS && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const controller = new AbortController();
      const done = runImport(this.store, job, controller.signal, this.log)
        .then(() => undefined)
        .catch((error: unknown) => this.log?.error({ err: error, importId: job.record.importId }, 'import bookkeeping failed'))
        .finally(() => {
          this.running.delete(job.record.importId);
          this.startNext();
        });
      this.running.set(job.record.importId, { controller, done });
    }
  }
}

/** One import, start to end; only the final save can throw. */
export async function runImport(store: Store, job: ImportJob, signal: AbortSignal, log?: Logger): Promise<ImportRecord> {
  const { tenant, dataSource } = job;
  let record: ImportRecord = { ...job.record, status: 'running', startedAt: new Date() };
  const where = describeObject(dataSource, record.objectKey);
  const client = (() => {
    try {
      return s3ClientFor(dataSource);
    } catch (error) {
      return error as MiddlewareError;
    }
  })();
  try {
    if (client instanceof MiddlewareError) throw client;
    await store.saveImport(tenant, record);
    let body: Readable;
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: dataSource.awsConnectionInformation.bucket, Key: record.objectKey }), { abortSignal: signal });
      body = object.Body as Readable;
    } catch (error) {
      if (isMissingObject(error)) throw new ImportFileError(`the import file ${where} does not exist`);
      throw s3Failure(error, dataSource, record.objectKey);
    }
    signal.addEventListener('abort', () => body.destroy(new Error('aborted')), { once: true });

    let batch: UserUpsert[] = [];
    let errors: ImportRowError[] = [];
    let storedErrors = 0;
    let counts = { rowsRead: 0, rowsImported: 0, rowsFailed: 0 };
    const flush = async (): Promise<void> => {
      if (batch.length > 0) await store.upsertUsers(tenant, batch, record.importId);
      if (errors.length > 0) await store.recordImportErrors(tenant, record.importId, errors);
      counts = { ...counts, rowsImported: counts.rowsImported + batch.length };
      batch = [];
      errors = [];
      record = { ...record, ...counts };
      await store.saveImport(tenant, record);
    };
    const fail = (rowNumber: number, reason: string): void => {
      counts.rowsFailed += 1;
      if (storedErrors < MAX_STORED_ROW_ERRORS) {
        storedErrors += 1;
        errors.push({ rowNumber, reason });
      }
    };

    for await (const row of readRows(body, record.format)) {
      counts.rowsRead += 1;
      if (row.kind === 'problem') {
        fail(row.rowNumber, row.reason);
      } else {
        const mapped = mapRow(tenant, record.format, row);
        if (mapped.kind === 'problem') fail(row.rowNumber, mapped.reason);
        else batch.push(mapped.user);
      }
      if (batch.length >= IMPORT_BATCH_ROWS || errors.length >= IMPORT_BATCH_ROWS) await flush();
    }
    if (signal.aborted) throw new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE', 'the middleware stopped during the import; start it again');
    await flush();

    let objectDeleted: boolean | undefined;
    if (dataSource.deleteTemporaryImportFiles) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: dataSource.awsConnectionInformation.bucket, Key: record.objectKey }));
        objectDeleted = true;
      } catch (error) {
        objectDeleted = false;
        log?.warn({ importId: record.importId, err: s3Failure(error, dataSource, record.objectKey).message }, 'import file could not be deleted');
      }
    }
    record = { ...record, status: 'completed', finishedAt: new Date(), ...(objectDeleted === undefined ? {} : { objectDeleted }) };
    log?.info({ tenant: tenant.id, importId: record.importId, rowsRead: record.rowsRead, rowsImported: record.rowsImported, rowsFailed: record.rowsFailed }, 'import completed');
  } catch (error) {
    const reason = describeFailure(error, signal);
    if (reason === undefined) log?.error({ err: error, importId: record.importId }, 'import failed unexpectedly');
    record = { ...record, status: 'failed', finishedAt: new Date(), error: reason ?? 'internal error; the log has the details' };
    log?.warn({ tenant: tenant.id, importId: record.importId, error: record.error }, 'import failed');
  } finally {
    if (!(client instanceof MiddlewareError)) client.destroy();
  }
  await store.saveImport(tenant, record);
  return record;
}

/** A failure as a client may read it, or undefined for a bug. */
function describeFailure(error: unknown, signal: AbortSignal): string | undefined {
  if (signal.aborted) return 'the middleware stopped during the import; start it again';
  if (error instanceof MiddlewareError) return error.message;
  if (error instanceof ImportFileError) return error.message;
  return undefined;
}
