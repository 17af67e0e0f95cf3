/**
 * One client connection from accept to close. Before login the proxy is the server: it
 * greets, answers CAPABILITY/ID/NOOP/LOGOUT, runs STARTTLS and takes the credentials, which
 * it relays to the upstream (whose answer decides). After a successful login it hands both
 * sockets to a Relay and only keeps the timers and the log.
 *
 * It must never: log a credential, read client input while a login or TLS handshake is in
 * flight, or accept bytes pipelined behind STARTTLS.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { PRE_LOGIN_COMMANDS, AFTER_LOGIN_COMMANDS } from './commands/index.js';
import { continuePlain } from './commands/login.js';
import type { CommandOutcome, Credentials, PreLoginSession } from './commands/types.js';
import { PROXY_ERRORS, imapErrorLine, type ProxyErrorDefinition } from './errors.js';
import { DROP, ImapFramer, STOP, type FrameHandler, type LineVerdict, type LiteralAnnouncement } from './framer.js';
import { upstreamId, type IdFields } from './imap-id.js';
import { ImapSyntaxError, parseCommand, peekTagAndName, tagOrStar } from './imap-syntax.js';
import { Relay, type RelayOwner } from './relay.js';
import type { ProxyRuntime } from './runtime.js';
import type { EngineClient } from './engine-client.js';
import type { EventOrigin } from '@inlay/schemas';
import type { UpstreamLink } from './upstream.js';
import type { UpstreamPool } from './upstream-pool.js';
import { loginUpstream } from './upstream-login.js';
import type { UserAddressLease } from './user-address-limit.js';
import type { ConnectionState, ProxyMetrics } from './ops/metrics.js';

export type SessionState =
  | { readonly kind: 'notAuthenticated' }
  /** "+" sent for AUTHENTICATE PLAIN; the next line is the client's response. */
  | { readonly kind: 'awaitingSasl'; readonly tag: string }
  /** STARTTLS handshake or login in flight: client input is held back. */
  | { readonly kind: 'busy'; readonly what: 'login' | 'logout' }
  /** STARTTLS accepted; the handshake starts once we know nothing was pipelined behind it. */
  | { readonly kind: 'startingTls'; readonly tag: string }
  | { readonly kind: 'relaying'; readonly relay: Relay }
  | { readonly kind: 'closed' };

const NOT_AUTHENTICATED: SessionState = { kind: 'notAuthenticated' };

/** A command being received: its segments and the literals after each. */
interface CommandInProgress {
  segments: Buffer[];
  literals: Buffer[];
  bytes: number;
}

export class ClientSession implements FrameHandler, PreLoginSession, RelayOwner {
  readonly id = randomBytes(9).toString('base64url');
  readonly log: Logger;
  readonly limits: ProxyRuntime['limits'];
  private state: SessionState = NOT_AUTHENTICATED;
  private framer: ImapFramer;
  private command: CommandInProgress | null = null;
  /** Client bytes received behind a command that paused reading. */
  private held: Buffer | null = null;
  private clientId: IdFields = new Map();
  private upstream: UpstreamLink | null = null;
  private badCommands = 0;
  private user: string | null = null;
  /** This session's place in the per-user-and-address count, held while logged in. */
  private userAddressLease: UserAddressLease | null = null;

  get login(): string {
    return this.user ?? '';
  }

  get engine(): EngineClient | null {
    return this.runtime.engine;
  }

  /** The client as events record it: the address a trusted proxy in front of us named
   *  (x-originating-ip), else the connecting one; the IMAP ID name and version it sent. */
  get eventOrigin(): EventOrigin {
    const name = this.clientId.get('name');
    const version = this.clientId.get('version');
    return {
      clientAddress: this.clientAddress.slice(0, 64),
      ...(name ? { clientName: name } : {}),
      ...(version ? { clientVersion: version } : {}),
    };
  }

  /** The real client: the address a trusted proxy in front of us named (x-originating-ip), else
   *  the connecting one. */
  private get clientAddress(): string {
    const claimed = this.runtime.isTrusted(this.remoteAddress) ? this.clientId.get('x-originating-ip') : undefined;
    return claimed ?? this.remoteAddress;
  }

  get idleRefreshMs(): number {
    return this.runtime.idleRefreshMs;
  }
  private readonly startedAt = Date.now();
  private readonly remoteAddress: string;
  private readonly remotePort: number;

  constructor(
    readonly runtime: ProxyRuntime,
    private readonly pool: UpstreamPool,
    private socket: Socket,
    public secure: boolean,
    private readonly onClosed: (session: ClientSession) => void,
  ) {
    this.limits = runtime.limits;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.remotePort = socket.remotePort ?? 0;
    this.log = runtime.log.child({ cid: this.id });
    this.framer = this.preLoginFramer();
    this.attach(socket);
    socket.setTimeout(this.limits.preAuthTimeoutMs);
    // Two info lines per session, as Dovecot writes: login and disconnect, both naming the client.
    this.log.debug({ event: 'connect', remote: this.remoteAddress, remotePort: this.remotePort, tls: secure }, 'client connected');
    this.reply(`* OK [CAPABILITY ${this.preLoginCapabilities().join(' ')}] ${runtime.idName} ready.\r\n`);
  }

  get address(): string {
    return this.remoteAddress;
  }

  /** For the connection gauge: whether the client has logged in. */
  get phase(): ConnectionState {
    const { state } = this;
    switch (state.kind) {
      case 'relaying':
        return 'authenticated';
      case 'notAuthenticated':
      case 'awaitingSasl':
      case 'busy':
      case 'startingTls':
      case 'closed':
        return 'pre_login';
    }
  }

  /** Bytes read from and written to the client so far (after STARTTLS: on the TLS socket). */
  get clientBytes(): { fromClient: number; toClient: number } {
    return { fromClient: this.socket.bytesRead, toClient: this.socket.bytesWritten };
  }

  get metrics(): ProxyMetrics {
    return this.runtime.metrics;
  }

  preLoginCapabilities(): string[] {
    const capabilities = ['IMAP4rev1', 'SASL-IR', 'ID', 'LITERAL+'];
    if (!this.secure && this.runtime.secureContext) capabilities.push('STARTTLS');
    if (this.runtime.loginRequiresTls && !this.secure) capabilities.push('LOGINDISABLED');
    else capabilities.push('AUTH=PLAIN');
    return capabilities;
  }

  reply(text: string): void {
    if (this.state.kind !== 'closed') this.socket.write(text);
  }

  replyError(tag: string, error: ProxyErrorDefinition, detail?: string): void {
    this.reply(imapErrorLine(tag, error, detail).toString('latin1'));
    this.runtime.metrics.countRefusal(error.code);
    if (error.reply === 'BAD' && ++this.badCommands >= this.limits.maxBadCommands) {
      this.log.warn({ code: PROXY_ERRORS.tooManyBadCommands.code, count: this.badCommands }, 'too many invalid commands before login; disconnecting');
      this.close('too many invalid commands', PROXY_ERRORS.tooManyBadCommands);
    }
  }

  setClientId(fields: IdFields): void {
    this.clientId = fields;
  }

  awaitSaslResponse(tag: string): void {
    this.state = { kind: 'awaitingSasl', tag };
  }

  /** Ends the connection, with a BYE first when one is given. Safe to call more than once. */
  close(reason: string, bye?: ProxyErrorDefinition, detail?: string): void {
    const { state } = this;
    switch (state.kind) {
      case 'closed':
        return;
      case 'relaying':
        state.relay.end(reason, bye, detail);
        return;
      case 'notAuthenticated':
      case 'awaitingSasl':
      case 'startingTls':
      case 'busy':
        if (bye) this.socket.write(imapErrorLine('*', bye, detail));
        if (bye) this.runtime.metrics.countRefusal(bye.code);
        this.socket.end();
        setTimeout(() => this.socket.destroy(), 2000).unref();
        this.upstream?.close();
        this.closed(reason, { fromClient: this.socket.bytesRead, toClient: this.socket.bytesWritten });
        return;
    }
  }

  // --- commands that change the connection ---

  startTls(tag: string): CommandOutcome {
    this.state = { kind: 'startingTls', tag };
    return 'pause';
  }

  /**
   * Runs once the STARTTLS line has been read and we know what, if anything, followed it.
   * Bytes pipelined behind STARTTLS were sent in plaintext and could be an attacker's
   * (CVE-2011-0411 class): they must never be read as if they had come through TLS.
   */
  private negotiateTls(tag: string, pipelined: Buffer): void {
    if (pipelined.length > 0) {
      this.log.warn({ code: PROXY_ERRORS.starttlsInjection.code, bytes: pipelined.length }, 'plaintext pipelined after STARTTLS; disconnecting');
      this.close('data after STARTTLS', PROXY_ERRORS.starttlsInjection);
      return;
    }
    this.reply(`${tag} OK Begin TLS negotiation now\r\n`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secured = new TLSSocket(plain, { isServer: true, secureContext: this.runtime.secureContext! });
    secured.setTimeout(this.limits.preAuthTimeoutMs);
    secured.once('secure', () => {
      this.secure = true;
      this.state = NOT_AUTHENTICATED;
      this.framer = this.preLoginFramer();
      this.log.debug({ protocol: secured.getProtocol() }, 'STARTTLS completed');
    });
    this.socket = secured;
    this.attach(secured);
    secured.resume();
  }

  beginLogin(tag: string, credentials: Credentials): CommandOutcome {
    const user = credentials.kind === 'login' ? credentials.user.toString('utf8') : credentials.user;
    const trusted = this.runtime.isTrusted(this.remoteAddress);
    const facts = {
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      localAddress: this.socket.localAddress ?? '',
      localPort: this.socket.localPort ?? 0,
      sessionId: this.id,
    };
    const id = upstreamId(this.clientId, trusted, facts, this.runtime.proxyTtl, `${this.runtime.idName}/${this.runtime.idVersion}`);
    if (id.ttl <= 0) {
      this.log.error({ code: PROXY_ERRORS.proxyLoop.code, user }, 'x-proxy-ttl ran out: the upstream leads back to a proxy; check INLAY_UPSTREAM');
      this.replyError(tag, PROXY_ERRORS.proxyLoop);
      return 'continue';
    }
    this.state = { kind: 'busy', what: 'login' };
    const method = credentials.kind === 'login' ? 'LOGIN' : 'PLAIN';
    void loginUpstream(() => this.pool.take(), this.upstream, tag, credentials, id).then((outcome) => {
      this.upstream = null;
      if (this.state.kind === 'closed') {
        if (outcome.kind === 'loggedIn') outcome.handOver.socket.destroy();
        if (outcome.kind === 'rejected') outcome.link.close();
        return;
      }
      switch (outcome.kind) {
        case 'loggedIn': {
          // Counted once the upstream accepted, as Dovecot counts: a wrong password gets the
          // server's answer, and only sessions that really hold a login take a place.
          const lease = this.runtime.userAddressSessions.admit(user, this.clientAddress);
          if (lease === null) {
            this.refuseOverUserAddressLimit(tag, user, method, outcome.handOver.socket);
            return;
          }
          this.userAddressLease = lease;
          this.user = user;
          this.runtime.metrics.countLogin('ok');
          this.log.info({ event: 'login', user, method, remote: this.remoteAddress, remotePort: this.remotePort, tls: this.secure }, 'logged in');
          this.startRelay(outcome.toClient, outcome.handOver.socket, outcome.handOver.leftover);
          return;
        }
        case 'rejected':
          this.upstream = outcome.link;
          this.runtime.metrics.countLogin('refused');
          this.log.info({ event: 'loginFailed', user, method, answer: outcome.toClient.toString('latin1').trim().slice(0, 200) }, 'login refused by upstream');
          this.reply(outcome.toClient.toString('latin1'));
          this.resumeReading();
          return;
        case 'unavailable':
          this.runtime.metrics.countLogin('failed');
          this.log.error({ event: 'upstreamUnavailable', code: PROXY_ERRORS.upstreamUnavailable.code, user, reason: outcome.reason }, 'upstream unavailable for login');
          this.replyError(tag, PROXY_ERRORS.upstreamUnavailable);
          this.resumeReading();
          return;
      }
    });
    return 'pause';
  }

  /** The upstream session just opened is logged out again; the client may try another login. */
  private refuseOverUserAddressLimit(tag: string, user: string, method: string, upstream: Socket): void {
    const limit = this.runtime.userAddressSessions.max;
    this.runtime.metrics.countLogin('refused');
    upstream.on('error', () => {});
    upstream.end('Z LOGOUT\r\n');
    setTimeout(() => upstream.destroy(), 2000).unref();
    this.log.warn(
      { event: 'loginRefused', code: PROXY_ERRORS.tooManyForUserAddress.code, user, method, remote: this.remoteAddress, client: this.clientAddress, limit },
      'login refused: too many sessions of this user from this address',
    );
    const { tooManyForUserAddress } = PROXY_ERRORS;
    this.replyError(tag, { ...tooManyForUserAddress, text: `${tooManyForUserAddress.text} (proxy.limits.maxConnectionsPerUserAddress=${limit})` });
    this.resumeReading();
  }

  logout(tag: string): void {
    this.state = { kind: 'busy', what: 'logout' };
    this.reply(`* BYE Logging out\r\n${tag} OK LOGOUT completed\r\n`);
    this.close('logout');
  }

  // --- RelayOwner ---

  idleChanged(idle: boolean): void {
    this.socket.setTimeout(idle ? this.limits.idleTimeoutMs : this.limits.authenticatedTimeoutMs);
  }

  relayEnded(reason: string, bytes: { fromClient: number; toClient: number }): void {
    this.closed(reason, bytes);
  }

  // --- FrameHandler for the pre-login framer ---

  onLine(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    const { state } = this;
    if (state.kind === 'awaitingSasl') {
      this.state = NOT_AUTHENTICATED;
      const response = line.toString('latin1').replace(/\r?\n$/, '');
      return continuePlain(this, state.tag, response) === 'pause' ? STOP : DROP;
    }
    if (state.kind !== 'notAuthenticated') return DROP;
    const command = first || this.command === null ? (this.command = { segments: [], literals: [], bytes: 0 }) : this.command;
    command.segments.push(line);
    command.bytes += line.length;
    if (literal !== null) return this.acceptLiteral(command, literal);
    this.command = null;
    return this.dispatch(command) === 'pause' ? STOP : DROP;
  }

  onLiteralData(chunk: Buffer): boolean {
    const command = this.command;
    if (command) {
      // Bounded by maxPreAuthLiteralBytes (acceptLiteral), so joining as it comes is cheap.
      const index = command.segments.length - 1;
      const sofar = command.literals[index];
      command.literals[index] = sofar ? Buffer.concat([sofar, chunk]) : Buffer.from(chunk);
    }
    return false;
  }

  onLineTooLong(limit: number): void {
    this.log.warn({ code: PROXY_ERRORS.lineTooLong.code, limitBytes: limit }, 'client line too long before login; disconnecting');
    this.close('command line too long', PROXY_ERRORS.lineTooLong, `limit is ${limit} bytes`);
  }

  private acceptLiteral(command: CommandInProgress, literal: LiteralAnnouncement): LineVerdict {
    const limit = this.limits.maxPreAuthLiteralBytes;
    if (command.bytes + literal.size > limit) {
      const tag = tagOrStar(command.segments[0]!);
      this.command = null;
      if (!literal.synchronizing) {
        // The client sends the bytes without waiting: there is no way to skip them reliably.
        this.close('literal too large before login', PROXY_ERRORS.lineTooLong, `literal of ${literal.size} bytes; limit is ${limit}`);
        return DROP;
      }
      this.framer.refuseLiteral();
      this.replyError(tag, PROXY_ERRORS.literalTooLarge, `limit is ${limit} bytes`);
      return DROP;
    }
    command.bytes += literal.size;
    command.literals[command.segments.length - 1] = Buffer.alloc(0);
    if (literal.synchronizing) this.reply('+ Ready for literal data\r\n');
    return DROP;
  }

  private dispatch(command: CommandInProgress): CommandOutcome {
    const first = command.segments[0]!;
    const head = peekTagAndName(first);
    if (!head) {
      this.replyError(tagOrStar(first), PROXY_ERRORS.badSyntax);
      return 'continue';
    }
    const handler = PRE_LOGIN_COMMANDS.get(head.name);
    if (!handler) {
      this.replyError(head.tag, AFTER_LOGIN_COMMANDS.has(head.name) ? PROXY_ERRORS.loginFirst : PROXY_ERRORS.unknownCommand);
      return 'continue';
    }
    try {
      return handler(this, parseCommand(command));
    } catch (err) {
      if (!(err instanceof ImapSyntaxError)) throw err;
      this.replyError(head.tag, PROXY_ERRORS.badSyntax, err.message);
      return 'continue';
    }
  }

  private preLoginFramer(): ImapFramer {
    return new ImapFramer('client', this, () => {}, this.limits.maxLineBytes);
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.guarded(() => this.fromClient(chunk)));
    socket.on('timeout', () => this.timedOut());
    socket.on('error', (err) => {
      this.log.debug({ err: err.message }, 'client socket error');
      this.close(`client socket error: ${err.message}`);
    });
    socket.on('close', () => this.close('client closed the connection'));
  }

  /** A throw here is a bug of ours: logged with this connection's id, it ends this session, never the process. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.log.error({ code: PROXY_ERRORS.internalError.code, err: error.message, stack: error.stack }, 'handling client input failed; ending this session');
      this.close(`internal error: ${error.message}`, PROXY_ERRORS.internalError);
    }
  }

  private fromClient(chunk: Buffer): void {
    if (this.state.kind === 'busy') {
      this.hold(chunk);
      return;
    }
    const rest = this.framer.push(chunk);
    if (rest === null) return;
    const { state } = this;
    if (state.kind === 'startingTls') {
      this.negotiateTls(state.tag, rest);
      return;
    }
    this.hold(rest);
    this.socket.pause();
  }

  private hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.held = this.held ? Buffer.concat([this.held, bytes]) : Buffer.from(bytes);
    if (this.held.length > this.limits.maxLineBytes * 2) {
      this.close('too much input while a login was in progress', PROXY_ERRORS.lineTooLong);
    }
  }

  private resumeReading(): void {
    if (this.state.kind === 'busy') this.state = NOT_AUTHENTICATED;
    const held = this.held;
    this.held = null;
    if (held) this.guarded(() => this.fromClient(held));
    if (this.state.kind === 'notAuthenticated' || this.state.kind === 'awaitingSasl') this.socket.resume();
  }

  private startRelay(greeting: Buffer, upstream: Socket, upstreamLeftover: Buffer): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    const relay = new Relay(this, this.socket, upstream);
    this.state = { kind: 'relaying', relay };
    this.socket.setTimeout(this.limits.authenticatedTimeoutMs);
    this.socket.write(greeting);
    const held = this.held ?? Buffer.alloc(0);
    this.held = null;
    relay.start(held, upstreamLeftover);
  }

  private timedOut(): void {
    const relaying = this.state.kind === 'relaying';
    const error = relaying ? PROXY_ERRORS.idleTimeout : PROXY_ERRORS.preAuthTimeout;
    this.log.info({ code: error.code }, relaying ? 'inactivity timeout' : 'no login before the timeout');
    this.close(relaying ? 'inactivity timeout' : 'pre-login timeout', error);
  }

  private closed(reason: string, bytes: { fromClient: number; toClient: number }): void {
    if (this.state.kind === 'closed') return;
    this.state = { kind: 'closed' };
    this.userAddressLease?.release();
    this.log.info({ event: 'disconnect', reason, user: this.user, remote: this.remoteAddress, durationMs: Date.now() - this.startedAt, ...bytes }, 'client disconnected');
    this.onClosed(this);
  }
}
