/**
 * The connection to the real IMAP server up to the end of login: connect (plain, STARTTLS or
 * implicit TLS with the certificate verified), read the greeting and capabilities, run the
 * proxy's own pre-login commands (ID, LOGIN/AUTHENTICATE), and then hand the socket over to
 * the relay together with any bytes that already arrived after the login's tagged OK.
 *
 * It must never log a command it sends: LOGIN and AUTHENTICATE carry credentials.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, rootCertificates, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ImapFramer, PASS, STOP, type FrameHandler, type LineVerdict } from './framer.js';
import { capabilityCodeOf } from './capabilities.js';
import type { UpstreamTlsConfig } from '@inlay/schemas';
import { tlsPolicyOptions, upstreamTlsPolicy, type TlsPolicy } from './server-tls.js';

export type UpstreamProtocol = 'imap' | 'imap+starttls' | 'imaps';

export interface UpstreamTarget {
  readonly protocol: UpstreamProtocol;
  readonly host: string;
  readonly port: number;
}

const DEFAULT_PORTS: Record<UpstreamProtocol, number> = { imap: 143, 'imap+starttls': 143, imaps: 993 };

export function parseUpstream(url: string): UpstreamTarget {
  const match = /^(imap|imap\+starttls|imaps):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!match) throw new Error(`upstream ${JSON.stringify(url)} must look like imap://host:port, imap+starttls://host:port or imaps://host:port`);
  const protocol = match[1] as UpstreamProtocol;
  const port = match[3] ? Number(match[3]) : DEFAULT_PORTS[protocol];
  if (port < 1 || port > 65535) throw new Error(`upstream port ${port} is out of range`);
  return { protocol, host: match[2]!.replace(/^\[|\]$/g, ''), port };
}

export interface UpstreamTlsSettings {
  readonly ca: string[] | undefined;
  readonly rejectUnauthorized: boolean;
  readonly servername: string | undefined;
  /** Lowest version and cipher list offered to the upstream (upstreamTls.minVersion, .ciphers). */
  readonly policy: TlsPolicy;
}

/** Reads the CA file once at start-up so a missing file stops start-up, not a login. */
export function loadUpstreamTls(config: UpstreamTlsConfig): UpstreamTlsSettings {
  let ca: string[] | undefined;
  if (config.caFile) {
    try {
      ca = [...rootCertificates, readFileSync(config.caFile, 'utf8')];
    } catch (err) {
      throw new Error(`upstreamTls.caFile ${config.caFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return { ca, rejectUnauthorized: config.verifyCertificate, servername: config.servername, policy: upstreamTlsPolicy({ upstreamTls: config }) };
}

/** The upstream failed or answered something unusable; the message is safe to log. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
}

export interface UpstreamResponse {
  /** First line without CRLF, as latin1 text. */
  readonly text: string;
  /** The whole response as received (all lines and literals), for relaying to the client. */
  readonly raw: Buffer;
  /** Tag of a tagged response; "*" untagged; "+" continuation request. */
  readonly tag: string;
  /** OK/NO/BAD/BYE/PREAUTH for status responses, otherwise null. */
  readonly status: string | null;
}

/** A pre-login response larger than this is not a real server talking. */
const MAX_PRELOGIN_RESPONSE_BYTES = 1_048_576;

export interface HandOver {
  readonly socket: Socket;
  /** Bytes that arrived after the tagged OK that ended login. */
  readonly leftover: Buffer;
}

type LinkState =
  | { kind: 'reading' }
  | { kind: 'halted'; leftover: Buffer }
  | { kind: 'handedOver' }
  | { kind: 'closed'; error: UpstreamError };

export class UpstreamLink implements FrameHandler {
  private state: LinkState = { kind: 'reading' };
  private readonly framer: ImapFramer;
  private current: Buffer[] = [];
  private currentBytes = 0;
  private readonly queue: UpstreamResponse[] = [];
  private waiter: { resolve: (response: UpstreamResponse) => void; reject: (error: Error) => void } | null = null;
  private haltOnOkTag: string | null = null;
  private tagCounter = 0;
  /** A command queued by send(), written together with the next one (one segment, one syscall). */
  private queued = '';
  /** Tags used while setting the link up (STARTTLS, CAPABILITY), to tell a fresh link from a used one. */
  private setupTags = 0;
  capabilities: string[] = [];

  private constructor(private socket: Socket) {
    this.framer = new ImapFramer('server', this, () => {}, 65_536);
    this.attach(socket);
  }

  static async open(target: UpstreamTarget, tls: UpstreamTlsSettings, timeoutMs: number): Promise<UpstreamLink> {
    const socket = await connectSocket(target, tls, timeoutMs);
    const link = new UpstreamLink(socket);
    const timer = setTimeout(() => link.fail(new UpstreamError(`no greeting within ${timeoutMs} ms`)), timeoutMs);
    try {
      const greeting = await link.next();
      if (greeting.tag !== '*' || greeting.status !== 'OK') throw new UpstreamError(`unexpected greeting: ${greeting.text.slice(0, 200)}`);
      link.capabilities = capabilityCodeOf(greeting.text) ?? [];
      if (target.protocol === 'imap+starttls') await link.startTls(target, tls, timeoutMs);
      if (link.capabilities.length === 0 || !link.capabilities.some((c) => /^IMAP4rev[12]$/i.test(c))) {
        await link.refreshCapabilities();
      }
      link.setupTags = link.tagCounter;
      return link;
    } catch (err) {
      link.close();
      throw err instanceof UpstreamError ? err : new UpstreamError(String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  has(capability: string): boolean {
    const upper = capability.toUpperCase();
    return this.capabilities.some((c) => c.toUpperCase() === upper);
  }

  nextTag(): string {
    return `P${++this.tagCounter}`;
  }

  /**
   * Sends one command made of text pieces and literals (Buffers), waiting for "+" before each
   * literal unless the server has LITERAL+. Returns the tagged response; untagged ones on the
   * way go to `onUntagged`. With `haltOnOk`, a tagged OK stops reading so the relay can take over.
   */
  async run(tag: string, pieces: readonly (string | Buffer)[], onUntagged: (response: UpstreamResponse) => void, haltOnOk = false): Promise<UpstreamResponse> {
    this.haltOnOkTag = haltOnOk ? tag : null;
    const nonSync = this.has('LITERAL+');
    let text = `${tag} `;
    for (const piece of pieces) {
      if (typeof piece === 'string') {
        text += piece;
        continue;
      }
      this.write(`${text}{${piece.length}${nonSync ? '+' : ''}}\r\n`);
      text = '';
      if (!nonSync) {
        const answer = await this.awaitTagged(tag, onUntagged, true);
        if (answer.tag !== '+') return answer;
      }
      this.write(piece);
    }
    this.write(`${text}\r\n`);
    return this.awaitTagged(tag, onUntagged, false);
  }

  /**
   * AUTHENTICATE PLAIN with the client's base64 response: in the command when the server has
   * SASL-IR, otherwise after its "+" challenge.
   */
  async authenticatePlain(tag: string, base64: string, onUntagged: (response: UpstreamResponse) => void): Promise<UpstreamResponse> {
    this.haltOnOkTag = tag;
    if (this.has('SASL-IR')) {
      this.write(`${tag} AUTHENTICATE PLAIN ${base64 === '' ? '=' : base64}\r\n`);
      return this.awaitTagged(tag, onUntagged, false);
    }
    this.write(`${tag} AUTHENTICATE PLAIN\r\n`);
    const challenge = await this.awaitTagged(tag, onUntagged, true);
    if (challenge.tag !== '+') return challenge;
    this.write(`${base64}\r\n`);
    return this.awaitTagged(tag, onUntagged, false);
  }

  /** Queues a command whose answer nobody waits for (ID before LOGIN); it leaves with the next write. */
  send(tag: string, text: string): void {
    this.queued += `${tag} ${text}\r\n`;
  }

  /** Ready for a login: connected, greeted, nothing unread, nothing sent. */
  get usable(): boolean {
    return this.state.kind === 'reading' && this.queue.length === 0 && this.tagCounter === this.setupTags;
  }
  private write(data: string | Buffer): void {
    if (this.queued === '') {
      this.socket.write(data);
      return;
    }
    const joined = typeof data === 'string' ? this.queued + data : Buffer.concat([Buffer.from(this.queued, 'latin1'), data]);
    this.queued = '';
    this.socket.write(joined);
  }

  /**
   * Waits for the tagged answer to `tag` (or a "+" when `continuation`), passing untagged
   * responses to `onUntagged` and skipping answers to commands sent with send().
   */
  private async awaitTagged(tag: string, onUntagged: (response: UpstreamResponse) => void, continuation: boolean): Promise<UpstreamResponse> {
    for (;;) {
      const answer = await this.next();
      if (answer.tag === '*') {
        if (answer.status === 'BYE') throw new UpstreamError(`server said BYE: ${answer.text.slice(0, 200)}`);
        onUntagged(answer);
      } else if (answer.tag === '+') {
        if (continuation) return answer;
        throw new UpstreamError('unexpected continuation request');
      } else if (answer.tag === tag) {
        return answer;
      }
    }
  }

  /** Gives the socket to the relay; only after run(…, haltOnOk) returned OK. */
  handOver(): HandOver {
    if (this.state.kind !== 'halted') throw new Error('handOver() before login completed');
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    const { leftover } = this.state;
    this.state = { kind: 'handedOver' };
    return { socket: this.socket, leftover };
  }

  close(): void {
    this.socket.destroy();
  }

  // FrameHandler: collect whole responses, literals included (bounded).
  onLine(line: Buffer, _first: boolean, literal: { size: number } | null): LineVerdict {
    this.collect(line);
    if (literal) return PASS;
    const raw = this.current.length === 1 ? this.current[0]! : Buffer.concat(this.current, this.currentBytes);
    this.current = [];
    this.currentBytes = 0;
    const response = describe(raw);
    this.deliver(response);
    if (this.haltOnOkTag !== null && response.tag === this.haltOnOkTag && response.status === 'OK') return STOP;
    return PASS;
  }

  onLiteralData(chunk: Buffer): boolean {
    this.collect(chunk);
    return true;
  }

  onLineTooLong(): void {
    // Server lines stream past the limit instead; collect() bounds the total.
  }

  private collect(piece: Buffer): void {
    this.currentBytes += piece.length;
    if (this.currentBytes > MAX_PRELOGIN_RESPONSE_BYTES) {
      this.fail(new UpstreamError(`pre-login response larger than ${MAX_PRELOGIN_RESPONSE_BYTES} bytes`));
      return;
    }
    this.current.push(Buffer.from(piece));
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.state.kind !== 'reading') return;
      const rest = this.framer.push(chunk);
      if (rest !== null) {
        socket.pause();
        this.state = { kind: 'halted', leftover: Buffer.from(rest) };
      }
    });
    socket.on('error', (err) => this.fail(new UpstreamError(describeSocketError(err))));
    socket.on('close', () => this.fail(new UpstreamError('connection closed by the server')));
  }

  private async startTls(target: UpstreamTarget, tls: UpstreamTlsSettings, timeoutMs: number): Promise<void> {
    const tag = this.nextTag();
    const answer = await this.run(tag, ['STARTTLS'], () => {}, true);
    if (answer.status !== 'OK') throw new UpstreamError(`STARTTLS refused: ${answer.text.slice(0, 200)}`);
    const { socket, leftover } = this.handOver();
    if (leftover.length > 0) throw new UpstreamError('server sent data after STARTTLS OK before the handshake');
    const secured = await secureSocket(socket, target, tls, timeoutMs);
    this.state = { kind: 'reading' };
    this.attach(secured);
  }

  private async refreshCapabilities(): Promise<void> {
    const found: string[] = [];
    const answer = await this.run(this.nextTag(), ['CAPABILITY'], (response) => {
      const match = /^\* CAPABILITY (.*)$/i.exec(response.text);
      if (match) found.push(...match[1]!.split(' ').filter(Boolean));
    });
    if (answer.status !== 'OK') throw new UpstreamError(`CAPABILITY failed: ${answer.text.slice(0, 200)}`);
    this.capabilities = found.length > 0 ? found : (capabilityCodeOf(answer.text) ?? []);
  }

  private next(): Promise<UpstreamResponse> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.state.kind === 'closed') return Promise.reject(this.state.error);
    if (this.state.kind === 'handedOver') return Promise.reject(new UpstreamError('connection handed over'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private deliver(response: UpstreamResponse): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter.resolve(response);
    } else {
      this.queue.push(response);
    }
  }

  private fail(error: UpstreamError): void {
    if (this.state.kind === 'closed' || this.state.kind === 'handedOver') return;
    this.state = { kind: 'closed', error };
    this.socket.destroy();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(error);
  }
}

function describe(raw: Buffer): UpstreamResponse {
  const lf = raw.indexOf(0x0a);
  const text = raw.toString('latin1', 0, lf === -1 ? raw.length : lf).replace(/\r$/, '');
  const space = text.indexOf(' ');
  const tag = space === -1 ? text : text.slice(0, space);
  const word = (/^\S+ (\S+)/.exec(text)?.[1] ?? '').toUpperCase();
  const status = ['OK', 'NO', 'BAD', 'BYE', 'PREAUTH'].includes(word) ? word : null;
  return { text, raw, tag: tag === '+' || text === '+' ? '+' : tag, status };
}

function connectSocket(target: UpstreamTarget, tls: UpstreamTlsSettings, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const options = { host: target.host, port: target.port };
    const socket: Socket =
      target.protocol === 'imaps'
        ? tlsConnect({ ...options, ...tlsOptions(target, tls) })
        : netConnect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError(`connect to ${target.host}:${target.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(target.protocol === 'imaps' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new UpstreamError(`${target.host}:${target.port}: ${describeSocketError(err)}`));
    });
  });
}

function secureSocket(socket: Socket, target: UpstreamTarget, tls: UpstreamTlsSettings, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secured = tlsConnect({ socket, ...tlsOptions(target, tls) });
    const timer = setTimeout(() => {
      secured.destroy();
      reject(new UpstreamError(`TLS handshake with ${target.host} timed out`));
    }, timeoutMs);
    secured.once('secureConnect', () => {
      clearTimeout(timer);
      secured.removeAllListeners('error');
      resolve(secured);
    });
    secured.once('error', (err) => {
      clearTimeout(timer);
      reject(new UpstreamError(describeSocketError(err)));
    });
    socket.resume();
  });
}

function tlsOptions(target: UpstreamTarget, tls: UpstreamTlsSettings) {
  const servername = tls.servername ?? (/^[\d.]+$|:/.test(target.host) ? undefined : target.host);
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...tlsPolicyOptions(tls.policy),
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(servername ? { servername } : {}),
  };
}

function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code && /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ERR_TLS/.test(code)) return `TLS certificate not trusted (${code}): ${err.message}`;
  return code ? `${code}: ${err.message}` : err.message;
}
