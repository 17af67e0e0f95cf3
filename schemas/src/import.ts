/**
 * User-data imports: a client names an object (CSV or JSON lines) in one of the tenant's data
 * sources; the middleware streams it into the tenant's users in the background and reports
 * progress and per-row errors. Must never import anything of Inlay's.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ItemId, TenantId } from './tenant.js';
import { SingleLineText, StringEnum } from './text.js';

export const IMPORT_FORMATS = ['csv', 'jsonl'] as const;
export const IMPORT_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;

/** Time-based UUIDs (v1): Cassandra orders imports by them. */
export const ImportId = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: 'a lowercase time-based UUID (version 1)',
});

export const ImportRequestSchema = Type.Object(
  {
    /** The data source holding the file; the default data source when left out. */
    dataSourceId: Type.Optional(ItemId),
    objectKey: SingleLineText({ minLength: 1, maxLength: 1024, description: 'the S3 object key of the file' }),
    format: Type.Optional(StringEnum(IMPORT_FORMATS, { description: 'csv or jsonl; by default from the key\'s extension (.csv, .jsonl, .ndjson)' })),
  },
  { additionalProperties: false },
);
export type ImportRequest = Static<typeof ImportRequestSchema>;

const count = (description: string) => Type.Integer({ minimum: 0, description });
const timestamp = (description: string) => Type.String({ format: 'date-time', description });

export const ImportRowErrorSchema = Type.Object(
  { row: Type.Integer({ minimum: 1, description: 'the line of the file the row ends on (a CSV header is line 1)' }), reason: Type.String() },
  { additionalProperties: false },
);

export const ImportViewSchema = Type.Object(
  {
    id: ImportId,
    dataSourceId: ItemId,
    objectKey: Type.String(),
    format: StringEnum(IMPORT_FORMATS),
    status: StringEnum(IMPORT_STATUSES),
    rowsRead: count('rows read so far'),
    rowsImported: count('users written so far'),
    rowsFailed: count('rows refused so far'),
    createdAt: timestamp('when the import was requested'),
    startedAt: Type.Optional(timestamp('when it started running')),
    finishedAt: Type.Optional(timestamp('when it completed or failed')),
    error: Type.Optional(Type.String({ description: 'why a failed import stopped' })),
    objectDeleted: Type.Optional(Type.Boolean({ description: 'deleteTemporaryImportFiles: whether the file was deleted afterwards' })),
    errors: Type.Optional(Type.Array(ImportRowErrorSchema, { description: 'per-row errors, the first 1000 in row order (single import only)' })),
    errorsOmitted: Type.Optional(count('failed rows beyond those listed in errors')),
  },
  { additionalProperties: false },
);
export type ImportView = Static<typeof ImportViewSchema>;
export const ImportViewListSchema = Type.Array(ImportViewSchema);

export const ImportParamsSchema = Type.Object({ id: TenantId, importId: ImportId }, { additionalProperties: false });
export type ImportParams = Static<typeof ImportParamsSchema>;
