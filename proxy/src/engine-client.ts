/**
 * The proxy's side of the middleware's internal engine API (schemas/src/engine.ts): fetches a
 * user's INBOX view, shares it briefly between that user's sessions on this node, and sends
 * what sessions change (flags, expunges, reveals, assignments).
 *
 * Every call is bounded by `engine.timeoutMs` and never throws: a failure returns undefined,
 * is logged with a stable code and counted, and the session goes on without injection. After
 * SUSPEND_AFTER calls in a row got no answer at all, no call is made for `engine.suspendMs`, so
 * a hung middleware does not add timeoutMs to every command of every user; the first call after
 * that probes again. It must never make a login or a command of the user wait longer than
 * timeoutMs, and never log the internal token.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AssignRequest, AssignResult, ExpungeRequest, FlagsRequest, InboxView, ProxyEngineConfig, ViewKey } from '@inlay/schemas';
import { EngineHttp } from './engine-http.js';
import { ENGINE_LOG_CODES } from './errors.js';
import { ViewMemory, keyOf } from './engine-memory.js';
import type { EngineCall, EngineObserver } from './ops/metrics.js';

export interface EngineStats {
  calls: number;
  failures: number;
  cacheHits: number;
  /** View lookups that had to ask the middleware (or join a request in flight). */
  cacheMisses: number;
  /** Reveals not sent because one from this node already covered the UIDNEXT shown. */
  revealsSaved: number;
  /** Calls not made while suspended. */
  suspendedCalls: number;
}

/** A reveal this node made after learning that the server's UIDNEXT had reached `serverUidNext`. */
interface CoveringReveal {
  readonly serverUidNext: number;
  readonly epoch: number;
  readonly stateEpoch: number | undefined;
}

interface CachedView {
  readonly view: InboxView;
  readonly expiresAt: number;
}

/** Users whose covering reveal this node remembers; the oldest is forgotten first (it then reveals again). */
const MAX_REMEMBERED = 100_000;
/** Failures are logged at most this often per node, so a middleware outage is one line a second, not one per command. */
const FAILURE_LOG_INTERVAL_MS = 1000;
/** Calls in a row without an answer before the client stops asking for engine.suspendMs. An HTTP
 *  error does not count: it is one request's (one user's data), not the middleware being gone. */
const SUSPEND_AFTER = 3;
/** The metrics' name of each engine API path (a fixed set, so the label stays bounded). */
const CALL_NAMES: ReadonlyMap<string, EngineCall> = new Map([
  ['/internal/v1/views', 'view'],
  ['/internal/v1/views/reveal', 'reveal'],
  ['/internal/v1/views/assign', 'assign'],
  ['/internal/v1/views/flags', 'flags'],
  ['/internal/v1/views/expunge', 'expunge'],
]);
/** Metrics of a client that nobody scrapes (tests that build one alone). */
const UNOBSERVED: EngineObserver = { call: () => undefined, suspended: () => undefined };

export class EngineClient {
  readonly stats: EngineStats = { calls: 0, failures: 0, cacheHits: 0, cacheMisses: 0, revealsSaved: 0, suspendedCalls: 0 };
  /** Per view, what keeps UIDNEXT, placement and UIDVALIDITY steady when no answer comes. */
  readonly memory = new ViewMemory();
  private readonly cache = new Map<string, CachedView>();
  private readonly covering = new Map<string, CoveringReveal>();
  /** One request per view in flight: sessions of one user asking together share it. */
  private readonly inFlight = new Map<string, Promise<InboxView | undefined>>();
  private lastFailureLog = 0;
  /** Calls in a row that got no answer at all. */
  private unanswered = 0;
  private suspendedUntil = 0;
  private readonly http: EngineHttp;
  /** Named in every event this node's sessions cause. */
  private readonly node = hostname().slice(0, 255) || 'unknown';

  constructor(
    private readonly config: ProxyEngineConfig,
    token: string,
    private readonly log: Logger,
    private readonly observer: EngineObserver = UNOBSERVED,
  ) {
    this.http = new EngineHttp((config.url ?? '').replace(/\/+$/, ''), { authorization: `Bearer ${token}` });
  }

  /** True while no call is made (engine.suspendMs after calls in a row got no answer). */
  get suspendedNow(): boolean {
    return Date.now() < this.suspendedUntil;
  }

  /** Closes the kept-alive connections to the middleware. */
  close(): void {
    this.http.close();
  }

  /** The view, from this node's cache when it is fresh enough. */
  async view(key: ViewKey): Promise<InboxView | undefined> {
    const cacheKey = keyOf(key);
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expiresAt > Date.now()) {
      this.stats.cacheHits++;
      return cached.view;
    }
    this.stats.cacheMisses++;
    return this.fetchView(key, cacheKey);
  }

  /** The cached view when it is still fresh; never asks. */
  cachedView(key: ViewKey): InboxView | undefined {
    const cached = this.cache.get(keyOf(key));
    return cached && cached.expiresAt > Date.now() ? cached.view : undefined;
  }

  /** A fresh view, bypassing the cache (a session that must know the latest epoch). */
  freshView(key: ViewKey): Promise<InboxView | undefined> {
    return this.fetchView(key, keyOf(key));
  }

  /** Raises the epoch before the session shows newly arrived real mail; returns the view after. */
  reveal(key: ViewKey): Promise<InboxView | undefined> {
    return this.remember(key, this.post<InboxView>('/internal/v1/views/reveal', key));
  }

  /**
   * A view that holds every virtual message anchored below `serverUidNext` − 1, and after which
   * no such message can be assigned any more — what a session needs before it tells its client
   * about real mail up to that UIDNEXT. `serverUidNext` must have been learned from the server
   * before this call.
   *
   * Usually that is a reveal. But once this node revealed after learning a UIDNEXT at least as
   * high (epoch E), every assignment anchored lower either landed before E or fails on its stale
   * epoch, so any view with epoch ≥ E will do: from the cache, without a write. A client that
   * selects INBOX again, or a second session of the user, then costs the middleware nothing.
   */
  async revealUpTo(key: ViewKey, serverUidNext: number): Promise<{ view: InboxView | undefined; revealed: boolean }> {
    const cacheKey = keyOf(key);
    const covering = this.covering.get(cacheKey);
    if (covering !== undefined && covering.serverUidNext >= serverUidNext) {
      const view = await this.view(key);
      if (view !== undefined && view.stateEpoch === covering.stateEpoch && view.epoch >= covering.epoch) {
        this.stats.revealsSaved++;
        return { view, revealed: false };
      }
    }
    const view = await this.reveal(key);
    if (view !== undefined && (covering === undefined || serverUidNext >= covering.serverUidNext)) {
      this.covering.delete(cacheKey); // re-inserted last: the map evicts oldest first
      if (this.covering.size >= MAX_REMEMBERED) this.covering.delete(this.covering.keys().next().value!);
      this.covering.set(cacheKey, { serverUidNext, epoch: view.epoch, stateEpoch: view.stateEpoch });
    }
    return { view, revealed: view !== undefined };
  }

  assign(request: AssignRequest): Promise<AssignResult | undefined> {
    const { epoch: _epoch, anchorServerUid: _anchor, origin: _origin, ...key } = request;
    return this.remember(key, this.post<AssignResult>('/internal/v1/views/assign', { ...request, origin: { ...request.origin, node: this.node } }));
  }

  flags(request: FlagsRequest): Promise<InboxView | undefined> {
    const { changes: _changes, origin: _origin, ...key } = request;
    return this.remember(key, this.post<InboxView>('/internal/v1/views/flags', { ...request, origin: { ...request.origin, node: this.node } }));
  }

  expunge(request: ExpungeRequest): Promise<InboxView | undefined> {
    const { uids: _uids, origin: _origin, ...key } = request;
    return this.remember(key, this.post<InboxView>('/internal/v1/views/expunge', { ...request, origin: { ...request.origin, node: this.node } }));
  }

  private fetchView(key: ViewKey, cacheKey: string): Promise<InboxView | undefined> {
    const running = this.inFlight.get(cacheKey);
    if (running) return running;
    const request = this.remember(key, this.post<InboxView>('/internal/v1/views', key)).finally(() => this.inFlight.delete(cacheKey));
    this.inFlight.set(cacheKey, request);
    return request;
  }

  /** Every answer carries the whole view: keep it for the user's other sessions. */
  private async remember<T extends InboxView>(key: ViewKey, answer: Promise<T | undefined>): Promise<T | undefined> {
    const view = await answer;
    if (view) {
      this.memory.noteView(key, view);
      const cacheKey = keyOf(key);
      const cached = this.cache.get(cacheKey);
      // Answers can arrive out of order; an older epoch never replaces a newer one (revealUpTo relies on it).
      // (A view whose state began again — another stateEpoch — has its epoch count start over too.)
      const older = cached !== undefined && cached.expiresAt > Date.now() && cached.view.stateEpoch === view.stateEpoch && cached.view.epoch > view.epoch;
      const ttlMs = Math.min(view.ttlMs, this.config.viewCacheMs);
      if (older) return view;
      if (ttlMs > 0) this.cache.set(cacheKey, { view, expiresAt: Date.now() + ttlMs });
      else this.cache.delete(cacheKey);
      this.evictExpired();
    }
    return view;
  }

  private async post<T>(path: string, body: unknown): Promise<T | undefined> {
    const call = CALL_NAMES.get(path) ?? 'other';
    if (Date.now() < this.suspendedUntil) {
      this.stats.suspendedCalls++;
      this.observer.call(call, 'suspended', 0);
      return undefined;
    }
    this.stats.calls++;
    const startedAt = performance.now();
    const seconds = (): number => (performance.now() - startedAt) / 1000;
    try {
      const answer = await this.http.post(path, JSON.stringify(body), this.config.timeoutMs);
      this.answered();
      if (answer.status < 200 || answer.status > 299) {
        this.observer.call(call, 'http_error', seconds());
        this.failed(path, `HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
        return undefined;
      }
      const parsed = this.parsed<T>(path, answer.body);
      this.observer.call(call, parsed === undefined ? 'bad_answer' : 'ok', seconds());
      return parsed;
    } catch (err) {
      const reason = (err as Error).message;
      this.observer.call(call, 'unanswered', seconds());
      this.failed(path, reason);
      this.unansweredCall(reason);
      return undefined;
    }
  }

  /** An answer that is not JSON is the middleware's bug, not its absence: failed, never suspending. */
  private parsed<T>(path: string, body: string): T | undefined {
    try {
      return JSON.parse(body) as T;
    } catch {
      this.failed(path, `the answer is not JSON: ${body.slice(0, 200)}`);
      return undefined;
    }
  }

  private unansweredCall(reason: string): void {
    this.unanswered++;
    if (this.unanswered < SUSPEND_AFTER || this.config.suspendMs === 0) return;
    this.suspendedUntil = Date.now() + this.config.suspendMs;
    this.observer.suspended();
    this.log.warn(
      { code: ENGINE_LOG_CODES.suspended, reason, unanswered: this.unanswered, suspendMs: this.config.suspendMs },
      'engine calls suspended: the middleware gave no answer to several calls in a row; sessions go on without injection',
    );
  }

  private answered(): void {
    if (this.unanswered >= SUSPEND_AFTER) this.log.info({ code: ENGINE_LOG_CODES.resumed, unanswered: this.unanswered }, 'engine answers again; injection resumes');
    this.unanswered = 0;
  }

  private failed(path: string, reason: string): void {
    this.stats.failures++;
    const now = Date.now();
    if (now - this.lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
    this.lastFailureLog = now;
    this.log.warn({ code: ENGINE_LOG_CODES.unavailable, path, reason, failures: this.stats.failures }, 'engine call failed; sessions go on without injection');
  }

  /** The cache holds a user only while it is fresh; a sweep on write keeps it from growing with every user ever seen. */
  private evictExpired(): void {
    if (this.cache.size < 1024) return;
    const now = Date.now();
    for (const [key, entry] of this.cache) if (entry.expiresAt <= now) this.cache.delete(key);
  }
}
