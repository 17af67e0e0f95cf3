/**
 * A bare IMAP client for protocol tests: sends exact bytes and reads exact responses, so a
 * test can do what real clients never do (pipeline, send garbage, stop mid-literal).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export class RawImap {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(public socket: Socket) {
    this.listen(socket);
  }

  static async connect(port: number, options: { host?: string; localAddress?: string; tls?: ConnectionOptions } = {}): Promise<RawImap> {
    const host = options.host ?? '127.0.0.1';
    const socket = options.tls
      ? tlsConnect({ host, port, ...options.tls })
      : netConnect({ host, port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawImap(socket);
  }

  private listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received so far, as latin1 text. */
  get text(): string {
    return this.buffer.toString('latin1');
  }

  /** Waits until the received text matches, then consumes and returns it up to the match's end. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text);
      if (match) {
        const end = match.index + match[0].length;
        const taken = this.text.slice(0, end);
        this.buffer = this.buffer.subarray(Buffer.byteLength(taken, 'latin1'));
        return taken;
      }
      if (this.closed) throw new Error(`connection closed while waiting for ${pattern}; received: ${this.text.slice(-500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}; received: ${this.text.slice(-500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a command line and returns everything up to and including its tagged response. */
  async command(tag: string, text: string, timeoutMs = 10_000): Promise<string> {
    this.write(`${tag} ${text}\r\n`);
    return this.waitFor(new RegExp(`(^|\\n)${escape(tag)} (OK|NO|BAD)[^\\n]*\\n`), timeoutMs);
  }

  async greeting(): Promise<string> {
    return this.waitFor(/^\* (OK|BYE|PREAUTH)[^\n]*\n/);
  }

  /** Waits for the server to close the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Upgrades after a STARTTLS OK. */
  async startTls(options: ConnectionOptions): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secured: TLSSocket = tlsConnect({ socket: plain, ...options });
    await new Promise<void>((resolve, reject) => {
      secured.once('secureConnect', () => resolve());
      secured.once('error', reject);
    });
    this.socket = secured;
    this.listen(secured);
  }

  close(): void {
    this.socket.destroy();
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
