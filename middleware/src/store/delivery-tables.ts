/**
 * The delivery tables of a tenant keyspace (delivery/delivery-types.ts says what each holds), as
 * CQL for the Cassandra store; the embedded store keeps the same names as key prefixes. Kept
 * apart from tenant-tables.ts, which spreads them into the plan.
 *
 * Why these keys: a delivery is one partition (point, event), read and written by one node at a
 * time; the due queue is 16 partitions (shard) ordered by due time, the unit a node leases; the
 * log is per point and UTC day, newest first, for the operator's listing and for recover; the
 * attempts of one delivery are one partition. Finished deliveries and attempts carry a TTL (the
 * log retention); pending ones none, so nothing waiting is ever lost to a TTL.
 */
/** Queue columns newer than the first delivery tables (tenant-tables.ts adds them by ALTER TABLE). */
export const DELIVERY_ADDED_COLUMNS: readonly { table: string; column: string; type: string }[] = [
  { table: 'delivery_queue', column: 'event_type', type: 'text' },
  { table: 'delivery_queue', column: 'event', type: 'text' },
  { table: 'delivery_queue', column: 'attempts', type: 'int' },
  { table: 'delivery_queue', column: 'step', type: 'int' },
  { table: 'delivery_queue', column: 'created_at', type: 'timestamp' },
  { table: 'delivery_queue', column: 'updated_at', type: 'timestamp' },
  { table: 'delivery_queue', column: 'last_result', type: 'text' },
];

export const DELIVERY_TABLES: Readonly<Record<string, string>> = {
  deliveries: `(
    point_id text,
    event_id timeuuid,
    event_type text,
    event text,
    state text,
    attempts int,
    step int,
    due_at timestamp,
    created_at timestamp,
    updated_at timestamp,
    last_result text,
    PRIMARY KEY ((point_id, event_id)))`,
  // Each entry carries the delivery as it was when queued (the row's columns), so taking a
  // shard's due deliveries is one read, not one per delivery. Entries of keyspaces made before
  // these columns have them empty and are resolved by reading the row.
  delivery_queue: `(
    shard int,
    due_at timestamp,
    point_id text,
    event_id timeuuid,
    event_type text,
    event text,
    attempts int,
    step int,
    created_at timestamp,
    updated_at timestamp,
    last_result text,
    PRIMARY KEY ((shard), due_at, point_id, event_id))`,
  delivery_log: `(
    point_id text,
    day text,
    created_at timestamp,
    event_id timeuuid,
    PRIMARY KEY ((point_id, day), created_at, event_id)) WITH CLUSTERING ORDER BY (created_at DESC, event_id DESC)`,
  delivery_attempts: `(
    point_id text,
    event_id timeuuid,
    attempt int,
    at timestamp,
    ok boolean,
    status int,
    latency_ms int,
    response text,
    error text,
    PRIMARY KEY ((point_id, event_id), attempt))`,
  // Secrets and health as JSON, changed by compare-and-set on version.
  // Health times as plain columns, written with the attempt's time as write timestamp, so the
  // latest attempt wins without a read; reset_at: when an operator last enabled the point.
  delivery_points: `(
    point_id text PRIMARY KEY,
    state text,
    version int,
    last_success_at timestamp,
    last_failure_at timestamp,
    last_error text,
    reset_at timestamp)`,
  // Which node works a shard of the due queue: written IF NOT EXISTS / IF owner = ?, with a TTL.
  delivery_leases: `(
    shard int PRIMARY KEY,
    owner text)`,
};
