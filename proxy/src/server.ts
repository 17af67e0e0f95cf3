/**
 * The listeners (plain with STARTTLS, implicit TLS) and the set of live sessions: admission
 * limits per address (exempt networks aside) and in total, and graceful shutdown (stop
 * accepting, BYE to everyone at a response boundary, cut what is left after the drain period).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { PROXY_ERRORS, imapErrorLine } from './errors.js';
import type { ProxyRuntime } from './runtime.js';
import { ClientSession } from './session.js';
import { UpstreamPool } from './upstream-pool.js';
import type { ConnectionState, Listener } from './ops/metrics.js';

export interface ListenAddresses {
  readonly plain: string | null;
  readonly tls: string | null;
}

export class ProxyServer {
  private readonly sessions = new Set<ClientSession>();
  private readonly perAddress = new Map<string, number>();
  /** Which listener admitted each session (STARTTLS does not move a session to the TLS count). */
  private readonly listenerOf = new Map<ClientSession, 'plain' | 'tls'>();
  private readonly servers: Server[] = [];
  private stopping = false;
  private readonly pool: UpstreamPool;
  /** Client bytes of sessions that ended, for inlay_proxy_relayed_bytes_total. */
  private readonly endedBytes = { fromClient: 0, toClient: 0 };

  constructor(private readonly runtime: ProxyRuntime) {
    const { limits } = runtime;
    this.pool = new UpstreamPool(
      { target: runtime.upstream, tls: runtime.upstreamTls, connectTimeoutMs: limits.upstreamConnectTimeoutMs, size: limits.upstreamPoolSize, maxIdleMs: limits.upstreamPoolIdleMs },
      runtime.log,
      (seconds, ok) => runtime.metrics.upstreamConnected(seconds, ok),
    );
    runtime.metrics.observe({ connections: () => this.connectionsByListener(), bytes: () => this.clientBytes(), engine: runtime.engine });
  }

  /** Read at scrape time: one pass over the live sessions. */
  private connectionsByListener(): { listener: Listener; state: ConnectionState; count: number }[] {
    const counts = { plain: { pre_login: 0, authenticated: 0 }, tls: { pre_login: 0, authenticated: 0 } };
    for (const [session, listener] of this.listenerOf) counts[listener][session.phase]++;
    return (['plain', 'tls'] as const).flatMap((listener) => (['pre_login', 'authenticated'] as const).map((state) => ({ listener, state, count: counts[listener][state] })));
  }

  private clientBytes(): { fromClient: number; toClient: number } {
    let { fromClient, toClient } = this.endedBytes;
    for (const session of this.sessions) {
      const bytes = session.clientBytes;
      fromClient += bytes.fromClient;
      toClient += bytes.toClient;
    }
    return { fromClient, toClient };
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  async listen(plain: string, tls: string | undefined): Promise<ListenAddresses> {
    const addresses = { plain: null as string | null, tls: null as string | null };
    if (plain) {
      const server = createServer({ noDelay: true }, (socket) => this.admit(socket, false));
      addresses.plain = await this.bind(server, plain, 'proxy.listen');
    }
    if (tls) {
      const serverTls = this.runtime.serverTls!;
      const server = createTlsServer({
        ...serverTls.listenerOptions(),
        handshakeTimeout: this.runtime.limits.preAuthTimeoutMs,
        noDelay: true,
      });
      serverTls.follow(server);
      server.on('secureConnection', (socket: TLSSocket) => this.admit(socket, true));
      server.on('tlsClientError', (err, socket) => {
        this.runtime.log.debug({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
      });
      addresses.tls = await this.bind(server, tls, 'proxy.tlsListen');
    }
    this.pool.start();
    return addresses;
  }

  /** Stops accepting, says BYE to every session, and resolves when all are gone or the drain period ends. */
  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const server of this.servers) server.close();
    this.pool.close();
    const drainMs = this.runtime.limits.shutdownDrainMs;
    this.runtime.log.info({ sessions: this.sessions.size, drainMs }, 'shutting down: BYE to all sessions');
    for (const session of this.sessions) session.close('server shutting down', PROXY_ERRORS.shuttingDown);
    const deadline = Date.now() + drainMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    if (this.sessions.size > 0) this.runtime.log.warn({ sessions: this.sessions.size }, 'drain period over; cutting remaining connections');
    this.runtime.engine?.close();
  }

  private admit(socket: Socket, secure: boolean): void {
    const address = socket.remoteAddress ?? 'unknown';
    const limits = this.runtime.limits;
    const fromAddress = this.perAddress.get(address) ?? 0;
    const refusal = this.stopping
      ? PROXY_ERRORS.shuttingDown
      : this.sessions.size >= limits.maxConnections
        ? PROXY_ERRORS.tooManyConnections
        : fromAddress >= limits.maxConnectionsPerAddress && !this.runtime.isExemptFromAddressLimit(address)
          ? PROXY_ERRORS.tooManyFromAddress
          : null;
    if (refusal) {
      this.runtime.log.warn({ code: refusal.code, remote: address, fromAddress, total: this.sessions.size }, 'connection refused');
      this.runtime.metrics.countRefusal(refusal.code);
      socket.on('error', () => {});
      socket.end(imapErrorLine('*', refusal));
      return;
    }
    this.perAddress.set(address, fromAddress + 1);
    const session = new ClientSession(this.runtime, this.pool, socket, secure, (ended) => this.forget(ended));
    this.sessions.add(session);
    this.listenerOf.set(session, secure ? 'tls' : 'plain');
    this.runtime.metrics.countAccepted(secure ? 'tls' : 'plain');
  }

  private forget(session: ClientSession): void {
    if (!this.sessions.delete(session)) return;
    this.listenerOf.delete(session);
    const bytes = session.clientBytes;
    this.endedBytes.fromClient += bytes.fromClient;
    this.endedBytes.toClient += bytes.toClient;
    const count = (this.perAddress.get(session.address) ?? 1) - 1;
    if (count <= 0) this.perAddress.delete(session.address);
    else this.perAddress.set(session.address, count);
  }

  private bind(server: Server, address: string, key: string): Promise<string> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`${key} ${address}: cannot listen (${err.code ?? err.message})`)));
      server.listen({ host, port, backlog: 1024 }, () => {
        const bound = server.address() as AddressInfo;
        resolve(bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`);
      });
    });
  }
}
