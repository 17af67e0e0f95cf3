/**
 * After login: relays a client and its upstream connection in both directions through two
 * framers. Bytes are forwarded as the slices that arrived; only the few lines that carry
 * capabilities, and the few client commands in relay-commands.ts, are rewritten or answered
 * here. A command that names a mailbox is routed by its parsed name (relay-mailbox.ts): held
 * until its small literals are in, then given to the INBOX view or passed (pass-through.ts).
 * Our own responses to the client wait for a response boundary so they never land inside a
 * literal or between the lines of another response.
 *
 * It must never: hold a command past the line limit (APPEND's message always streams), decide
 * by a pattern over raw bytes, or keep reading from one side while the other cannot take the
 * bytes (backpressure in both directions).
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { EventOrigin, ProxyLimits } from '@inlay/schemas';
import { rewriteCapabilityLine } from './capabilities.js';
import { PROXY_ERRORS, imapErrorLine, type ProxyErrorDefinition } from './errors.js';
import { DROP, ImapFramer, PASS, PASS_AND_STOP, STOP, emptyLiteralAtEnd, type FrameHandler, type LineVerdict, type LiteralAnnouncement } from './framer.js';
import { ImapSyntaxError, parseCommand, peekTagAndName, tagOrStar } from './imap-syntax.js';
import { literalCommandOf, literalLimit, type LiteralCommand } from './imap/literal-rules.js';
import { commandBytes, type HeldCommand } from './held-command.js';
import { PassThroughCommands } from './pass-through.js';
import { appendKind, leadingArgument, parsedOrNull, routedByMailbox, routeOf } from './relay-mailbox.js';
import { isDone, RELAY_COMMAND_RULES, type RelayControl } from './relay-commands.js';
import type { EngineClient } from './engine-client.js';
import { UID_SCALE_END_REASON } from './view/uid-scale.js';
import { InboxSession } from './view/inbox-session.js';
import { dispatch } from './view/inbox-dispatch.js';
import { UpstreamCommandTimer } from './ops/command-counts.js';
import type { ProxyMetrics } from './ops/metrics.js';
import type { PassThroughKind } from './relay-mailbox.js';

export interface RelayOwner {
  readonly log: Logger;
  readonly limits: ProxyLimits;
  /** The login name: whose INBOX view this is. */
  readonly login: string;
  readonly engine: EngineClient | null;
  /** Where the client is, for the events its view changes record. */
  readonly eventOrigin: EventOrigin;
  /** How often an idling client's view is looked at again. */
  readonly idleRefreshMs: number;
  readonly metrics: ProxyMetrics;
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
  /** The client socket is corked until the next check phase (corkClientForThisTurn). */
  private clientCorked = false;
  private idle = false;
  /** Tag of the client command whose synchronizing literal waits for the upstream's "+". */
  private literalTag: string | null = null;
  private commandTag: string | null = null;
  /** Name of the command being received (upper case), for the metrics. */
  private commandName = '';
  private readonly commandTimer: UpstreamCommandTimer;
  private badResponses = 0;
  private upstreamSaidBye = false;
  private ending: string | null = null;
  private ended = false;
  /** The INBOX view: takes over every command while INBOX is selected. */
  private readonly inbox: InboxSession;
  /** A command held until its small literals are in (held-command.ts). */
  private collecting: HeldCommand | null = null;
  /** Input held back while the view works (the framer said STOP). */
  private clientLeftover: Buffer | null = null;
  private serverLeftover: Buffer | null = null;
  /** Tags of pass-through commands still running: the view waits for them before it starts. */
  private readonly passThrough = new PassThroughCommands((validity) => this.inbox.stateEpochOf(validity));
  /** True while the client framer runs: a resume asked for then must not pause afterwards. */
  private clientPushing = false;
  private resumedWhilePushing = false;
  /** What the command being received may carry in literals (set at its first line). */
  private literalCommand: LiteralCommand | null = null;
  /** Where the literal of the server response being read goes: with its line, as one unit. */
  private serverLiteralFate: 'pass' | 'hold' | 'drop' = 'pass';

  constructor(
    private readonly owner: RelayOwner,
    private readonly client: Socket,
    private readonly upstream: Socket,
  ) {
    const limit = owner.limits.maxLineBytes;
    this.commandTimer = new UpstreamCommandTimer((seconds) => owner.metrics.upstreamCommand(seconds));
    const fromClient: FrameHandler = {
      onLine: (line, first, literal) => this.onClientCommand(line, first, literal),
      onLiteralData: (chunk) => this.onClientLiteral(chunk),
      onLineTooLong: (max) => this.onClientLineTooLong(max),
    };
    // Server lines past the limit are streamed by the framer, never refused.
    const fromServer: FrameHandler = {
      onLine: (line, first, literal) => this.onServerResponse(line, first, literal),
      onLiteralData: (chunk) => this.onServerLiteral(chunk),
      onLineTooLong: () => {},
    };
    this.clientFramer = new ImapFramer('client', fromClient, (bytes) => upstream.write(bytes), limit);
    this.serverFramer = new ImapFramer('server', fromServer, (bytes) => client.write(bytes), limit);
    this.inbox = new InboxSession({
      log: owner.log,
      login: owner.login,
      engine: owner.engine,
      eventOrigin: owner.eventOrigin,
      writeUpstream: (bytes) => upstream.write(bytes),
      writeClient: (bytes) => this.sendToClient(bytes),
      resumeServer: () => this.resumeServer(),
      passThroughRunning: () => this.passThrough.running,
      endSession: (reason, bye) => this.end(reason, bye),
      idleChanged: (idle) => {
        this.idle = idle;
        owner.idleChanged(idle);
      },
    });
  }

  /** Starts relaying; the leftovers are bytes each side sent before the relay existed. */
  start(clientLeftover: Buffer, upstreamLeftover: Buffer): void {
    const { client, upstream } = this;
    client.on('data', (chunk: Buffer) => this.guarded(() => this.fromClient(chunk)));
    upstream.on('data', (chunk: Buffer) => this.guarded(() => this.fromUpstream(chunk)));
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

  /** A throw while relaying is a bug of ours: it ends this session (BYE, logged), never the process. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (err) {
      // Mid-response: the BYE goes out now, as for our own bug below, and the session ends.
      const bye = this.inbox.beyondScale(err) ? PROXY_ERRORS.inboxUidsBeyondScale : null;
      if (bye !== null) {
        this.client.write(imapErrorLine('*', bye));
        this.finish(UID_SCALE_END_REASON);
        return;
      }
      const error = err as Error;
      this.owner.log.error({ code: PROXY_ERRORS.internalError.code, err: error.message, stack: error.stack }, 'relaying failed; ending this session');
      this.client.write(imapErrorLine('*', PROXY_ERRORS.internalError));
      this.finish(`internal error: ${error.message}`);
    }
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
    if (bye) this.owner.metrics.countRefusal(bye.code);
    if (bye) this.sendToClient(imapErrorLine('*', bye, detail));
    if (this.queuedForClient === null) this.finish(reason);
    // Otherwise ServerSide flushes the queue and finishes; this bounds the wait for a boundary.
    else setTimeout(() => this.finish(`${reason} (no response boundary within ${this.owner.limits.shutdownDrainMs} ms)`), this.owner.limits.shutdownDrainMs).unref();
  }

  private fromClient(chunk: Buffer): void {
    if (this.clientLeftover !== null) {
      this.clientLeftover = Buffer.concat([this.clientLeftover, chunk]);
      return;
    }
    const { upstream } = this;
    let input: Buffer | null = chunk;
    while (input !== null) {
      this.clientPushing = true;
      this.resumedWhilePushing = false;
      upstream.cork();
      let rest: Buffer | null;
      try {
        rest = this.clientFramer.push(input);
      } finally {
        upstream.uncork();
        this.clientPushing = false;
      }
      if (rest === null) break;
      if (!this.resumedWhilePushing) {
        this.clientLeftover = rest;
        this.client.pause();
        return;
      }
      // The command that stopped the framer was already answered (a BAD of our own): go on.
      input = rest.length > 0 ? rest : null;
    }
    if (upstream.writableNeedDrain) this.client.pause();
  }

  private resumeClient(): void {
    if (this.clientPushing) {
      // Called from inside the framer (a command refused before anything went upstream):
      // fromClient carries on with the rest of the input once the framer returns.
      this.resumedWhilePushing = true;
      return;
    }
    const rest = this.clientLeftover;
    this.clientLeftover = null;
    if (this.ended) return;
    this.client.resume();
    if (rest !== null && rest.length > 0) this.guarded(() => this.fromClient(rest));
  }

  private fromUpstream(chunk: Buffer): void {
    if (this.serverLeftover !== null) {
      this.serverLeftover = Buffer.concat([this.serverLeftover, chunk]);
      return;
    }
    const { client } = this;
    let rest: Buffer | null;
    // Inside a big literal (FETCH BODY[]) a chunk is one write: corking would only cost.
    if (chunk.length <= this.serverFramer.literalRemaining) {
      rest = this.serverFramer.push(chunk);
    } else {
      this.corkClientForThisTurn();
      rest = this.serverFramer.push(chunk);
    }
    if (rest !== null) {
      this.serverLeftover = rest;
      this.upstream.pause();
      return;
    }
    if (client.writableNeedDrain) this.upstream.pause();
  }

  /**
   * Holds what goes to the client until the event loop's check phase. A completion the view
   * finishes in a promise continuation without I/O (a cached view) then leaves in the same write
   * as the lines before it: one write for us and one read for the client instead of two.
   */
  private corkClientForThisTurn(): void {
    if (this.clientCorked) return;
    this.clientCorked = true;
    this.client.cork();
    setImmediate(() => {
      this.clientCorked = false;
      this.client.uncork();
    });
  }

  private resumeServer(): void {
    const rest = this.serverLeftover;
    this.serverLeftover = null;
    if (this.ended) return;
    this.upstream.resume();
    if (rest !== null && rest.length > 0) this.guarded(() => this.fromUpstream(rest));
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
    if (this.collecting !== null) return this.collect(this.collecting.purpose, line, literal);
    if (this.idle && first) {
      // In IDLE the only thing a client may send is DONE (RFC 2177).
      const done = isDone(line);
      if (done) {
        this.idle = false;
        this.owner.idleChanged(false);
      }
      // The server reads the line after IDLE as DONE or not, never a literal announcement.
      if (literal !== null) this.clientFramer.refuseLiteral();
      if (this.inbox.current === null) return PASS;
      // The proxy had ended the upstream IDLE itself (to place new mail): this DONE is not sent.
      if (done && this.inbox.clientEndsIdle()) return STOP;
      // The view's IDLE completes with the server's OK; nothing more is read until then.
      return PASS_AND_STOP;
    }
    if (literal !== null) {
      const refused = this.checkLiteral(line, first, literal);
      if (refused !== null) return refused;
    } else if (emptyLiteralAtEnd(line, line.length - 1)) {
      return this.refuseEmptyLiteral(line, first);
    }
    if (!first) return this.passSegment(literal);
    const head = peekTagAndName(line);
    this.commandTag = head?.tag ?? null;
    this.commandName = head?.name ?? '';
    if (head === null) return this.passSegment(literal);
    let verdict: LineVerdict = PASS;
    if (literal === null) {
      const rule = RELAY_COMMAND_RULES.get(head.name);
      if (rule) verdict = rule(this, head.tag, line, head.end);
    }
    if (verdict === DROP) return DROP;
    if (head.name === 'APPEND') return this.appendHead(head.tag, line, literal);
    // INBOX selected: the view takes every command but APPEND.
    if (this.inbox.inbox !== null) return this.collect('view', verdict === PASS ? line : (verdict as Buffer), literal);
    if (routedByMailbox(head.name, line, head.end)) {
      if (literal === null) {
        const route = routeOf(parsedOrNull({ segments: [line], literals: [] }));
        if (route.kind === 'view') return this.collect('view', line, null);
        if (route.track === 'moveToInbox') return this.passAlone(head.tag, Buffer.from(line));
        this.passStarted(head.tag, route.track);
        return verdict;
      }
      // Its mailbox may be this literal: hold the command until its literals are in.
      if (this.mayHold(line, literal)) return this.collect('route', line, literal);
    }
    this.passStarted(head.tag, 'plain');
    if (verdict !== PASS) return verdict;
    if (literal?.synchronizing) this.literalTag = this.commandTag;
    return PASS;
  }

  /**
   * APPEND: its mailbox is the first argument, read before the message literal streams by. When
   * the mailbox itself is a literal, the command is held until that literal is in.
   */
  private appendHead(tag: string, line: Buffer, literal: LiteralAnnouncement | null): LineVerdict {
    const mailbox = leadingArgument({ segments: [line], literals: [] });
    if (mailbox === 'pending' && literal !== null && this.mayHold(line, literal)) return this.collect('appendMailbox', line, literal);
    this.passStarted(tag, mailbox === 'pending' ? 'plain' : appendKind(mailbox));
    return this.passSegment(literal);
  }

  /** A literal too big to hold cannot be a mailbox name the relay cares about: INBOX is five bytes. */
  private mayHold(line: Buffer, literal: LiteralAnnouncement): boolean {
    return line.length + literal.size <= this.owner.limits.maxLineBytes;
  }

  /** A segment of a command the view does not run: the last one of an APPEND into a selected INBOX waits. */
  private passSegment(literal: LiteralAnnouncement | null): LineVerdict {
    if (literal === null && this.inbox.inbox !== null && this.passThrough.has(this.commandTag ?? '')) {
      // An APPEND while INBOX is selected (or a whole one in one line, with no message: the
      // server refuses it): wait for its completion, whose new mail the view announces.
      return this.passWhole();
    }
    if (literal?.synchronizing) this.literalTag = this.commandTag;
    return PASS;
  }

  /**
   * A literal goes on only where the server reads it as one (imap/literal-rules.ts): on other
   * commands the proxy answers BAD and forwards nothing, so both read what follows as the next
   * command; one larger than the server takes ends the session, as Dovecot ends it.
   */
  private checkLiteral(line: Buffer, first: boolean, literal: LiteralAnnouncement): LineVerdict | null {
    if (first) {
      const head = peekTagAndName(line);
      this.literalCommand = head ? literalCommandOf(head.name, line, head.end) : null;
      if (this.literalCommand === null) {
        this.clientFramer.refuseLiteral();
        this.owner.log.debug({ code: PROXY_ERRORS.unexpectedLiteral.code, command: head?.name ?? null }, 'literal on a command that takes none; answered BAD');
        this.sendToClient(imapErrorLine(head?.tag ?? tagOrStar(line), PROXY_ERRORS.unexpectedLiteral));
        this.countBad();
        return DROP;
      }
    }
    const limit = literalLimit(this.literalCommand ?? 'other', this.owner.limits.maxLineBytes);
    if (literal.size <= limit) return null;
    this.clientFramer.refuseLiteral();
    this.owner.log.warn({ code: PROXY_ERRORS.literalBeyondLimit.code, size: Number.isFinite(literal.size) ? literal.size : 'unbounded', limitBytes: limit }, 'literal larger than the server takes; disconnecting');
    this.end('literal too large', PROXY_ERRORS.literalBeyondLimit);
    return STOP;
  }

  /** "{}" at the end of a line: a literal of 0 bytes to some servers, an error to others. */
  private refuseEmptyLiteral(line: Buffer, first: boolean): LineVerdict {
    if (!first) {
      // Part of the command already went upstream: nothing we send can finish it for certain.
      this.end('empty literal announcement', PROXY_ERRORS.malformedLiteral);
      return STOP;
    }
    this.sendToClient(imapErrorLine(tagOrStar(line), PROXY_ERRORS.unexpectedLiteral));
    this.countBad();
    return DROP;
  }

  /**
   * A MOVE into INBOX from elsewhere: sent once nothing else is in flight, and nothing more is
   * read until it completes, so the untagged COPYUID that comes meanwhile is its own.
   */
  private passAlone(tag: string, bytes: Buffer): LineVerdict {
    const send = (): void => {
      if (this.ended) return;
      this.passStarted(tag, 'moveToInbox');
      this.passThrough.whenDrained(() => this.resumeClient());
      this.upstream.write(bytes);
    };
    // Not from inside the framer's callback: bytes it passed before this command go out first.
    if (this.passThrough.running) this.passThrough.whenDrained(send);
    else setImmediate(send);
    return STOP;
  }

  /** Forwards the final segment of a pass-through command and reads nothing more until it completes. */
  private passWhole(): LineVerdict {
    this.passThrough.whenDrained(() => this.resumeClient());
    return PASS_AND_STOP;
  }

  /** A command goes upstream as it came: counted on the byte-copy path, and maybe timed. */
  private passStarted(tag: string, kind: PassThroughKind): void {
    this.passThrough.start(tag, kind);
    this.owner.metrics.countCommand(this.commandName, 'byte_copy');
    this.commandTimer.started(tag, this.commandName);
  }

  /** Gathers a held command, answering "+" for its synchronizing literals ourselves. */
  private collect(purpose: HeldCommand['purpose'], line: Buffer, literal: LiteralAnnouncement | null): LineVerdict {
    const collecting = (this.collecting ??= { purpose, segments: [], literals: [], bytes: 0 });
    if (collecting.purpose === 'appendMailbox' && collecting.literals.length > 0) return this.releaseAppend(collecting, line, literal);
    collecting.segments.push(line);
    collecting.bytes += line.length + (literal?.size ?? 0);
    if (collecting.bytes > this.owner.limits.maxLineBytes) {
      this.collecting = null;
      this.onClientLineTooLong(this.owner.limits.maxLineBytes);
      return STOP;
    }
    if (literal !== null) {
      collecting.literals.push(Buffer.alloc(0));
      if (literal.synchronizing) this.sendToClient(Buffer.from('+ Ready for literal data\r\n'));
      return DROP;
    }
    this.collecting = null;
    if (collecting.purpose === 'route') {
      const route = routeOf(parsedOrNull(collecting));
      if (route.kind === 'pass') {
        const bytes = commandBytes(collecting.segments, collecting.literals);
        if (route.track === 'moveToInbox') return this.passAlone(this.commandTag ?? '', bytes);
        this.passStarted(this.commandTag ?? '', route.track);
        return bytes;
      }
    }
    void this.runInView(collecting.segments, collecting.literals).catch((err: unknown) => this.failedInView(err));
    return STOP;
  }

  /** Last resort for a throw the view did not answer itself: a bug of ours, logged; this session ends, never the process. */
  private failedInView(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.owner.log.error({ code: PROXY_ERRORS.internalError.code, err: error.message, stack: error.stack }, 'INBOX view failed outside a command; ending this session');
    this.inbox.current = null;
    this.inbox.settled = null;
    this.end(`internal error: ${error.message}`, PROXY_ERRORS.internalError);
  }

  /**
   * The segment after an APPEND's mailbox literal: the mailbox is known. What was held goes
   * upstream (we said "+" already), and this segment on as any APPEND segment.
   */
  private releaseAppend(held: HeldCommand, line: Buffer, literal: LiteralAnnouncement | null): LineVerdict {
    this.collecting = null;
    const mailbox = leadingArgument({ segments: [...held.segments, line], literals: held.literals });
    this.passStarted(this.commandTag ?? '', mailbox === 'pending' ? 'plain' : appendKind(mailbox));
    // Every earlier byte of this command was dropped, so this write keeps the stream in order.
    this.upstream.write(commandBytes(held.segments, held.literals));
    return this.passSegment(literal);
  }

  /** Literal bytes of a command being collected for the view. */
  onClientLiteral(chunk: Buffer): boolean {
    const collecting = this.collecting;
    if (collecting === null) return true;
    const index = collecting.literals.length - 1;
    collecting.literals[index] = Buffer.concat([collecting.literals[index]!, chunk]);
    return false;
  }

  private async runInView(segments: Buffer[], literals: Buffer[]): Promise<void> {
    if (this.passThrough.running) await new Promise<void>((resolve) => this.passThrough.whenDrained(resolve));
    const bytes = commandBytes(segments, literals);
    let parsed;
    try {
      parsed = parseCommand({ segments, literals });
    } catch (err) {
      if (!(err instanceof ImapSyntaxError)) throw err;
      // Never passed on as it is: its numbers would be the client's, not the server's.
      this.sendToClient(Buffer.from(`${tagOrStar(segments[0]!)} BAD ${err.message}\r\n`, 'latin1'));
      this.countBad();
      this.resumeClient();
      return;
    }
    this.owner.metrics.countCommand(parsed.name, 'inbox_view');
    const settled = new Promise<void>((resolve) => (this.inbox.settled = resolve));
    try {
      const running = await dispatch(this.inbox, parsed, bytes, { idleRefreshMs: this.owner.idleRefreshMs, readyForDone: () => this.resumeClient() });
      if (running.local) {
        this.inbox.settled = null;
        await running.local;
      } else {
        this.inbox.current = running;
        await settled;
      }
    } catch (err) {
      if (this.inbox.beyondScale(err)) return this.end(UID_SCALE_END_REASON, PROXY_ERRORS.inboxUidsBeyondScale);
      this.owner.log.error({ err: (err as Error).message, stack: (err as Error).stack, command: parsed.name }, 'INBOX view failed on a command');
      this.inbox.current = null;
      this.inbox.settled = null;
      this.sendToClient(Buffer.from(`${parsed.tag} NO [SERVERBUG] Internal error in the proxy; the command was not completed\r\n`, 'latin1'));
    }
    this.resumeClient();
  }

  onServerResponse(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    let verdict: LineVerdict = PASS;
    this.serverLiteralFate = 'pass';
    if (first) this.commandTimer.serverLine(line);
    if (this.inbox.inbox !== null || this.inbox.current !== null) {
      verdict = this.inbox.onServerLine(line, first, literal);
      this.serverLiteralFate = this.inbox.literalFate;
      if (verdict === STOP) return STOP;
      if (verdict === PASS && first) verdict = this.inspectServerLine(line);
      if (first && this.passThrough.running && line[0] !== STAR && line[0] !== PLUS) {
        if (this.inbox.growthPending) return this.passCompletedAfterGrowth(line, verdict);
        verdict = this.passThrough.completed(line, verdict);
      }
    } else if (first) {
      verdict = this.inspectServerLine(line);
      if (this.passThrough.running) {
        if (line[0] === STAR) verdict = this.passThrough.untagged(line, verdict);
        else if (line[0] !== PLUS) verdict = this.passThrough.completed(line, verdict);
      }
    }
    if (literal === null && this.queuedForClient !== null) {
      const queued = this.queuedForClient;
      this.queuedForClient = null;
      verdict = Buffer.concat([verdict === PASS ? line : (verdict as Buffer), ...queued]);
      if (this.ending !== null) setImmediate(() => this.finish(this.ending ?? 'ended'));
    }
    return verdict;
  }

  /** Literal bytes from the server: they go where their line went (held, dropped or passed). */
  private onServerLiteral(chunk: Buffer): boolean {
    switch (this.serverLiteralFate) {
      case 'pass':
        return true;
      case 'drop':
        return false;
      case 'hold':
        return this.inbox.holdLiteral(chunk);
    }
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

  /**
   * A pass-through command (an APPEND while INBOX is selected) brought new mail the view
   * announces at its end: the completion waits for that, and so does the next client command.
   */
  private passCompletedAfterGrowth(line: Buffer, verdict: LineVerdict): LineVerdict {
    const drained = this.passThrough.takeDrained();
    const answer = this.passThrough.completed(line, verdict);
    const bytes = answer === PASS ? Buffer.from(line) : (answer as Buffer);
    void this.inbox.finishAfterGrowth(bytes, line).then(() => this.passThrough.restoreDrained(drained));
    return DROP;
  }

  private countBad(): void {
    if (++this.badResponses < this.owner.limits.maxBadCommands) return;
    this.owner.log.warn({ code: PROXY_ERRORS.tooManyBadCommands.code, count: this.badResponses }, 'too many invalid commands; disconnecting');
    this.end('too many invalid commands', PROXY_ERRORS.tooManyBadCommands);
  }
}
