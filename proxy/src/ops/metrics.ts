/**
 * The proxy's Prometheus metrics. Figures the proxy keeps anyway (live sessions and their bytes,
 * the engine cache's hits) are read when Prometheus scrapes, so the hot path pays nothing for them;
 * per-command counts go into a typed array (command-counts.ts); only events that are rare next to
 * commands (logins, connects, engine calls, refusals) touch prom-client where they happen.
 *
 * Must never label by user, address, mailbox or tag: every label here takes its values from a
 * fixed list in this file or command-counts.ts, so the series stay bounded whatever clients send.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { COMMAND_PATHS, COUNTED_COMMANDS, CommandCounts, type CommandPath } from './command-counts.js';

/** Default metrics that are gauges with a counter's suffix. */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export type LoginResult = 'ok' | 'refused' | 'failed';
export type Listener = 'plain' | 'tls';
/** pre_login: greeted, not logged in yet (including a login in flight); authenticated: relaying. */
export type ConnectionState = 'pre_login' | 'authenticated';
export type EngineCall = 'view' | 'reveal' | 'assign' | 'flags' | 'expunge' | 'other';
/** ok: a 2xx with JSON; http_error: any other status; bad_answer: not JSON; unanswered: timeout,
 *  refused or reset; suspended: not made, the engine being suspended after unanswered calls. */
export type EngineOutcome = 'ok' | 'http_error' | 'bad_answer' | 'unanswered' | 'suspended';

/**
 * Refusals and disconnections a named limit caused, by error code (errors.ts). Codes not listed
 * here are not limits and are not counted, which keeps `kind` to these values.
 */
const LIMIT_KINDS: ReadonlyMap<string, string> = new Map([
  ['INLAY_PROXY_TOO_MANY_CONNECTIONS', 'max_connections'],
  ['INLAY_PROXY_TOO_MANY_FROM_ADDRESS', 'max_connections_per_address'],
  ['INLAY_PROXY_TOO_MANY_FOR_USER_ADDRESS', 'max_connections_per_user_address'],
  ['INLAY_PROXY_LINE_TOO_LONG', 'line_length'],
  ['INLAY_PROXY_LITERAL_TOO_LARGE', 'literal_size'],
  ['INLAY_PROXY_LITERAL_BEYOND_LIMIT', 'literal_size'],
  ['INLAY_PROXY_TOO_MANY_BAD_COMMANDS', 'bad_commands'],
  ['INLAY_PROXY_PREAUTH_TIMEOUT', 'pre_login_timeout'],
  ['INLAY_PROXY_IDLE_TIMEOUT', 'idle_timeout'],
]);

/** Upstream TCP(+TLS) connect and greeting: loopback in a few ms, across a data centre in tens. */
const CONNECT_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Upstream commands: NOOP in under a ms, a big FETCH or SEARCH in seconds. */
const COMMAND_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Engine calls are bounded by engine.timeoutMs (default 500 ms), so nothing beyond a few seconds. */
const ENGINE_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** What the engine client reports; kept apart so engine-client.ts needs no prom-client. */
export interface EngineObserver {
  call(call: EngineCall, outcome: EngineOutcome, seconds: number): void;
  suspended(): void;
}

export interface ProxyMetrics {
  readonly registry: Registry;
  readonly engine: EngineObserver;
  /** A login's outcome: the upstream said OK, said NO/BAD, or could not be asked. */
  countLogin(result: LoginResult): void;
  countAccepted(listener: Listener): void;
  /** A limit refused a connection or a command, or ended a session; non-limit codes are ignored. */
  countRefusal(code: string): void;
  countCommand(name: string, path: CommandPath): void;
  /** An upstream connection opened (greeting read, TLS done) or failed to, and how long it took. */
  upstreamConnected(seconds: number, ok: boolean): void;
  /** A byte-copy command's round trip to the upstream. */
  upstreamCommand(seconds: number): void;
  /** Where the scrape-time figures come from; the server registers itself once it exists. */
  observe(sources: ProxyMetricSources): void;
}

/** What the metrics read at scrape time. */
export interface ProxyMetricSources {
  /** Live connections by listener and state; zero counts may be left out. */
  readonly connections: () => Iterable<{ listener: Listener; state: ConnectionState; count: number }>;
  /** Client bytes of every session so far, live and ended (read/written on the client socket). */
  readonly bytes: () => { fromClient: number; toClient: number };
  readonly engine: { readonly stats: { cacheHits: number; cacheMisses: number }; readonly suspendedNow: boolean } | null;
}

/**
 * A counter mirrored from cumulative figures kept elsewhere, one per value of its one label: at
 * each scrape each series is raised by what its figure grew since the last one, so it stays a true
 * counter (never goes down, even if a figure does).
 */
function mirroredCounter(registry: Registry, name: string, help: string, label: string, values: readonly string[], read: () => readonly number[] | null): void {
  const seen = values.map(() => 0);
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      const now = read();
      values.forEach((value, index) => {
        const figure = now?.[index] ?? 0;
        this.inc({ [label]: value }, Math.max(0, figure - seen[index]!));
        seen[index] = Math.max(seen[index]!, figure);
      });
    },
  });
}

export function createProxyMetrics(): ProxyMetrics {
  const registry = new Registry();
  let observed: ProxyMetricSources | null = null;
  collectDefaultMetrics({ register: registry, prefix: 'inlay_proxy_' });
  // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool
  // rejects them); the handles and requests they count are in the process figures anyway.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`inlay_proxy_${name}`);

  new Gauge({
    name: 'inlay_proxy_connections',
    help: 'Client connections open now, by listener and state (pre_login, authenticated)',
    labelNames: ['listener', 'state'] as const,
    registers: [registry],
    collect() {
      if (observed === null) return;
      for (const listener of ['plain', 'tls'] as const) for (const state of ['pre_login', 'authenticated'] as const) this.set({ listener, state }, 0);
      for (const { listener, state, count } of observed.connections()) this.set({ listener, state }, count);
    },
  });
  const accepted = new Counter({ name: 'inlay_proxy_connections_accepted_total', help: 'Client connections admitted, by listener', labelNames: ['listener'] as const, registers: [registry] });
  const refusals = new Counter({
    name: 'inlay_proxy_limit_refusals_total',
    help: 'Connections refused, commands refused and sessions ended by a named limit, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const logins = new Counter({ name: 'inlay_proxy_logins_total', help: 'Logins relayed to the upstream, by result (ok, refused, failed: upstream unavailable)', labelNames: ['result'] as const, registers: [registry] });

  const commandCounts = new CommandCounts();
  new Counter({
    name: 'inlay_proxy_commands_total',
    help: 'Client commands after login, by name (fixed list, other for the rest) and path (byte_copy, inbox_view)',
    labelNames: ['command', 'path'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { command, path, value } of commandCounts.entries()) this.inc({ command, path }, value);
    },
  });
  const connectSeconds = new Histogram({
    name: 'inlay_proxy_upstream_connect_duration_seconds',
    help: 'Opening an upstream connection (TCP, greeting, TLS), by outcome (ok, failed)',
    labelNames: ['outcome'] as const,
    buckets: CONNECT_BUCKETS_SECONDS,
    registers: [registry],
  });
  const commandSeconds = new Histogram({
    name: 'inlay_proxy_upstream_command_duration_seconds',
    help: 'Byte-copy commands from sending to the upstream\'s tagged completion (one timed per session at a time; IDLE never)',
    buckets: COMMAND_BUCKETS_SECONDS,
    registers: [registry],
  });

  const engineCalls = new Counter({ name: 'inlay_proxy_engine_calls_total', help: 'Calls to the middleware engine API, by call and outcome', labelNames: ['call', 'outcome'] as const, registers: [registry] });
  const engineSeconds = new Histogram({
    name: 'inlay_proxy_engine_call_duration_seconds',
    help: 'Engine API calls that were made, from request to answer or failure, by call',
    labelNames: ['call'] as const,
    buckets: ENGINE_BUCKETS_SECONDS,
    registers: [registry],
  });
  const suspensions = new Counter({ name: 'inlay_proxy_engine_suspensions_total', help: 'Times engine calls were suspended after calls in a row got no answer', registers: [registry] });
  new Gauge({
    name: 'inlay_proxy_engine_suspended',
    help: '1 while engine calls are suspended (sessions go on without injection)',
    registers: [registry],
    collect() {
      this.set(observed?.engine?.suspendedNow ? 1 : 0);
    },
  });
  mirroredCounter(registry, 'inlay_proxy_engine_view_cache_lookups_total', "User views looked up in this node's cache, by result (hit, miss)", 'result', ['hit', 'miss'], () => {
    const stats = observed?.engine?.stats;
    return stats ? [stats.cacheHits, stats.cacheMisses] : null;
  });
  mirroredCounter(registry, 'inlay_proxy_relayed_bytes_total', 'Bytes on client connections, by direction (from_client, to_client)', 'direction', ['from_client', 'to_client'], () => {
    if (observed === null) return null;
    const { fromClient, toClient } = observed.bytes();
    return [fromClient, toClient];
  });

  // Present from the first scrape, so rate() and ratios over them work before the first event.
  for (const result of ['ok', 'refused', 'failed'] as const) logins.inc({ result }, 0);
  for (const listener of ['plain', 'tls'] as const) accepted.inc({ listener }, 0);
  for (const kind of new Set(LIMIT_KINDS.values())) refusals.inc({ kind }, 0);
  for (const outcome of ['ok', 'failed'] as const) connectSeconds.zero({ outcome });
  for (const outcome of ['ok', 'http_error', 'bad_answer', 'unanswered', 'suspended'] as const) engineCalls.inc({ call: 'view', outcome }, 0);
  engineSeconds.zero({ call: 'view' });

  return {
    registry,
    engine: {
      call: (call, outcome, seconds) => {
        engineCalls.inc({ call, outcome });
        if (outcome !== 'suspended') engineSeconds.observe({ call }, seconds);
      },
      suspended: () => suspensions.inc(),
    },
    countLogin: (result) => logins.inc({ result }),
    countAccepted: (listener) => accepted.inc({ listener }),
    countRefusal: (code) => {
      const kind = LIMIT_KINDS.get(code);
      if (kind !== undefined) refusals.inc({ kind });
    },
    countCommand: (name, path) => commandCounts.count(name, path),
    upstreamConnected: (seconds, ok) => {
      connectSeconds.observe({ outcome: ok ? 'ok' : 'failed' }, seconds);
    },
    upstreamCommand: (seconds) => commandSeconds.observe(seconds),
    observe: (next) => {
      observed = next;
    },
  };
}

/** For tests and the dashboard check: every command label value the proxy can emit. */
export const COMMAND_LABELS = { commands: [...COUNTED_COMMANDS, 'other'], paths: COMMAND_PATHS } as const;
