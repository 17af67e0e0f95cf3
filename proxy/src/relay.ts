/**
 * After login: relays a client and its upstream connection in both directions through two
 * framers. Bytes are forwarded as the slices that arrived; only the few lines that carry
 * capabilities, and the few client commands in relay-commands.ts, are rewritten or answered
 * here. Our own responses to the client wait for a response boundary so they never land
 * inside a literal or between the lines of another response.
 *
 * It must never: buffer a literal, hold more than one line per direction, or keep reading
 * from one side while the other cannot take the bytes (backpressure in both directions).
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ProxyLimits } from '@inlay/schemas';
import { rewriteCapabilityLine } from './capabilities.js';
import { PROXY_ERRORS, imapErrorLine, type ProxyErrorDefinition } from './errors.js';
import { ImapFramer, PASS, type FrameHandler, type LineVerdict, type LiteralAnnouncement } from './framer.js';
import { peekTagAndName } from './imap-syntax.js';
import { RELAY_COMMAND_RULES, type RelayControl } from './relay-commands.js';

export interface RelayOwner {
  readonly log: Logger;
  readonly limits: ProxyLimits;
  /** IDLE started or ended: the session switches its inactivity timer. */
  idleChanged(idle: boolean): void;
  /** Both sockets are done with; called once. */
  relayEnded(reason: string, bytes: { fromClient: number; toClient: number }): void;
}

const STAR = 0x2a;
const PLUS = 0x2b;
const LOWERCASE = 0x20;
/** After we decide to end, how long the peer gets to read our BYE before the socket is cut. */
const CLOSE_GRACE_MS = 2000;

export class Relay implements RelayControl {
  private readonly clientFramer: ImapFramer;
  private readonly serverFramer: ImapFramer;
  /** Our own lines waiting for a response boundary; null when none (the common case). */
  private queuedForClient: Buffer[] | null = null;
  private idle = false;
  /** Tag of the client command whose synchronizing literal waits for the upstream's "+". */
  private literalTag: string | null = null;
  private commandTag: string | null = null;
  private badResponses = 0;
  private upstreamSaidBye = false;
  private ending: string | null = null;
  private ended = false;

  constructor(
    private readonly owner: RelayOwner,
    private readonly client: Socket,
    private readonly upstream: Socket,
  ) {
    const limit = owner.limits.maxLineBytes;
    this.clientFramer = new ImapFramer('client', new ClientSide(this), (bytes) => upstream.write(bytes), limit);
    this.serverFramer = new ImapFramer('server', new ServerSide(this), (bytes) => client.write(bytes), limit);
  }

  /** Starts relaying; the leftovers are bytes each side sent before the relay existed. */
  start(clientLeftover: Buffer, upstreamLeftover: Buffer): void {
    const { client, upstream } = this;
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => client.resume());
    client.on('end', () => this.finish('client closed the connection'));
    client.on('close', () => this.finish('client connection closed'));
    client.on('error', (err) => this.finish(`client socket error: ${err.message}`));
    upstream.on('end', () => this.upstreamGone('upstream closed the connection'));
    upstream.on('close', () => this.upstreamGone('upstream connection closed'));
    upstream.on('error', (err) => this.upstreamGone(`upstream socket error: ${err.message}`));
    if (upstreamLeftover.length > 0) this.fromUpstream(upstreamLeftover);
    if (clientLeftover.length > 0) this.fromClient(clientLeftover);
    client.resume();
    upstream.resume();
  }

  sendToClient(bytes: Buffer): void {
    if (this.serverFramer.atBoundary) {
      this.client.write(bytes);
      return;
    }
    (this.queuedForClient ??= []).push(bytes);
  }

  enterIdle(): void {
    this.idle = true;
    this.owner.idleChanged(true);
  }

  /** Ends the session: our BYE (if any) goes out at the next boundary, then both sockets close. */
  end(reason: string, bye?: ProxyErrorDefinition, detail?: string): void {
    if (this.ending !== null || this.ended) return;
    this.ending = reason;
    if (bye) this.sendToClient(imapErrorLine('*', bye, detail));
    if (this.queuedForClient === null) this.finish(reason);
    // Otherwise ServerSide flushes the queue and finishes; this bounds the wait for a boundary.
    else setTimeout(() => this.finish(`${reason} (no response boundary within ${this.owner.limits.shutdownDrainMs} ms)`), this.owner.limits.shutdownDrainMs).unref();
  }

  private fromClient(chunk: Buffer): void {
    const { upstream } = this;
    upstream.cork();
    this.clientFramer.push(chunk);
    upstream.uncork();
    if (upstream.writableNeedDrain) this.client.pause();
  }

  private fromUpstream(chunk: Buffer): void {
    const { client } = this;
    // Inside a big literal (FETCH BODY[]) a chunk is one write: corking would only cost.
    if (chunk.length <= this.serverFramer.literalRemaining) {
      this.serverFramer.push(chunk);
    } else {
      client.cork();
      this.serverFramer.push(chunk);
      client.uncork();
    }
    if (client.writableNeedDrain) this.upstream.pause();
  }

  private upstreamGone(reason: string): void {
    if (this.ended) return;
    // A server that ends a session says BYE first; one that vanishes leaves the client guessing.
    if (!this.upstreamSaidBye && this.ending === null && this.serverFramer.atBoundary) {
      this.client.write(imapErrorLine('*', PROXY_ERRORS.upstreamLost));
    }
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.upstream.destroy();
    this.client.end();
    setTimeout(() => this.client.destroy(), CLOSE_GRACE_MS).unref();
    this.owner.relayEnded(this.ending ?? reason, { fromClient: this.client.bytesRead, toClient: this.client.bytesWritten });
  }

  // Called by the framer handlers below.

  onClientCommand(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    if (this.idle && first) {
      // In IDLE the only thing a client may send is DONE (RFC 2177).
      if (/^DONE\r?\n$/i.test(line.toString('latin1', 0, 8))) {
        this.idle = false;
        this.owner.idleChanged(false);
      }
      return PASS;
    }
    if (first) {
      const head = peekTagAndName(line);
      this.commandTag = head?.tag ?? null;
      if (literal === null && head) {
        const rule = RELAY_COMMAND_RULES.get(head.name);
        if (rule) return rule(this, head.tag, line, head.end);
      }
    }
    if (literal?.synchronizing) this.literalTag = this.commandTag;
    return PASS;
  }

  onServerResponse(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    let verdict: LineVerdict = first ? this.inspectServerLine(line) : PASS;
    if (literal === null && this.queuedForClient !== null) {
      const queued = this.queuedForClient;
      this.queuedForClient = null;
      verdict = Buffer.concat([verdict === PASS ? line : (verdict as Buffer), ...queued]);
      if (this.ending !== null) setImmediate(() => this.finish(this.ending ?? 'ended'));
    }
    return verdict;
  }

  onClientLineTooLong(limit: number): void {
    this.owner.log.warn({ code: PROXY_ERRORS.lineTooLong.code, limitBytes: limit }, 'client command line too long; disconnecting');
    this.end('command line too long', PROXY_ERRORS.lineTooLong, `limit is ${limit} bytes`);
  }

  /** The hot path: a few byte comparisons decide that almost every line passes untouched. */
  private inspectServerLine(line: Buffer): LineVerdict {
    const first = line[0];
    if (first === STAR) {
      const word = (line[2] ?? 0) | LOWERCASE;
      if (word === 0x63 /* c */ || word === 0x6f /* o */ || word === 0x65 /* e */) return rewriteCapabilityLine(line, 2) ?? PASS;
      if (word === 0x62 /* b */) {
        const second = (line[3] ?? 0) | LOWERCASE;
        if (second === 0x79 /* y */) this.upstreamSaidBye = true;
        else if (second === 0x61 /* a */) this.countBad();
      }
      return PASS;
    }
    if (first === PLUS) {
      this.literalTag = null;
      return PASS;
    }
    const space = line.indexOf(0x20);
    if (space <= 0) return PASS;
    if (this.literalTag !== null && line.toString('latin1', 0, space) === this.literalTag) {
      // The upstream refused a synchronizing literal: the client will not send its bytes.
      this.clientFramer.abandonLiteral();
      this.literalTag = null;
    }
    const word = (line[space + 1] ?? 0) | LOWERCASE;
    if (word === 0x6f /* o */) return rewriteCapabilityLine(line, space + 1) ?? PASS;
    if (word === 0x62 /* b */) this.countBad();
    return PASS;
  }

  private countBad(): void {
    if (++this.badResponses < this.owner.limits.maxBadCommands) return;
    this.owner.log.warn({ code: PROXY_ERRORS.tooManyBadCommands.code, count: this.badResponses }, 'too many invalid commands; disconnecting');
    this.end('too many invalid commands', PROXY_ERRORS.tooManyBadCommands);
  }
}

class ClientSide implements FrameHandler {
  constructor(private readonly relay: Relay) {}
  onLine(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    return this.relay.onClientCommand(line, first, literal);
  }
  onLiteralData(): boolean {
    return true;
  }
  onLineTooLong(limit: number): void {
    this.relay.onClientLineTooLong(limit);
  }
}

class ServerSide implements FrameHandler {
  constructor(private readonly relay: Relay) {}
  onLine(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    return this.relay.onServerResponse(line, first, literal);
  }
  onLiteralData(): boolean {
    return true;
  }
  onLineTooLong(): void {
    // Server lines past the limit are streamed by the framer, never refused.
  }
}
