/**
 * The Cassandra side of users and imports (tables `users`, `imports`, `import_errors` of a tenant
 * keyspace). Split from cassandra-store.ts to keep that file about tenants.
 *
 * Write strategy for an import batch of users: every user is its own partition (`user_key`), so
 * a batch of users would be a multi-partition batch — the coordinator then holds all of it and
 * fans it out, which is slower than plain writes and what Cassandra's docs warn against. Instead
 * each user is one prepared UPDATE, run with bounded concurrency (USER_WRITE_CONCURRENCY in
 * flight). Row errors of one import all share one partition (`import_id`), so they go as one
 * UNLOGGED batch per call: a single-partition batch is applied as one mutation.
 *
 * Must never build CQL from values: keyspace names are quoted identifiers, everything else is a
 * bound parameter.
 */
import cassandra from 'cassandra-driver';
import type { ImportFormat, ImportRecord, ImportRowError, ImportStatus, UserRecord, UserUpsert } from '../user-import-types.js';
import { quoteIdentifier } from './cql-schema.js';
import { translateDriverError } from './cassandra-errors.js';
import { runCql } from './cql-run.js';

/** In-flight user writes per import batch. Enough to keep a node's native-transport threads busy
 *  without queuing so much that requests time out; the driver's default pool (1 connection per
 *  host, 2048 streams) takes it easily. */
const USER_WRITE_CONCURRENCY = 64;
/** Row errors are capped by the import runner (first 1000), so one batch stays small. */
const IMPORTS_PARTITION = 'all';

export class CassandraUserImportTables {
  constructor(private readonly client: cassandra.Client) {}

  async upsertUsers(keyspace: string, users: readonly UserUpsert[], listId: string): Promise<void> {
    if (users.length === 0) return;
    const now = new Date();
    // display_name unbound (undefined = "unset" in protocol v4+) keeps the stored one.
    const query = `UPDATE ${quoteIdentifier(keyspace)}.users SET display_name = ?, attributes = attributes + ?, lists = lists + ?, updated_at = ? WHERE user_key = ?`;
    const parameters = users.map((user) => [user.displayName, user.attributes, [listId], now, user.userKey]);
    try {
      await cassandra.concurrent.executeConcurrent(this.client, query, parameters, { concurrencyLevel: USER_WRITE_CONCURRENCY, raiseOnFirstError: true });
    } catch (error) {
      throw translateDriverError(error);
    }
  }

  async getUser(keyspace: string, userKey: string): Promise<UserRecord | undefined> {
    const row = (await this.run(`SELECT display_name, attributes, lists, updated_at FROM ${quoteIdentifier(keyspace)}.users WHERE user_key = ?`, [userKey])).first();
    if (!row) return undefined;
    const displayName = row.get('display_name') as string | null;
    return {
      userKey,
      ...(displayName === null ? {} : { displayName }),
      attributes: (row.get('attributes') as Record<string, string> | null) ?? {},
      lists: [...((row.get('lists') as string[] | null) ?? [])].sort(),
      updatedAt: row.get('updated_at') as Date,
    };
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
