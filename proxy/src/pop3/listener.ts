/**
 * The POP3 listeners (plain with STLS, implicit TLS) and their live sessions: the same
 * admission limits as the IMAP listeners (total, per address) counted apart, and shutdown.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { POP3_ERRORS, pop3ErrorLine } from '../errors.js';
import type { Pop3Settings, ProxyRuntime } from '../runtime.js';
import { Pop3Session } from './session.js';

export interface Pop3Addresses {
  readonly plain: string | null;
  readonly tls: string | null;
}

export class Pop3Server {
  private readonly sessions = new Set<Pop3Session>();
  private readonly perAddress = new Map<string, number>();
  private readonly servers: Server[] = [];
  private stopping = false;

  constructor(
    private readonly runtime: ProxyRuntime,
    private readonly settings: Pop3Settings,
  ) {}

  get connectionCount(): number {
    return this.sessions.size;
  }

  async listen(): Promise<Pop3Addresses> {
    let plain: string | null = null;
    let tls: string | null = null;
    if (this.settings.listen) {
      const server = createServer({ noDelay: true }, (socket) => this.admit(socket, false));
      plain = await this.bind(server, this.settings.listen, 'proxy.pop3.listen');
    }
    if (this.settings.tlsListen) {
      // The IMAP listeners' TLS settings (minimum version, ciphers), and a SIGHUP reload reaches it.
      const serverTls = this.runtime.serverTls!;
      const server = createTlsServer({ ...serverTls.listenerOptions(), handshakeTimeout: this.runtime.limits.preAuthTimeoutMs, noDelay: true });
      serverTls.follow(server);
      server.on('secureConnection', (socket: TLSSocket) => this.admit(socket, true));
      server.on('tlsClientError', (err, socket) => this.runtime.log.debug({ remote: socket.remoteAddress, err: err.message }, 'POP3 TLS handshake failed'));
      tls = await this.bind(server, this.settings.tlsListen, 'proxy.pop3.tlsListen');
    }
    return { plain, tls };
  }

  /** Stops accepting and ends every session; a POP3 session that ends without QUIT commits nothing. */
  shutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const server of this.servers) server.close();
    for (const session of this.sessions) session.close('server shutting down', POP3_ERRORS.shuttingDown);
  }

  private admit(socket: Socket, secure: boolean): void {
    const address = socket.remoteAddress ?? 'unknown';
    const limits = this.runtime.limits;
    const fromAddress = this.perAddress.get(address) ?? 0;
    const refusal = this.stopping
      ? POP3_ERRORS.shuttingDown
      : this.sessions.size >= limits.maxConnections || (fromAddress >= limits.maxConnectionsPerAddress && !this.runtime.isExemptFromAddressLimit(address))
        ? POP3_ERRORS.tooManyConnections
        : null;
    if (refusal) {
      this.runtime.log.warn({ code: refusal.code, remote: address, fromAddress, total: this.sessions.size }, 'POP3 connection refused');
      socket.on('error', () => {});
      socket.end(pop3ErrorLine(refusal));
      return;
    }
    this.perAddress.set(address, fromAddress + 1);
    const session = new Pop3Session(this.runtime, this.settings, socket, secure, (ended) => this.forget(ended));
    this.sessions.add(session);
  }

  private forget(session: Pop3Session): void {
    if (!this.sessions.delete(session)) return;
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
