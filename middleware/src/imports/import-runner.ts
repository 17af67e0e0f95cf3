/**
 * Runs user-data imports in the background: streams the object from the tenant's S3 data source
 * (GetObject body → row reader → row mapper → import-writer.ts, which batches, writes with
 * bounded writes in flight and saves progress), records per-row errors (the first
 * MAX_STORED_ROW_ERRORS; the rest are counted), and deletes the object afterwards when the data
 * source says `deleteTemporaryImportFiles`.
 *
 * A failed import can be retried under the same id (`retry`): it reads the file again from the
 * start, and since users are upserted by key into the same list, nothing is duplicated.
 *
 * At most MAX_CONCURRENT_IMPORTS run at once; the others wait as `queued`. Closing aborts the
 * running ones (they end `failed`) and waits for them, so nothing writes to a closed store.
 *
 * Must never hold a file in memory (a few batches at a time, S3 backpressure through the stream) and
 * never put an S3 secret into the import's error.
 */
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import type { DataSource, Tenant } from '@inlay/schemas';
import type { Logger } from 'pino';
import { MiddlewareError } from '../errors.js';
import type { ImportFormat, ImportRecord, Store } from '../store/store.js';
import { isMissingObject, s3ClientFor, s3Failure, describeObject } from '../templates/s3.js';
import { ImportFileError, readRows, type ReadPosition, type ReadRow } from './row-reader.js';
import { RowMapper } from './row-mapping.js';
import { ImportWriter } from './import-writer.js';

export { MAX_STORED_ROW_ERRORS } from './import-writer.js';
/** A GetObject body that sends nothing for this long while we wait for it is a stalled S3 (a
 *  hung server keeps the socket open): the import fails instead of staying `running`. Generous,
 *  since a healthy S3 streams continuously once the body has started. */
export const S3_READ_IDLE_TIMEOUT_MS = 60_000;
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

  /** Queues an already-saved (`queued`) import; refuses one that is already queued or running
   *  here (two retries at once must not run the same import twice). */
  submit(job: ImportJob): void {
    if (this.closed) throw new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE', 'the middleware is shutting down; retry the import later');
    if (this.isActive(job.record.importId)) throw new MiddlewareError('INLAY_MW_IMPORT_STATE', `import ${job.record.importId} is already queued or running`);
    this.queue.push(job);
    this.startNext();
  }

  isActive(importId: string): boolean {
    return this.running.has(importId) || this.queue.some((job) => job.record.importId === importId);
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
  let record: ImportRecord = { ...job.record, status: 'running', startedAt: new Date(), rowsRead: 0, rowsImported: 0, rowsFailed: 0 };
  const where = describeObject(dataSource, record.objectKey);
  const client = (() => {
    try {
      return s3ClientFor(dataSource);
    } catch (error) {
      return error as MiddlewareError;
    }
  })();
  const running = record;
  const writer = new ImportWriter(store, tenant, record.importId, (counts) => ({ ...running, ...counts }));
  try {
    if (client instanceof MiddlewareError) throw client;
    await store.saveImport(tenant, record);
    let body: Readable;
    let expectedBytes: number | undefined;
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: dataSource.awsConnectionInformation.bucket, Key: record.objectKey }), { abortSignal: signal });
      body = object.Body as Readable;
      expectedBytes = object.ContentLength;
    } catch (error) {
      if (isMissingObject(error)) throw new ImportFileError(`the import file ${where} does not exist`);
      throw s3Failure(error, dataSource, record.objectKey);
    }
    signal.addEventListener('abort', () => body.destroy(new Error('aborted')), { once: true });

    const position: ReadPosition = { bytesRead: 0 };
    const rows = readRows(body, record.format, position);
    const mapper = new RowMapper(tenant);
    let lastLine = 0;
    try {
      for (;;) {
        const next = await nextRows(rows, body);
        if (next.done) break;
        for (const row of next.value) {
          lastLine = row.rowNumber;
          if (row.kind === 'problem') {
            await writer.addProblem(row.rowNumber, row.reason);
            continue;
          }
          const mapped = mapper.map(row);
          if (mapped.kind === 'problem') await writer.addProblem(row.rowNumber, mapped.reason);
          else await writer.addUser(mapped.user);
        }
      }
    } catch (error) {
      if (signal.aborted || error instanceof ImportFileError || error instanceof MiddlewareError) throw error;
      if (error instanceof ReadFailure) throw readFailure(error.cause, where, lastLine, position);
      throw error;
    } finally {
      await rows.return(undefined);
    }
    if (signal.aborted) throw new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE', 'the middleware stopped during the import; start it again');
    // A connection closed cleanly before the end looks like the end of the file: the length S3
    // announced tells them apart, so a cut-off file is never taken for a complete one.
    if (expectedBytes !== undefined && position.bytesRead !== expectedBytes) {
      throw readFailure(Object.assign(new Error('short read'), { code: `the object has ${expectedBytes} bytes` }), where, lastLine, position);
    }
    await writer.drain();
    record = { ...record, ...writer.counts };

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
    // Whatever was still being written finishes first, so the counts below are final.
    await writer.abandon();
    const reason = describeFailure(error, signal);
    if (reason === undefined) log?.error({ err: error, importId: record.importId }, 'import failed unexpectedly');
    record = { ...record, ...writer.counts, status: 'failed', finishedAt: new Date(), error: reason ?? 'internal error; the log has the details' };
    log?.warn({ tenant: tenant.id, importId: record.importId, error: record.error }, 'import failed');
  } finally {
    if (!(client instanceof MiddlewareError)) client.destroy();
  }
  await store.saveImport(tenant, record);
  return record;
}

/** An error from reading the object (the S3 connection), as opposed to one from the store. */
class ReadFailure extends Error {
  override readonly name = 'ReadFailure';
}

/** The next rows, or a ReadFailure: the stream broke, or sent nothing for S3_READ_IDLE_TIMEOUT_MS. */
async function nextRows(rows: AsyncGenerator<ReadRow[]>, body: Readable): Promise<IteratorResult<ReadRow[]>> {
  const idle = setTimeout(() => body.destroy(Object.assign(new Error('S3 sent nothing'), { code: `no data for ${S3_READ_IDLE_TIMEOUT_MS / 1000} s` })), S3_READ_IDLE_TIMEOUT_MS);
  try {
    return await rows.next();
  } catch (error) {
    if (error instanceof ImportFileError) throw error;
    throw new ReadFailure('reading the import file failed', { cause: error });
  } finally {
    clearTimeout(idle);
  }
}

/** A broken read, named: where, how far it got, the network error's code, and what to do. */
function readFailure(cause: unknown, where: string, lastLine: number, position: ReadPosition): MiddlewareError {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = (cause as { message?: unknown } | null)?.message;
  const reason = typeof code === 'string' ? code : typeof message === 'string' ? message.slice(0, 120) : 'unknown error';
  return new MiddlewareError(
    'INLAY_MW_DATA_SOURCE_UNAVAILABLE',
    `reading ${where} broke off after line ${lastLine} (${position.bytesRead} bytes): ${reason}; retry the import (rows already imported are not duplicated)`,
    {},
    { cause },
  );
}

/** A failure as a client may read it, or undefined for a bug. */
function describeFailure(error: unknown, signal: AbortSignal): string | undefined {
  if (signal.aborted) return 'the middleware stopped during the import; start it again';
  if (error instanceof MiddlewareError) return error.message;
  if (error instanceof ImportFileError) return error.message;
  return undefined;
}
