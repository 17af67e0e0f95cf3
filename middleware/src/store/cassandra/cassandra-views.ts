/**
 * INBOX views and engine events in Cassandra (tables `virtual_messages` and `events` of a tenant
 * keyspace, see tenant-tables.ts).
 *
 * A view is one partition (user_key, mailbox): counters, epoch, history and keywords as static columns,
 * one row per message. Every change is a compare-and-set on the static `version`: read the
 * partition at LOCAL_SERIAL (which also completes any Paxos round still in flight), let the engine
 * decide, then one conditional batch on that partition — `UPDATE … SET version = v + 1, … IF
 * version = v` plus the row writes. A conditional batch on one partition is applied atomically and
 * in isolation (one Paxos round), so two writers can never both apply a change computed from the
 * same version; the loser reads again and decides again. The rows and statics of the partition
 * are written only this way, never by plain writes, whose timestamps would race the Paxos ones.
 *
 * Events are written by cassandra-events.ts; the range listing here reads their rows.
 *
 * Must never build CQL from values: keyspace names are quoted identifiers, everything else bound.
 */
import cassandra from 'cassandra-driver';
import { MiddlewareError } from '../../errors.js';
import { bucketsOf, compareEvents, inRange } from '../event-buckets.js';
import { rowToEvent } from './cassandra-events.js';
import type { TenantRef } from '../store.js';
import { EVENT_SHARDS } from '../tenant-tables.js';
import {
  EMPTY_VIEW,
  applyMessageUpdate,
  applyViewChange,
  type CampaignHistory,
  type EngineEventRecord,
  type EventRange,
  type StoredView,
  type StoredVirtualMessage,
  type ViewChange,
  type ViewDecide,
  type ViewRef,
} from '../view-types.js';
import { quoteIdentifier } from './cql-schema.js';
import { translateDriverError } from './cassandra-errors.js';
import { allCqlRows, runCql } from './cql-run.js';

const { consistencies, responseErrorCodes } = cassandra.types;
type Row = cassandra.types.Row;
type Query = { query: string; params: unknown[] };

/** Compare-and-set rounds before a view change gives up. A user's sessions (a few devices, a few
 *  connections each) are the only writers of a view; 20 rounds outlast any realistic burst. */
const MAX_VIEW_CAS_ATTEMPTS = 20;
/** Upper bound of the random pause after a lost round, doubled per round up to 2^6: rivals that
 *  collided once spread out instead of colliding again. */
const CAS_BACKOFF_BASE_MS = 4;
/** Rows per page: a view holds a handful of visible messages and one small row per past one. */
const VIEW_FETCH_SIZE = 1000;
/** Event partitions read at once by a listing. */
const EVENT_READ_CONCURRENCY = 32;

const MESSAGE_COLUMNS =
  'uid, campaign_id, campaign_revision, variant, origin, message_id, content_hash, size, body, internal_date, injected_at, flags, flags_changes, state, read_at, expunged_at, withdrawn_at, assignment_id';

export class CassandraViewTables {
  constructor(private readonly client: cassandra.Client) {}

  async getView(ref: ViewRef): Promise<StoredView> {
    return (await this.read(ref, false)).view;
  }

  async changeView<Result>(ref: ViewRef, decide: ViewDecide<Result>): Promise<{ view: StoredView; result: Result }> {
    for (let attempt = 0; attempt < MAX_VIEW_CAS_ATTEMPTS; attempt++) {
      const { view, version } = await this.read(ref, true);
      const { change, result } = decide(view);
      if (change === null) return { view, result };
      try {
        const written = await this.client.batch(this.statements(ref, view, version, change), { prepare: true, logged: false });
        if (written.wasApplied()) return { view: applyViewChange(view, change), result };
      } catch (error) {
        // A Paxos round that timed out may or may not have applied; the next SERIAL read settles it.
        if (!isContention(error)) throw translateDriverError(error);
      }
      await pause(attempt);
    }
    throw new MiddlewareError('INLAY_MW_CONCURRENT_UPDATE', `the INBOX view of one user of tenant "${ref.id ?? ref.keyspaceName}" kept changing while it was being updated; retry`);
  }

  async listEvents(tenant: TenantRef, range: EventRange): Promise<EngineEventRecord[]> {
    const keyspace = quoteIdentifier(tenant.keyspaceName);
    const partitions = bucketsOf(range).flatMap((bucket) => Array.from({ length: EVENT_SHARDS }, (_, shard) => [bucket, shard] as const));
    const events: EngineEventRecord[] = [];
    for (let start = 0; start < partitions.length; start += EVENT_READ_CONCURRENCY) {
      const pages = await Promise.all(
        partitions.slice(start, start + EVENT_READ_CONCURRENCY).map(([bucket, shard]) => this.allRows(`SELECT * FROM ${keyspace}.events WHERE bucket = ? AND shard = ?`, [bucket, shard])),
      );
      for (const row of pages.flat()) {
        const event = rowToEvent(row);
        if (inRange(event.occurredAt, range)) events.push(event);
      }
    }
    return events.sort(compareEvents);
  }

  // --- internals ---

  private async read(ref: ViewRef, serial: boolean): Promise<{ view: StoredView; version: number | null }> {
    const rows = await this.allRows(
      `SELECT uid_validity, next_uid, epoch, state_epoch, version, history, keywords, ${MESSAGE_COLUMNS} FROM ${quoteIdentifier(ref.keyspaceName)}.virtual_messages WHERE user_key = ? AND mailbox = ?`,
      [ref.userKey, ref.mailbox],
      serial ? { consistency: consistencies.localSerial } : {},
    );
    const first = rows[0];
    if (first === undefined) return { view: EMPTY_VIEW, version: null };
    const history = first.get('history') as string | null;
    const view: StoredView = {
      uidValidity: toNumber(first.get('uid_validity')) ?? 0,
      nextUid: toNumber(first.get('next_uid')) ?? 1,
      epoch: toNumber(first.get('epoch')) ?? 0,
      stateEpoch: toNumber(first.get('state_epoch')) ?? 0,
      history: history === null ? {} : (JSON.parse(history) as Record<string, CampaignHistory>),
      // An empty set reads as null.
      keywords: ((first.get('keywords') as string[] | null) ?? []).slice().sort(),
      // A partition with statics only reads as one row whose clustering key is null.
      messages: rows.filter((row) => row.get('uid') !== null).map(rowToMessage),
    };
    return { view, version: toNumber(first.get('version')) };
  }

  /** The conditional batch that turns `current` (read at `version`) into current + change. */
  private statements(ref: ViewRef, current: StoredView, version: number | null, change: ViewChange): Query[] {
    const table = `${quoteIdentifier(ref.keyspaceName)}.virtual_messages`;
    const key = [ref.userKey, ref.mailbox];
    const next = applyViewChange(current, change);
    // The keyword set is written only when it changes: rewriting a collection leaves a tombstone.
    const keywords = change.keywords === undefined ? '' : ', keywords = ?';
    const queries: Query[] = [
      {
        // `IF version = null` holds for a partition that does not exist yet: two first writers
        // race on it like on any other version.
        query: `UPDATE ${table} SET version = ?, uid_validity = ?, next_uid = ?, epoch = ?, state_epoch = ?, history = ?${keywords} WHERE user_key = ? AND mailbox = ? IF version = ?`,
        params: [(version ?? 0) + 1, next.uidValidity, next.nextUid, next.epoch, next.stateEpoch, JSON.stringify(next.history), ...(change.keywords === undefined ? [] : [[...next.keywords]]), ...key, version],
      },
    ];
    const inserted = new Set((change.insert ?? []).map((message) => message.uid));
    if (change.dropMessages) {
      // Not the UIDs inserted again: a delete and an insert in one batch share a timestamp, and
      // the delete would win. An insert writes every column, so nothing of the old row survives.
      for (const message of current.messages) {
        if (!inserted.has(message.uid)) queries.push({ query: `DELETE FROM ${table} WHERE user_key = ? AND mailbox = ? AND uid = ?`, params: [...key, message.uid] });
      }
    }
    for (const message of change.insert ?? []) {
      queries.push({ query: `INSERT INTO ${table} (user_key, mailbox, ${MESSAGE_COLUMNS}) VALUES (?, ?, ${MESSAGE_COLUMNS.split(',').map(() => '?').join(', ')})`, params: [...key, ...messageParams(message)] });
    }
    for (const update of change.dropMessages ? [] : (change.update ?? [])) {
      const stored = current.messages.find((message) => message.uid === update.uid);
      if (stored === undefined) continue;
      const after = applyMessageUpdate(stored, update);
      queries.push({
        query: `UPDATE ${table} SET flags = ?, flags_changes = ?, state = ?, read_at = ?, expunged_at = ?, withdrawn_at = ? WHERE user_key = ? AND mailbox = ? AND uid = ?`,
        params: [[...after.flags], after.flagsChanges ?? null, after.state, msDate(after.readAtMs), msDate(after.expungedAtMs), msDate(after.withdrawnAtMs), ...key, update.uid],
      });
      if (update.dropBody && stored.body !== undefined) queries.push({ query: `UPDATE ${table} SET body = null WHERE user_key = ? AND mailbox = ? AND uid = ?`, params: [...key, update.uid] });
    }
    return queries;
  }

  private async run(query: string, params: unknown[], options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
    return runCql(this.client, query, params, options);
  }

  private async allRows(query: string, params: unknown[], options: cassandra.QueryOptions = {}): Promise<Row[]> {
    return allCqlRows(this.client, query, params, { fetchSize: VIEW_FETCH_SIZE, ...options });
  }

}

/** A lost Paxos round: the write timed out with its outcome unknown, or the SERIAL read did. */
function isContention(error: unknown): boolean {
  if (!(error instanceof cassandra.errors.ResponseError)) return false;
  const writeType = (error as { writeType?: string }).writeType;
  return (error.code === responseErrorCodes.writeTimeout && writeType === 'CAS') || error.code === responseErrorCodes.readTimeout;
}

function pause(attempt: number): Promise<void> {
  const ceilingMs = CAS_BACKOFF_BASE_MS * 2 ** Math.min(attempt, 6);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceilingMs));
}

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'number' ? value : Number(String(value));
}

function msDate(ms: number | undefined): Date | null {
  return ms === undefined ? null : new Date(ms);
}

function optionalMs(row: Row, column: string): number | undefined {
  const value = row.get(column) as Date | null;
  return value === null ? undefined : value.getTime();
}

function messageParams(message: StoredVirtualMessage): unknown[] {
  return [
    message.uid,
    message.campaignId,
    message.campaignRevision,
    message.variantId,
    message.origin,
    message.messageId,
    message.contentHash,
    message.size,
    message.body ?? null,
    new Date(message.internalDateMs),
    new Date(message.injectedAtMs),
    [...message.flags],
    message.flagsChanges ?? null,
    message.state,
    msDate(message.readAtMs),
    msDate(message.expungedAtMs),
    msDate(message.withdrawnAtMs),
    message.assignmentId,
  ];
}

function rowToMessage(row: Row): StoredVirtualMessage {
  const body = row.get('body') as Buffer | null;
  const readAtMs = optionalMs(row, 'read_at');
  const expungedAtMs = optionalMs(row, 'expunged_at');
  const withdrawnAtMs = optionalMs(row, 'withdrawn_at');
  const flagsChanges = row.get('flags_changes') as number | null;
  return {
    uid: toNumber(row.get('uid'))!,
    campaignId: String(row.get('campaign_id')),
    campaignRevision: Number(row.get('campaign_revision')),
    variantId: (row.get('variant') as string | null) ?? null,
    origin: row.get('origin') as StoredVirtualMessage['origin'],
    messageId: String(row.get('message_id')),
    contentHash: String(row.get('content_hash')),
    size: Number(row.get('size')),
    ...(body === null ? {} : { body }),
    internalDateMs: (row.get('internal_date') as Date).getTime(),
    injectedAtMs: (row.get('injected_at') as Date).getTime(),
    flags: ((row.get('flags') as string[] | null) ?? []).slice().sort(),
    ...(flagsChanges === null ? {} : { flagsChanges }),
    state: row.get('state') as StoredVirtualMessage['state'],
    ...(readAtMs === undefined ? {} : { readAtMs }),
    ...(expungedAtMs === undefined ? {} : { expungedAtMs }),
    ...(withdrawnAtMs === undefined ? {} : { withdrawnAtMs }),
    assignmentId: String(row.get('assignment_id')),
  };
}

