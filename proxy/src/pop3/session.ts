/**
 * One POP3 client connection: greeting, input cut into commands one at a time, the session
 * state (AUTHORIZATION → TRANSACTION → UPDATE, RFC 1939 §3) as a typed union, STLS (RFC 2595),
 * CAPA (RFC 2449), timers, bad-command count. The states' commands live in authorization.ts and
 * transaction.ts.
 *
 * Every bad input gets -ERR and the next command is read; a throw is a bug of ours, logged with
 * the connection id, and ends this session only. Must never log a credential.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { EventOrigin } from '@inlay/schemas';
import { POP3_ERRORS, pop3ErrorLine, type Pop3ErrorDefinition } from '../errors.js';
import type { ConnectionFacts } from '../imap-id.js';
import type { Pop3Settings, ProxyRuntime } from '../runtime.js';
import { authPlain, pass, user, type Authorization, type AuthorizationHost } from './authorization.js';
import { LineReader, parseCommand, type InputEvent, type Pop3Command } from './command-line.js';
import { quitTransaction, TRANSACTION_COMMANDS, type Transaction, type TransactionHost } from './transaction.js';
import { Pop3UpstreamError, type Pop3Target } from './upstream.js';

type SessionState =
  | { readonly kind: 'authorization'; readonly auth: Authorization }
  /** AUTH PLAIN sent "+ ": the next line is the client's response. */
  | { readonly kind: 'saslResponse'; readonly auth: Authorization }
  | { readonly kind: 'transaction'; readonly tx: Transaction }
  /** QUIT in TRANSACTION: deletions being committed. */
  | { readonly kind: 'update' }
  | { readonly kind: 'closed' };

/** Commands read ahead of the one running (PIPELINING, RFC 2449); past this the socket is paused. */
const MAX_QUEUED_COMMANDS = 64;

export class Pop3Session implements AuthorizationHost, TransactionHost {
  readonly id = randomBytes(9).toString('base64url');
  readonly log: Logger;
  readonly address: string;
  readonly remotePort: number;
  private state: SessionState = { kind: 'authorization', auth: { upstream: null, user: null } };
  private readonly queue: InputEvent[] = [];
  private running = false;
  private reader = new LineReader();
  private badCommands = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly runtime: ProxyRuntime,
    private readonly settings: Pop3Settings,
    private socket: Socket,
    public secure: boolean,
    private readonly onClosed: (session: Pop3Session) => void,
  ) {
    this.address = socket.remoteAddress ?? 'unknown';
    this.remotePort = socket.remotePort ?? 0;
    this.log = runtime.log.child({ cid: this.id, protocol: 'pop3' });
    this.log.info({ event: 'connect', remote: this.address, remotePort: socket.remotePort, tls: secure }, 'POP3 connection');
    this.attach(socket);
    this.write(`+OK ${runtime.idName} POP3 ready.\r\n`);
    this.armTimer();
  }

  get target(): Pop3Target {
    return this.settings.target;
  }

  get campaignDeadlineMs(): number {
    return this.settings.campaignDeadlineMs;
  }

  /** Read through a getter: TypeScript would keep a state narrowed across the awaits that change it. */
  private get closed(): boolean {
    return this.state.kind === 'closed';
  }

  get client(): Socket {
    return this.socket;
  }

  get origin(): EventOrigin {
    return { clientAddress: this.address.slice(0, 64), clientName: 'POP3' };
  }

  connectionFacts(): ConnectionFacts {
    return {
      remoteAddress: this.address,
      remotePort: this.remotePort,
      localAddress: this.socket.localAddress ?? '',
      localPort: this.socket.localPort ?? 0,
      sessionId: this.id,
    };
  }

  write(text: string | Buffer): void {
    if (this.state.kind === 'closed' || this.socket.destroyed) return;
    this.socket.write(text);
  }

  fail(error: Pop3ErrorDefinition, detail?: string): void {
    this.write(pop3ErrorLine(error, detail));
    if (error.closes) this.close(error.text);
  }

  /** Ends the session: server links closed, the client's socket ended after what was written. */
  close(reason: string, error?: Pop3ErrorDefinition): void {
    if (this.state.kind === 'closed') return;
    if (error) this.write(pop3ErrorLine(error));
    const previous = this.state;
    this.state = { kind: 'closed' };
    clearTimeout(this.timer);
    if (previous.kind === 'authorization' || previous.kind === 'saslResponse') previous.auth.upstream?.close();
    if (previous.kind === 'transaction') previous.tx.upstream.close();
    this.log.info({ event: 'disconnect', reason }, 'POP3 connection closed');
    this.socket.end();
    this.socket.destroySoon?.();
    this.onClosed(this);
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('client closed the connection'));
  }

  private received(chunk: Buffer): void {
    if (this.state.kind === 'closed') return;
    this.queue.push(...this.reader.push(chunk));
    if (this.queue.length > MAX_QUEUED_COMMANDS) this.socket.pause();
    void this.pump();
  }

  /** Runs queued commands one at a time, in order. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let event = this.queue.shift(); event !== undefined && this.state.kind !== 'closed'; event = this.queue.shift()) {
        this.armTimer();
        await this.handle(event);
        if (this.queue.length <= MAX_QUEUED_COMMANDS && this.socket.isPaused() && !this.closed) this.socket.resume();
      }
    } catch (err) {
      if (err instanceof Pop3UpstreamError) {
        this.log.warn({ code: POP3_ERRORS.upstreamLost.code, err: err.message }, 'POP3 upstream lost');
        this.close('upstream lost', POP3_ERRORS.upstreamLost);
      } else {
        const error = err as Error;
        this.log.error({ code: POP3_ERRORS.internalError.code, err: error.message, stack: error.stack }, 'POP3 session failed');
        this.close('internal error', POP3_ERRORS.internalError);
      }
    } finally {
      this.running = false;
    }
  }

  private async handle(event: InputEvent): Promise<void> {
    if (event.kind === 'tooLong') {
      this.log.debug({ code: POP3_ERRORS.lineTooLong.code }, 'POP3 line too long');
      this.bad(POP3_ERRORS.lineTooLong);
      return;
    }
    const state = this.state;
    if (state.kind === 'saslResponse') {
      this.state = { kind: 'authorization', auth: state.auth };
      await this.loggedIn(await authPlain(this, state.auth, event.text.trim()));
      return;
    }
    const command = parseCommand(event.text);
    if (command === null) {
      this.bad(POP3_ERRORS.unknownCommand);
      return;
    }
    switch (state.kind) {
      case 'authorization':
        await this.authorization(state.auth, command);
        return;
      case 'transaction':
        await this.transaction(state.tx, command);
        return;
      case 'update':
      case 'closed':
        return;
      default: {
        const unknown: never = state;
        throw new Error(`unknown state ${String(unknown)}`);
      }
    }
  }

  private async authorization(auth: Authorization, command: Pop3Command): Promise<void> {
    switch (command.keyword) {
      case 'CAPA':
        this.capabilities(true);
        return;
      case 'QUIT':
        await auth.upstream?.quit();
        auth.upstream = null;
        this.write(`+OK ${this.runtime.idName} POP3 signing off.\r\n`);
        this.close('QUIT');
        return;
      case 'STLS':
        this.startTls(auth);
        return;
      case 'USER':
        if (!this.mayLogIn()) return;
        if (command.args.length !== 1) return this.bad(POP3_ERRORS.badArguments);
        await user(this, auth, command.rest);
        return;
      case 'PASS':
        if (!this.mayLogIn()) return;
        if (command.rest === '') return this.bad(POP3_ERRORS.badArguments);
        await this.loggedIn(await pass(this, auth, command.rest));
        return;
      case 'AUTH':
        await this.auth(auth, command);
        return;
      default:
        if (TRANSACTION_COMMANDS.has(command.keyword)) return this.bad(POP3_ERRORS.wrongState);
        return this.bad(POP3_ERRORS.unknownCommand);
    }
  }

  private async auth(auth: Authorization, command: Pop3Command): Promise<void> {
    if (command.args.length === 0) {
      this.write('+OK\r\nPLAIN\r\n.\r\n'); // the mechanism list older clients ask for
      return;
    }
    if (!this.mayLogIn()) return;
    if (command.args[0]!.toUpperCase() !== 'PLAIN') return this.bad(POP3_ERRORS.mechanismUnsupported);
    if (command.args.length > 2) return this.bad(POP3_ERRORS.badArguments);
    const initial = command.args[1];
    if (initial === undefined) {
      this.write('+ \r\n');
      this.state = { kind: 'saslResponse', auth };
      return;
    }
    await this.loggedIn(await authPlain(this, auth, initial));
  }

  private async loggedIn(tx: Transaction | null): Promise<void> {
    if (tx === null) return;
    if (this.state.kind === 'closed') {
      tx.upstream.close();
      return;
    }
    this.state = { kind: 'transaction', tx };
    this.armTimer();
  }

  private async transaction(tx: Transaction, command: Pop3Command): Promise<void> {
    if (command.keyword === 'QUIT') {
      this.state = { kind: 'update' };
      await quitTransaction(this, tx);
      this.close('QUIT');
      return;
    }
    if (command.keyword === 'CAPA') {
      this.capabilities(false);
      return;
    }
    const handler = TRANSACTION_COMMANDS.get(command.keyword);
    if (handler) {
      await handler(this, tx, command);
      return;
    }
    const wrongState = ['USER', 'PASS', 'AUTH', 'STLS', 'APOP'].includes(command.keyword);
    this.bad(wrongState ? POP3_ERRORS.wrongState : POP3_ERRORS.unknownCommand);
  }

  /** RFC 2449 CAPA: the proxy's own list, never the server's (an extension it does not handle
   *  must not show). Dovecot 2.3's, less SASL LOGIN: the proxy relays PLAIN only, as on the IMAP
   *  side; the test compares the two lists. */
  private capabilities(beforeLogin: boolean): void {
    const lines = ['CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE'];
    if (beforeLogin) {
      if (!this.secure && this.runtime.secureContext) lines.push('STLS');
      if (!this.runtime.loginRequiresTls || this.secure) lines.push('USER', 'SASL PLAIN');
    }
    lines.push(`IMPLEMENTATION ${this.runtime.idName}`);
    this.write(`+OK Capability list follows\r\n${lines.map((line) => `${line}\r\n`).join('')}.\r\n`);
  }

  private mayLogIn(): boolean {
    if (!this.runtime.loginRequiresTls || this.secure) return true;
    this.fail(POP3_ERRORS.privacyRequired);
    return false;
  }

  /** STLS (RFC 2595 §4): before login, with nothing pipelined behind it. */
  private startTls(auth: Authorization): void {
    if (this.secure) return this.bad(POP3_ERRORS.tlsAlreadyActive);
    if (!this.runtime.secureContext) return this.bad(POP3_ERRORS.tlsUnavailable);
    if (auth.user !== null) return this.bad(POP3_ERRORS.wrongState);
    if (this.queue.length > 0 || this.reader.hasPartialLine) {
      this.log.warn({ code: POP3_ERRORS.stlsInjection.code }, 'plaintext pipelined after STLS; disconnecting');
      this.fail(POP3_ERRORS.stlsInjection);
      return;
    }
    this.write('+OK Begin TLS negotiation now.\r\n');
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secured = new TLSSocket(plain, { isServer: true, secureContext: this.runtime.secureContext });
    secured.once('secure', () => {
      this.secure = true;
      this.reader = new LineReader();
      this.log.debug({ protocol: secured.getProtocol() }, 'STLS completed');
    });
    this.socket = secured;
    this.attach(secured);
    secured.resume();
  }

  private bad(error: Pop3ErrorDefinition): void {
    this.badCommands++;
    if (this.badCommands > this.runtime.limits.maxBadCommands) {
      this.log.warn({ code: POP3_ERRORS.tooManyBadCommands.code }, 'too many invalid POP3 commands');
      this.fail(POP3_ERRORS.tooManyBadCommands);
      return;
    }
    this.fail(error);
  }

  /** Pre-login: preAuthTimeoutMs; logged in: authenticatedTimeoutMs (RFC 1939 §3 asks at least 10 minutes). */
  private armTimer(): void {
    clearTimeout(this.timer);
    const loggedIn = this.state.kind === 'transaction';
    const ms = loggedIn ? this.runtime.limits.authenticatedTimeoutMs : this.runtime.limits.preAuthTimeoutMs;
    this.timer = setTimeout(() => {
      if (this.running) return this.armTimer(); // a long RETR to a slow client is not idleness
      this.close('timeout', loggedIn ? POP3_ERRORS.idleTimeout : POP3_ERRORS.preAuthTimeout);
    }, ms);
    this.timer.unref();
  }
}
