/**
 * The Cassandra side of users and imports (tables `users`, `imports`, `import_errors` of a tenant
 * keyspace). Split from cassandra-store.ts to keep that file about tenants.
 *
 * Write strategy for an import batch of users (`ImportUserWrites`, measured with
 * `npm run bench:import`, figures in middleware/README.md): every user is its own partition
 * (`user_key`), so "one batch per partition" would be one row per batch. What pays instead is
 * fewer, larger requests: users are grouped by the node that owns their token (the driver's
 * replica map, so every batch goes to a coordinator that holds all its rows and nothing is
 * fanned out), and each group goes as UNLOGGED batches of at most USER_BATCH_STATEMENTS rows and
 * USER_BATCH_BYTES, USER_BATCHES_IN_FLIGHT at a time. A user too large for a batch goes alone.
 * `concurrent` — one prepared UPDATE per user, USER_WRITE_CONCURRENCY in flight — is kept for
 * comparison. Row errors of one import all share one partition (`import_id`), so they go as one
 * UNLOGGED batch per call: a single-partition batch is applied as one mutation.
 *
 * Must never build CQL from values: keyspace names are quoted identifiers, everything else is a
 * bound parameter.
 */
import cassandra from 'cassandra-driver';
import type { ImportFormat, ImportRecord, ImportRowError, ImportStatus, UserRecord, UserScanPage, UserScanRequest, UserUpsert } from '../user-import-types.js';
import { quoteIdentifier } from './cql-schema.js';
import { translateDriverError } from './cassandra-errors.js';
import { runCql } from './cql-run.js';

export type ImportUserWrites = 'replica-batches' | 'concurrent';

/** In-flight single writes for `concurrent`. Enough to keep a node's native-transport threads
 *  busy without queuing so much that requests time out. */
const USER_WRITE_CONCURRENCY = 64;
/** Rows per UNLOGGED batch. Measured against 10 and 40: 20 used the least Cassandra CPU per
 *  row. (Cassandra logs a warning, rate-limited, about unlogged batches over 10 partitions; the
 *  partitions of one batch here all live on the node that coordinates it.) */
const USER_BATCH_STATEMENTS = 20;
/** Below Cassandra's default batch_size_warn_threshold (5 KiB) by a margin, estimated from the
 *  bound values; the fail threshold (50 KiB) is then out of reach. */
const USER_BATCH_BYTES = 4096;
/** Batches in flight per upsertUsers call (the import runner has two calls out at a time, so
 *  about 32 batches, 640 rows, are in flight). 8 left the node idle between batches. */
const USER_BATCHES_IN_FLIGHT = 16;
/** Attempts per batch when the node answers "write timeout" or "overloaded": an import pushes a
 *  node as hard as it goes, and such an answer means "slower", not "down". Safe to repeat: the
 *  UPDATE sets values and adds to collections, so a repeat writes the same cells. */
const USER_BATCH_ATTEMPTS = 4;
const USER_BATCH_RETRY_DELAY_MS = 250;
/** Row errors are capped by the import runner (first 1000), so one batch stays small. */
const IMPORTS_PARTITION = 'all';

export class CassandraUserImportTables {
  constructor(
    private readonly client: cassandra.Client,
    private readonly userWrites: ImportUserWrites = 'replica-batches',
  ) {}

  async upsertUsers(keyspace: string, users: readonly UserUpsert[], listId: string): Promise<void> {
    if (users.length === 0) return;
    const now = new Date();
    // display_name unbound (undefined = "unset" in protocol v4+) keeps the stored one.
    const query = `UPDATE ${quoteIdentifier(keyspace)}.users SET display_name = ?, attributes = attributes + ?, lists = lists + ?, updated_at = ? WHERE user_key = ?`;
    const lists = [listId];
    const parameters = users.map((user) => [user.displayName, user.attributes, lists, now, user.userKey]);
    try {
      switch (this.userWrites) {
        case 'concurrent':
          await cassandra.concurrent.executeConcurrent(this.client, query, parameters, { concurrencyLevel: USER_WRITE_CONCURRENCY, raiseOnFirstError: true });
          return;
        case 'replica-batches':
          await this.writeInBatches(keyspace, query, users, parameters);
          return;
      }
    } catch (error) {
      throw translateDriverError(error);
    }
  }

  /** Groups by owning node, cuts each group into bounded UNLOGGED batches, runs them with a
   *  bounded number in flight. */
  private async writeInBatches(keyspace: string, query: string, users: readonly UserUpsert[], parameters: unknown[][]): Promise<void> {
    const groups = new Map<string, number[]>();
    for (let index = 0; index < users.length; index++) {
      const owner = this.ownerOf(keyspace, users[index]!.userKey);
      let group = groups.get(owner);
      if (group === undefined) groups.set(owner, (group = []));
      group.push(index);
    }
    const requests: { query: string; params: unknown[] }[][] = [];
    for (const group of groups.values()) {
      let batch: { query: string; params: unknown[] }[] = [];
      let bytes = 0;
      for (const index of group) {
        const size = estimatedBytes(users[index]!);
        if (batch.length > 0 && (batch.length >= USER_BATCH_STATEMENTS || bytes + size > USER_BATCH_BYTES)) {
          requests.push(batch);
          batch = [];
          bytes = 0;
        }
        batch.push({ query, params: parameters[index]! });
        bytes += size;
      }
      if (batch.length > 0) requests.push(batch);
    }
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < requests.length && !failed) {
        const batch = requests[next++]!;
        for (let attempt = 1; ; attempt++) {
          try {
            if (batch.length === 1) await this.client.execute(batch[0]!.query, batch[0]!.params, { prepare: true, isIdempotent: true });
            else await this.client.batch(batch, { prepare: true, logged: false, isIdempotent: true });
            break;
          } catch (error) {
            if (attempt < USER_BATCH_ATTEMPTS && !failed && isPassingOverload(error)) {
              await new Promise((resolve) => setTimeout(resolve, USER_BATCH_RETRY_DELAY_MS * attempt));
              continue;
            }
            // The other workers stop taking batches: the call fails as a whole.
            failed = true;
            throw error;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(USER_BATCHES_IN_FLIGHT, requests.length) }, worker));
  }

  /** The first replica of the user's partition, or "" when the driver cannot tell (then all go
   *  to one group, which is still correct: the coordinator forwards). */
  private ownerOf(keyspace: string, userKey: string): string {
    const replicas = this.client.getReplicas(keyspace, Buffer.from(userKey, 'utf8'));
    return replicas?.[0]?.address ?? '';
  }

  async getUser(keyspace: string, userKey: string): Promise<UserRecord | undefined> {
    const row = (await this.run(`SELECT display_name, attributes, lists, updated_at FROM ${quoteIdentifier(keyspace)}.users WHERE user_key = ?`, [userKey])).first();
    return row ? rowToUser(userKey, row) : undefined;
  }

  /** A full-table read in token order, one driver page per call; the cursor is the driver's
   *  page state, which never leaves the middleware. */
  async scanUsers(keyspace: string, request: UserScanRequest): Promise<UserScanPage> {
    const result = await this.run(`SELECT user_key, display_name, attributes, lists, updated_at FROM ${quoteIdentifier(keyspace)}.users`, [], {
      fetchSize: request.pageSize,
      ...(request.cursor === undefined ? {} : { pageState: request.cursor }),
    });
    const users = result.rows.map((row) => rowToUser(String(row.get('user_key')), row));
    return result.pageState ? { users, next: result.pageState } : { users };
  }

  async saveImport(keyspace: string, record: ImportRecord): Promise<void> {
    await this.run(
      `INSERT INTO ${quoteIdentifier(keyspace)}.imports (bucket, import_id, data_source_id, object_key, format, list_id, status, rows_read, rows_imported, rows_failed,
         created_at, started_at, finished_at, error, object_deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        IMPORTS_PARTITION,
        record.importId,
        record.dataSourceId,
        record.objectKey,
        record.format,
        record.importId,
        record.status,
        cassandra.types.Long.fromNumber(record.rowsRead),
        cassandra.types.Long.fromNumber(record.rowsImported),
        cassandra.types.Long.fromNumber(record.rowsFailed),
        record.createdAt,
        record.startedAt ?? null,
        record.finishedAt ?? null,
        record.error ?? null,
        record.objectDeleted ?? null,
      ],
    );
  }

  async getImport(keyspace: string, importId: string): Promise<ImportRecord | undefined> {
    const row = (await this.run(`SELECT * FROM ${quoteIdentifier(keyspace)}.imports WHERE bucket = ? AND import_id = ?`, [IMPORTS_PARTITION, importId])).first();
    return row ? rowToImport(row) : undefined;
  }

  async listImports(keyspace: string, limit: number): Promise<ImportRecord[]> {
    const result = await this.run(`SELECT * FROM ${quoteIdentifier(keyspace)}.imports WHERE bucket = ? LIMIT ?`, [IMPORTS_PARTITION, limit]);
    return result.rows.map(rowToImport);
  }

  async recordImportErrors(keyspace: string, importId: string, errors: readonly ImportRowError[]): Promise<void> {
    if (errors.length === 0) return;
    const query = `INSERT INTO ${quoteIdentifier(keyspace)}.import_errors (import_id, row_number, message) VALUES (?, ?, ?)`;
    try {
      await this.client.batch(
        errors.map((error) => ({ query, params: [importId, cassandra.types.Long.fromNumber(error.rowNumber), error.reason] })),
        { prepare: true, logged: false },
      );
    } catch (error) {
      throw translateDriverError(error);
    }
  }

  async listImportErrors(keyspace: string, importId: string, limit: number): Promise<ImportRowError[]> {
    const result = await this.run(`SELECT row_number, message FROM ${quoteIdentifier(keyspace)}.import_errors WHERE import_id = ? LIMIT ?`, [importId, limit], { fetchSize: limit });
    return result.rows.map((row) => ({ rowNumber: Number(row.get('row_number')), reason: String(row.get('message')) }));
  }

  private async run(query: string, params: unknown[], options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
    return runCql(this.client, query, params, options);
  }
}

function optionalDate(row: cassandra.types.Row, column: string): Date | undefined {
  const value = row.get(column) as Date | null;
  return value === null ? undefined : value;
}

function rowToImport(row: cassandra.types.Row): ImportRecord {
  const startedAt = optionalDate(row, 'started_at');
  const finishedAt = optionalDate(row, 'finished_at');
  const error = row.get('error') as string | null;
  const objectDeleted = row.get('object_deleted') as boolean | null;
  return {
    importId: String(row.get('import_id')),
    dataSourceId: String(row.get('data_source_id')),
    objectKey: String(row.get('object_key')),
    format: String(row.get('format')) as ImportFormat,
    status: String(row.get('status')) as ImportStatus,
    rowsRead: Number(row.get('rows_read')),
    rowsImported: Number(row.get('rows_imported')),
    rowsFailed: Number(row.get('rows_failed')),
    createdAt: row.get('created_at') as Date,
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(error === null ? {} : { error }),
    ...(objectDeleted === null ? {} : { objectDeleted }),
  };
}

/** Roughly what a user row puts into a batch, from its bound values (UTF-16 length is close
 *  enough for a bound that keeps a margin). */
function estimatedBytes(user: UserUpsert): number {
  let bytes = 64 + user.userKey.length + (user.displayName?.length ?? 0);
  for (const name in user.attributes) bytes += name.length + user.attributes[name]!.length + 8;
  return bytes;
}

/** A write the node timed out or shed under load (retrying it is safe and usually enough). */
function isPassingOverload(error: unknown): boolean {
  const codes = cassandra.types.responseErrorCodes;
  return error instanceof cassandra.errors.ResponseError && (error.code === codes.writeTimeout || error.code === codes.overloaded);
}

function rowToUser(userKey: string, row: cassandra.types.Row): UserRecord {
  const displayName = row.get('display_name') as string | null;
  return {
    userKey,
    ...(displayName === null ? {} : { displayName }),
    attributes: (row.get('attributes') as Record<string, string> | null) ?? {},
    lists: [...((row.get('lists') as string[] | null) ?? [])].sort(),
    updatedAt: row.get('updated_at') as Date,
  };
}
