/**
 * A few upstream connections opened, greeted and (for TLS upstreams) negotiated ahead of
 * need, so a login does not wait for connect + greeting + handshake. A pooled connection
 * sends nothing until a login takes it: a proxy whose upstream leads back to itself only
 * holds `size` idle connections to itself, and x-proxy-ttl still ends the login's loop.
 *
 * It must never hand out a connection that was used, closed, or has unread input.
 */
import type { Logger } from 'pino';
import { UpstreamLink, type UpstreamTarget, type UpstreamTlsSettings } from './upstream.js';

export interface PoolSettings {
  readonly target: UpstreamTarget;
  readonly tls: UpstreamTlsSettings;
  readonly connectTimeoutMs: number;
  /** Connections kept ready; 0 turns the pool off. */
  readonly size: number;
  /** A ready connection older than this is closed and replaced before the upstream drops it. */
  readonly maxIdleMs: number;
}

/** After a failed attempt, wait this long (doubling up to the maximum) before the next one. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

export class UpstreamPool {
  private ready: UpstreamLink[] = [];
  private opening = 0;
  private retryDelayMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly settings: PoolSettings,
    private readonly log: Logger,
    /** Told of every connection attempt, for the metrics (ops/metrics.ts). */
    private readonly onConnect: (seconds: number, ok: boolean) => void = () => undefined,
  ) {}

  /** Starts filling the pool; call once the proxy listens. */
  start(): void {
    this.fill();
  }

  /** A ready connection if one is at hand, otherwise a new one. */
  async take(): Promise<UpstreamLink> {
    for (let link = this.ready.shift(); link; link = this.ready.shift()) {
      if (link.usable) {
        this.fill();
        return link;
      }
      link.close();
    }
    this.fill();
    return this.open();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const link of this.ready) link.close();
    this.ready = [];
  }

  private open(): Promise<UpstreamLink> {
    const { target, tls, connectTimeoutMs } = this.settings;
    const startedAt = performance.now();
    const opened = UpstreamLink.open(target, tls, connectTimeoutMs);
    opened.then(
      () => this.onConnect((performance.now() - startedAt) / 1000, true),
      () => this.onConnect((performance.now() - startedAt) / 1000, false),
    );
    return opened;
  }

  private fill(): void {
    while (!this.closed && this.retryTimer === null && this.ready.length + this.opening < this.settings.size) {
      this.opening++;
      this.open().then(
        (link) => {
          this.opening--;
          this.retryDelayMs = 0;
          if (this.closed) {
            link.close();
            return;
          }
          this.ready.push(link);
          setTimeout(() => this.expire(link), this.settings.maxIdleMs).unref();
        },
        (err: Error) => {
          this.opening--;
          this.retryDelayMs = Math.min(RETRY_MAX_MS, this.retryDelayMs === 0 ? RETRY_FIRST_MS : this.retryDelayMs * 2);
          this.log.debug({ err: err.message, retryInMs: this.retryDelayMs }, 'could not open a spare upstream connection');
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.fill();
          }, this.retryDelayMs);
          this.retryTimer.unref();
        },
      );
    }
  }

  private expire(link: UpstreamLink): void {
    const index = this.ready.indexOf(link);
    if (index === -1) return; // taken meanwhile
    this.ready.splice(index, 1);
    link.close();
    this.fill();
  }
}
