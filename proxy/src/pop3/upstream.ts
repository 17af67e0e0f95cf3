/**
 * The connection to the real POP3 server: connect (plain, STLS or implicit TLS, certificate
 * checked as for the IMAP upstream), greeting, one command at a time, and three ways to read
 * an answer: its status line, its lines one by one (never collected), or relayed to the client
 * as bytes up to the end of a multi-line answer.
 *
 * Must never log a line it sends (USER, PASS and AUTH carry credentials), and never buffer
 * more of the server than one line of MAX_RESPONSE_LINE_BYTES.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { UpstreamTlsSettings } from '../upstream.js';
import { MultilineEnd } from './multiline.js';

export type Pop3UpstreamProtocol = 'pop3' | 'pop3+stls' | 'pop3s';

export interface Pop3Target {
  readonly protocol: Pop3UpstreamProtocol;
  readonly host: string;
  readonly port: number;
}

const DEFAULT_PORTS: Record<Pop3UpstreamProtocol, number> = { pop3: 110, 'pop3+stls': 110, pop3s: 995 };

export function parsePop3Upstream(url: string): Pop3Target {
  const match = /^(pop3|pop3\+stls|pop3s):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!match) throw new Error(`proxy.pop3.upstream ${JSON.stringify(url)} must look like pop3://host:port, pop3+stls://host:port or pop3s://host:port`);
  const protocol = match[1] as Pop3UpstreamProtocol;
  const port = match[3] ? Number(match[3]) : DEFAULT_PORTS[protocol];
  if (port < 1 || port > 65535) throw new Error(`proxy.pop3.upstream port ${port} is out of range`);
  return { protocol, host: match[2]!.replace(/^\[|\]$/g, ''), port };
}

/** RFC 2449 §4 caps a response line at 512 octets; a UIDL line is shorter still. A server line
 *  longer than this is not a POP3 server talking. */
const MAX_RESPONSE_LINE_BYTES = 8192;

export class Pop3UpstreamError extends Error {
  override readonly name = 'Pop3UpstreamError';
}

export interface StatusLine {
  readonly ok: boolean;
  /** The line without CRLF, latin1. */
  readonly text: string;
}

export class Pop3Upstream {
  private chunks: Buffer[] = [];
  private wake: (() => void) | null = null;
  private error: Pop3UpstreamError | null = null;
  capabilities: readonly string[] = [];

  private constructor(private socket: Socket) {
    this.attach(socket);
  }

  static async open(target: Pop3Target, tls: UpstreamTlsSettings, timeoutMs: number): Promise<Pop3Upstream> {
    const socket = await connectSocket(target, tls, timeoutMs);
    const upstream = new Pop3Upstream(socket);
    const timer = setTimeout(() => upstream.fail(new Pop3UpstreamError(`no greeting within ${timeoutMs} ms`)), timeoutMs);
    try {
      const greeting = await upstream.readLine();
      if (!greeting.startsWith('+OK')) throw new Pop3UpstreamError(`unexpected greeting: ${greeting.slice(0, 200)}`);
      if (target.protocol === 'pop3+stls') await upstream.startTls(target, tls, timeoutMs);
      upstream.capabilities = await upstream.readCapabilities();
      // Dovecot offers XCLIENT to its trusted networks in the greeting's response code, not in CAPA.
      if (/^\+OK \[XCLIENT\]/i.test(greeting) && !upstream.has('XCLIENT')) upstream.capabilities = [...upstream.capabilities, 'XCLIENT'];
      return upstream;
    } catch (err) {
      upstream.close();
      throw err instanceof Pop3UpstreamError ? err : new Pop3UpstreamError(String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  has(capability: string): boolean {
    const upper = capability.toUpperCase();
    return this.capabilities.some((line) => line.toUpperCase().split(' ')[0] === upper);
  }

  /** Sends one line and reads the status line of its answer. */
  async command(line: string): Promise<StatusLine> {
    this.write(line);
    return statusOf(await this.readLine());
  }

  /** Sends one line; a multi-line answer's lines (unstuffed) go to `onLine`, none kept. */
  async lines(line: string, onLine: (text: string) => void): Promise<StatusLine> {
    const status = await this.command(line);
    if (!status.ok) return status;
    for (;;) {
      const text = await this.readLine();
      if (text === '.') return status;
      onLine(text.startsWith('.') ? text.slice(1) : text);
    }
  }

  /**
   * Sends one line; a multi-line answer goes to `client` byte for byte as it arrives, status
   * line first unless `ownStatus` replaces it, and the terminating "." is sent only when
   * `keepEnd` is false (the caller then appends lines of its own and ends it). Backpressure:
   * reading stops while the client cannot take more.
   */
  async relay(line: string, client: Socket, options: { ownStatus?: string; keepEnd?: boolean } = {}): Promise<StatusLine> {
    const status = await this.command(line);
    if (!status.ok) return status;
    client.write(options.ownStatus ?? `${status.text}\r\n`);
    const end = new MultilineEnd();
    // With keepEnd, the last bytes of a chunk may be the start of the terminator, whose end
    // is in the next chunk: they wait until it is known which they are.
    let held: Buffer = Buffer.alloc(0);
    for (;;) {
      const chunk = await this.nextChunk();
      const stop = end.feed(chunk);
      const body = stop === -1 ? chunk : chunk.subarray(0, stop);
      if (stop !== -1 && stop < chunk.length) this.chunks.unshift(chunk.subarray(stop));
      let payload = body;
      if (options.keepEnd) {
        const joined = held.length === 0 ? body : Buffer.concat([held, body]);
        const keep = stop === -1 ? Math.min(joined.length, MAX_TERMINATOR_PREFIX) : terminatorLength(joined);
        held = stop === -1 ? Buffer.from(joined.subarray(joined.length - keep)) : Buffer.alloc(0);
        payload = joined.subarray(0, joined.length - keep);
      }
      if (payload.length > 0 && !client.write(payload)) await this.drained(client);
      if (stop !== -1) return status;
    }
  }

  /** Sends QUIT (if the link is still up) and closes; never throws. */
  async quit(): Promise<void> {
    try {
      if (this.error === null) await this.command('QUIT');
    } catch {
      // Gone already: nothing to commit.
    }
    this.close();
  }

  close(): void {
    this.socket.destroy();
  }

  private write(line: string): void {
    if (this.error) throw this.error;
    this.socket.write(Buffer.from(`${line}\r\n`, 'latin1'));
  }

  private async readCapabilities(): Promise<string[]> {
    const found: string[] = [];
    const status = await this.lines('CAPA', (text) => found.push(text));
    return status.ok ? found : [];
  }

  private async startTls(target: Pop3Target, tls: UpstreamTlsSettings, timeoutMs: number): Promise<void> {
    const answer = await this.command('STLS');
    if (!answer.ok) throw new Pop3UpstreamError(`STLS refused: ${answer.text.slice(0, 200)}`);
    if (this.chunks.length > 0) throw new Pop3UpstreamError('server sent data after STLS before the handshake');
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    const secured = await new Promise<Socket>((resolve, reject) => {
      const socket = tlsConnect({ socket: this.socket, ...tlsOptions(target, tls) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Pop3UpstreamError(`TLS handshake with ${target.host} timed out`));
      }, timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Pop3UpstreamError(err.message));
      });
    });
    this.attach(secured);
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.notify();
    });
    socket.on('error', (err) => this.fail(new Pop3UpstreamError(err.message)));
    socket.on('close', () => this.fail(new Pop3UpstreamError('connection closed by the server')));
  }

  /** One line without CRLF; waits for it. */
  private async readLine(): Promise<string> {
    for (;;) {
      const buffered = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = buffered.length > 0 ? [buffered] : [];
      const lf = buffered.indexOf(0x0a);
      if (lf !== -1) {
        const rest = buffered.subarray(lf + 1);
        this.chunks = rest.length > 0 ? [rest] : [];
        const text = buffered.toString('latin1', 0, lf);
        return text.endsWith('\r') ? text.slice(0, -1) : text;
      }
      if (buffered.length > MAX_RESPONSE_LINE_BYTES) {
        this.fail(new Pop3UpstreamError(`server line longer than ${MAX_RESPONSE_LINE_BYTES} bytes`));
      }
      await this.more();
    }
  }

  private async nextChunk(): Promise<Buffer> {
    while (this.chunks.length === 0) await this.more();
    return this.chunks.shift()!;
  }

  private more(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private drained(client: Socket): Promise<void> {
    this.socket.pause();
    return new Promise((resolve) => {
      const done = (): void => {
        client.off('drain', done);
        client.off('close', done);
        this.socket.resume();
        resolve();
      };
      client.once('drain', done);
      client.once('close', done);
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private fail(error: Pop3UpstreamError): void {
    if (this.error) return;
    this.error = error;
    this.socket.destroy();
    const wake = this.wake;
    this.wake = null;
    // more() re-checks the error after waking: resolve, and the loop rejects.
    wake?.();
  }
}

function statusOf(text: string): StatusLine {
  return { ok: text.startsWith('+OK'), text };
}

/** "\r\n.\r" : the most of a terminator a chunk can end with before its last byte. */
const MAX_TERMINATOR_PREFIX = 4;

/** ".\r\n" or ".\n" at the end of a multi-line answer. */
function terminatorLength(body: Buffer): number {
  return body.length >= 2 && body[body.length - 2] === 0x0d ? 3 : 2;
}

function connectSocket(target: Pop3Target, tls: UpstreamTlsSettings, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const options = { host: target.host, port: target.port };
    const socket: Socket = target.protocol === 'pop3s' ? tlsConnect({ ...options, ...tlsOptions(target, tls) }) : netConnect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Pop3UpstreamError(`connect to ${target.host}:${target.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(target.protocol === 'pop3s' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Pop3UpstreamError(`${target.host}:${target.port}: ${err.message}`));
    });
  });
}

function tlsOptions(target: Pop3Target, tls: UpstreamTlsSettings) {
  const servername = tls.servername ?? (/^[\d.]+$|:/.test(target.host) ? undefined : target.host);
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(servername ? { servername } : {}),
  };
}
