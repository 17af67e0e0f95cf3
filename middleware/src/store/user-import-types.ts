/**
 * What the store keeps about a tenant's users and its user-data imports (tables `users`,
 * `imports`, `import_errors` of the plan in middleware/README.md). Plain data: the import runner
 * (src/imports/) decides what goes in, the store only keeps it.
 */

/** One user as an import row gives it; attributes are merged into what is stored. */
export interface UserUpsert {
  /** userKeyFor(tenant, address): the normalized address, or its HMAC. */
  readonly userKey: string;
  /** Left out: the stored display name is kept. */
  readonly displayName?: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface UserRecord {
  readonly userKey: string;
  readonly displayName?: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** Ids of the imports (user lists) the user came in with: audience {"type":"list","importId"}. */
  readonly lists: readonly string[];
  readonly updatedAt: Date;
}

/** Which page of a user scan to read: at most `pageSize` users after `cursor` (from the page
 *  before; opaque, only good for the same store and tenant). */
export interface UserScanRequest {
  readonly pageSize: number;
  readonly cursor?: string;
}

/** One page of a user scan; `next` is set while more users may follow. */
export interface UserScanPage {
  readonly users: readonly UserRecord[];
  readonly next?: string;
}

export type ImportFormat = 'csv' | 'jsonl';
export type ImportStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface ImportRecord {
  /** A time-based UUID (v1), so Cassandra can cluster imports newest first. */
  readonly importId: string;
  readonly dataSourceId: string;
  readonly objectKey: string;
  readonly format: ImportFormat;
  readonly status: ImportStatus;
  readonly rowsRead: number;
  readonly rowsImported: number;
  readonly rowsFailed: number;
  readonly createdAt: Date;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
  /** Why a failed import stopped (never a secret: see templates/s3.ts). */
  readonly error?: string;
  /** deleteTemporaryImportFiles: the object was removed from the bucket after the import. */
  readonly objectDeleted?: boolean;
}

export interface ImportRowError {
  /** 1-based line of the file the row ends on (the CSV header is line 1). */
  readonly rowNumber: number;
  readonly reason: string;
}
