/**
 * The commands the relay passes to the server unread by the view, while they run: which of
 * their answers carry INBOX UIDs (APPEND or COPY/MOVE into INBOX from elsewhere: APPENDUID and
 * COPYUID translated, tagged or, for MOVE, untagged), and who waits for them all to complete
 * (a view command, which must not interleave with them; the client's next input after an APPEND
 * into a selected INBOX).
 *
 * It must never change an answer for a destination other than INBOX: that passes as the
 * server wrote it.
 */
import { PASS, type LineVerdict } from './framer.js';
import type { PassThroughKind } from './relay-mailbox.js';
import { untaggedOkCode } from './response-code.js';
import { rewriteUidCodes } from './view/response-rewrite.js';

export class PassThroughCommands {
  /**
   * @param stateEpochOf the view state epoch that goes into INBOX's client UIDVALIDITY for a
   *   server UIDVALIDITY (view/inbox-session.ts), so an APPENDUID or COPYUID into INBOX names the
   *   UIDVALIDITY a SELECT of INBOX shows.
   */
  constructor(private readonly stateEpochOf: (serverUidValidity: number) => number) {}

  private readonly inFlight = new Map<string, PassThroughKind>();
  /** Runs once none is in flight. */
  private drained: (() => void) | null = null;

  get running(): boolean {
    return this.inFlight.size > 0;
  }

  has(tag: string): boolean {
    return this.inFlight.has(tag);
  }

  start(tag: string, kind: PassThroughKind): void {
    this.inFlight.set(tag, kind);
  }

  /** `then` runs (on a later turn) once every command in flight has completed. */
  whenDrained(then: () => void): void {
    this.drained = then;
  }

  /** Takes the waiter out, for a completion that is released later (new mail announced first). */
  takeDrained(): (() => void) | null {
    const drained = this.drained;
    this.drained = null;
    return drained;
  }

  /** Gives a taken waiter back: it runs now if nothing is in flight any more. */
  restoreDrained(drained: (() => void) | null): void {
    if (drained && !this.running) setImmediate(drained);
    else this.drained = drained;
  }

  /**
   * An untagged response while some are in flight. MOVE into INBOX reports COPYUID in an untagged
   * OK (RFC 6851 §4.3), translated as the tagged one would be. Such a MOVE runs alone (relay.ts),
   * so while one is in flight the COPYUID is its own.
   */
  untagged(line: Buffer, verdict: LineVerdict): LineVerdict {
    if (untaggedOkCode(line) !== 'COPYUID') return verdict;
    for (const kind of this.inFlight.values()) if (kind === 'moveToInbox') return intoInbox(line, verdict, this.stateEpochOf);
    return verdict;
  }

  /** A tagged completion: translate what names INBOX UIDs, and wake the waiter once all are done. */
  completed(line: Buffer, verdict: LineVerdict): LineVerdict {
    const space = line.indexOf(0x20);
    const tag = line.toString('latin1', 0, space);
    const kind = this.inFlight.get(tag);
    if (kind === undefined) return verdict;
    this.inFlight.delete(tag);
    const result = kind === 'plain' ? verdict : intoInbox(line, verdict, this.stateEpochOf);
    if (!this.running && this.drained) setImmediate(this.takeDrained()!);
    return result;
  }
}

/** The server's UIDs of a destination INBOX in the client's numbering. */
function intoInbox(line: Buffer, verdict: LineVerdict, stateEpochOf: (serverUidValidity: number) => number): LineVerdict {
  const text = (verdict === PASS ? line : (verdict as Buffer)).toString('latin1');
  const rewritten = rewriteUidCodes(text, { sourceIsInbox: false, targetIsInbox: true, stateEpochOf });
  return rewritten === text ? verdict : Buffer.from(rewritten, 'latin1');
}
