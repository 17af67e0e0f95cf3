/**
 * A lean IMAP client for benchmarks: one socket, commands written by hand, responses scanned
 * only for the tagged completion. It does the same work whether it talks to Dovecot directly
 * or through the proxy, so the ratio measures the proxy and not the client.
 */
import { connect, type Socket } from 'node:net';

const TAIL_CHARS = 4096;

export class BenchClient {
  private pending: { tag: string; resolve: (text: string) => void; reject: (error: Error) => void } | null = null;
  /** Only the tail of the stream is kept: enough to find a tagged line, never a whole body. */
  private tail = '';
  private collected: string[] | null = null;
  bytesReceived = 0;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.pending?.reject(error));
    socket.on('close', () => this.pending?.reject(new Error('connection closed')));
  }

  static async open(port: number): Promise<BenchClient> {
    const socket = connect({ host: '127.0.0.1', port });
    const client = new BenchClient(socket);
    await client.expect('*');
    return client;
  }

  /** Sends a command (text may carry LITERAL+ literals) and waits for its tagged OK. */
  async run(tag: string, text: string | Buffer, collect = false): Promise<string> {
    this.collected = collect ? [] : null;
    const done = this.expect(tag);
    this.socket.write(typeof text === 'string' ? `${tag} ${text}\r\n` : Buffer.concat([Buffer.from(`${tag} `), text, Buffer.from('\r\n')]));
    const line = await done;
    if (!/^\S+ OK/.test(line)) throw new Error(`${tag} failed: ${line}`);
    return collect ? (this.collected ?? []).join('') : line;
  }

  /** Starts IDLE and resolves on the continuation. */
  async idle(tag: string): Promise<void> {
    const done = this.expect('+');
    this.socket.write(`${tag} IDLE\r\n`);
    await done;
  }

  close(): void {
    this.socket.destroy();
  }

  async logout(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.write('z LOGOUT\r\n');
    await closed;
  }

  private expect(tag: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending = { tag, resolve, reject };
      this.scan();
    });
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    if (this.collected) this.collected.push(chunk.toString('latin1'));
    // A tagged line (capability list included) fits in the last 4 KiB; bodies are not kept.
    this.tail = (this.tail + chunk.toString('latin1', Math.max(0, chunk.length - TAIL_CHARS))).slice(-TAIL_CHARS);
    this.scan();
  }

  private scan(): void {
    const pending = this.pending;
    if (!pending) return;
    const prefix = pending.tag === '+' ? '+' : `${pending.tag} `;
    const lines = this.tail.split('\n');
    for (let i = lines.length - 2; i >= 0; i--) {
      const line = lines[i]!;
      if (line.startsWith(prefix)) {
        this.tail = lines.slice(i + 1).join('\n');
        this.pending = null;
        pending.resolve(line);
        return;
      }
    }
  }
}
