/**
 * Puts the IMAP invariant checker on a connection without the test having to feed it: a tap
 * sees what the client writes (by wrapping the socket's write) and what it receives (as one
 * more 'data' listener), in the order the client experiences them.
 *
 *   const tap = useImapTap();                      // (imap-invariants-vitest.ts) checked after each test
 *   const client = await tap.connect(proxy.port);  // a RawImap whose session is checked
 *   const relay = await tap.relay(proxy.port);     // for clients that open their own sockets
 *
 * All sessions of one ImapTap share a MessageHistory, so "a UID never changes its message" is
 * checked across a user's sessions too. A tap never alters a byte in either direction.
 */
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { RawImap } from './raw-imap.ts';
import { formatViolations, ImapInvariantChecker, MessageHistory, type InvariantViolation } from './imap-invariants.ts';

type WriteArguments = [chunk: string | Uint8Array, encoding?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void];

/** Feeds `checker` with both directions of `socket`; returns a function that removes the tap. */
export function tapSocket(socket: Socket, checker: ImapInvariantChecker): () => void {
  const originalWrite = socket.write;
  const onData = (chunk: Buffer): void => checker.serverBytes(chunk);
  socket.write = function tappedWrite(this: Socket, ...args: WriteArguments): boolean {
    const [chunk, encoding] = args;
    checker.clientBytes(typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : Buffer.from(chunk));
    return (originalWrite as (...rest: WriteArguments) => boolean).apply(this, args);
  } as Socket['write'];
  socket.on('data', onData);
  return () => {
    socket.write = originalWrite;
    socket.off('data', onData);
  };
}

/** Taps a RawImap, following it through STARTTLS (the checker then sees the decrypted session). */
export function tapRawImap(raw: RawImap, checker: ImapInvariantChecker): RawImap {
  let untap = tapSocket(raw.socket, checker);
  const startTls = raw.startTls.bind(raw);
  raw.startTls = async (options: ConnectionOptions): Promise<void> => {
    // The TLS layer writes ciphertext through the plain socket; the checker must not see it.
    untap();
    await startTls(options);
    untap = tapSocket(raw.socket, checker);
  };
  return raw;
}

/** A set of checked sessions, usually one per test file or test. */
export class ImapTap {
  readonly history = new MessageHistory();
  readonly checkers: ImapInvariantChecker[] = [];
  private readonly reported = new WeakMap<ImapInvariantChecker, number>();

  /** A checker sharing this tap's history, for a caller that feeds it bytes itself. */
  checker(name = `session ${this.checkers.length + 1}`): ImapInvariantChecker {
    const checker = new ImapInvariantChecker({ name, history: this.history });
    this.checkers.push(checker);
    return checker;
  }

  wrap(raw: RawImap, name?: string): RawImap {
    return tapRawImap(raw, this.checker(name));
  }

  wrapSocket(socket: Socket, name?: string): ImapInvariantChecker {
    const checker = this.checker(name);
    tapSocket(socket, checker);
    return checker;
  }

  async connect(port: number, options: Parameters<typeof RawImap.connect>[1] = {}, name?: string): Promise<RawImap> {
    return this.wrap(await RawImap.connect(port, options), name);
  }

  /**
   * A loopback relay to `targetPort` for clients that open their own sockets (imapflow, imaplib,
   * curl, mbsync): point them at the relay's port and each connection is checked by a checker
   * of this tap. The relay only sees the wire, so it checks plaintext sessions only: after a
   * STARTTLS it would see ciphertext, and such a session has to be tapped inside the client
   * (tapRawImap). Close it when done; that also ends the connections still open.
   */
  async relay(targetPort: number, name = 'relayed'): Promise<TappedRelay> {
    let connections = 0;
    return startRelay(targetPort, () => this.checker(`${name} #${++connections}`));
  }

  violations(): InvariantViolation[] {
    return this.checkers.flatMap((checker) => checker.violations);
  }

  /** Throws with every violation found since the last call (sessions may outlive a test). */
  assertClean(): void {
    const fresh = this.checkers.flatMap((checker) => {
      const from = this.reported.get(checker) ?? 0;
      this.reported.set(checker, checker.violations.length);
      return checker.violations.slice(from);
    });
    if (fresh.length > 0) throw new Error(`IMAP invariants broken:\n\n${formatViolations(fresh)}`);
  }
}

export interface TappedRelay {
  readonly port: number;
  /** Stops listening and destroys every connection still open. */
  close(): Promise<void>;
}

async function startRelay(targetPort: number, checkerForConnection: () => ImapInvariantChecker): Promise<TappedRelay> {
  const open = new Set<Socket>();
  // Half-open on both legs, so a client's FIN reaches the server and the answer still comes back.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const checker = checkerForConnection();
    const upstream = netConnect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      // Errors end in 'close' (below); without a listener they would crash the test run.
      socket.on('error', () => {});
    }
    // Fed where the relay sees the bytes, before forwarding them: a command is checked before
    // its answer can exist, an answer before the client can react to it.
    client.on('data', (chunk: Buffer) => checker.clientBytes(chunk));
    upstream.on('data', (chunk: Buffer) => checker.serverBytes(chunk));
    // pipe() carries backpressure and passes each side's FIN on to the other.
    client.pipe(upstream);
    upstream.pipe(client);
    // Nobody is left to read the server's answers once the client has gone.
    client.once('close', () => upstream.destroy());
    // A server that closed cleanly has its last bytes delivered first; a failed one is passed on as one.
    upstream.once('close', (hadError) => (hadError ? client.destroy() : client.end()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close(): Promise<void> {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await stopped;
    },
  };
}
