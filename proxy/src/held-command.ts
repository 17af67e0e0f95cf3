/**
 * A client command the relay holds back whole until its literals are in, because what it
 * means is not known before: a command for the INBOX view, one whose mailbox argument decides
 * its route, or an APPEND whose mailbox is a literal (held only until that literal is in; its
 * message literal streams). Held commands are bounded by the line limit.
 */

export interface HeldCommand {
  /**
   * `view`: INBOX is selected, the view runs it; `route`: its mailbox decides whether the view
   * runs it or it passes; `appendMailbox`: an APPEND held until its mailbox literal is in.
   */
  readonly purpose: 'view' | 'route' | 'appendMailbox';
  readonly segments: Buffer[];
  /** The literal after each segment but the last; the last one grows as its bytes arrive. */
  readonly literals: Buffer[];
  /** Bytes held, announced literals included. */
  bytes: number;
}

/** Inserted before the "}" of a synchronizing literal we answered "+" for ourselves: LITERAL+. */
const PLUS = Buffer.from('+');
const CR = 0x0d;
const CLOSE_BRACE = 0x7d;

/**
 * A held command as one write to the server. Its synchronizing literals become LITERAL+ (the
 * client already had our "+"); both servers the proxy is tested behind accept LITERAL+.
 */
export function commandBytes(segments: readonly Buffer[], literals: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const [index, segment] of segments.entries()) {
    const literal = literals[index];
    if (literal === undefined) {
      parts.push(segment);
      continue;
    }
    // A segment that has a literal after it ends in "{N}" or "{N+}" (the framer said so).
    const brace = segment[segment.length - 2] === CR ? segment.length - 3 : segment.length - 2;
    const synchronizing = segment[brace] === CLOSE_BRACE && segment[brace - 1] !== PLUS[0];
    if (synchronizing) parts.push(segment.subarray(0, brace), PLUS, segment.subarray(brace), literal);
    else parts.push(segment, literal);
  }
  return Buffer.concat(parts);
}
