/**
 * The INBOX's FLAGS and PERMANENTFLAGS as this session's client was told them, plus the keywords
 * only virtual messages carry. A server announces a keyword (FLAGS, then PERMANENTFLAGS) before
 * the first response that shows it on a message (RFC 3501 §7.2.6: FLAGS lists the flags
 * applicable in the mailbox); a keyword a client set on a campaign message never reaches the
 * server, so the proxy announces it itself, and keeps it in the server's later announcements.
 * The view also lists every keyword ever set on a virtual message (InboxView.keywords), as a
 * server keeps a keyword in FLAGS for good: those are announced at SELECT/EXAMINE and, when the
 * list grows, at the session's next sync point, whether or not a message still shows them.
 * Keywords compare case-insensitively (RFC 9051 §2.3.2).
 */
export class MailboxFlags {
  /** Null until the server sent FLAGS: a FLAGS response replaces the client's whole list, so
   *  none is announced without knowing the server's. */
  private flags: string[] | null;
  /** Null when the server sent no PERMANENTFLAGS; empty in a read-only (EXAMINE) session. */
  private permanent: string[] | null;
  /** Keywords the proxy added to what the server announced. */
  private readonly added: string[] = [];
  /** The server's last FLAGS told the client nothing new (and was left out). */
  private repeated = false;

  constructor(flags: readonly string[] | null = null, permanent: readonly string[] | null = null) {
    this.flags = flags === null ? null : [...flags];
    this.permanent = permanent === null ? null : [...permanent];
  }

  /**
   * A `* FLAGS (…)` or `* OK [PERMANENTFLAGS (…)]` line from the server: learnt, and returned with
   * the proxy's keywords added; empty when, outside SELECT/EXAMINE (`selecting`), it tells the
   * client nothing new (null for any other line).
   */
  serverLine(text: string, selecting = false): string | null {
    const match = /^\* (FLAGS|OK \[PERMANENTFLAGS) \(([^)]*)\)/i.exec(text);
    if (!match) return null;
    const listed = match[2]!.split(' ').filter(Boolean);
    const isFlags = match[1]!.toUpperCase() === 'FLAGS';
    // The server announcing keywords the proxy announced already (set on virtual messages first):
    // a server repeats no FLAGS it has not changed, outside SELECT (seed 20082). Nor its PERMANENTFLAGS.
    if (isFlags) {
      this.repeated = !selecting && this.flags !== null && listed.every((flag) => has(this.flags!, flag)) && this.flags.every((flag) => has(listed, flag) || has(this.added, flag));
      if (this.repeated) return '';
    } else if (this.repeated) {
      this.repeated = false;
      if (this.permanent !== null && listed.every((flag) => has(this.permanent!, flag))) return '';
    }
    const extra = this.added.filter((keyword) => !has(listed, keyword) && (isFlags || listed.length > 0));
    if (isFlags) this.flags = [...listed, ...extra];
    else this.permanent = withKeywords(listed, extra);
    if (extra.length === 0) return text;
    const list = isFlags ? this.flags! : this.permanent!;
    return text.replace(/\(([^)]*)\)/, `(${list.join(' ')})`);
  }

  /** FLAGS and PERMANENTFLAGS lines announcing the keywords in `flags` the client was not told of; empty when none. */
  announce(flags: readonly string[]): Buffer {
    if (this.flags === null) return EMPTY;
    const known = this.flags;
    const fresh: string[] = [];
    for (const flag of flags) if (!flag.startsWith('\\') && !has(known, flag) && !has(fresh, flag)) fresh.push(flag);
    if (fresh.length === 0) return EMPTY;
    this.added.push(...fresh);
    this.flags.push(...fresh);
    const lines = [`* FLAGS (${this.flags.join(' ')})\r\n`];
    // Read-only (PERMANENTFLAGS ()): nothing becomes permanent, but Dovecot says so again after
    // each FLAGS (2.3.19), and so does the proxy.
    if (this.permanent !== null && this.permanent.length === 0) lines.push('* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n');
    else if (this.permanent !== null) {
      this.permanent = withKeywords(this.permanent, fresh);
      lines.push(`* OK [PERMANENTFLAGS (${this.permanent.join(' ')})] Flags permitted.\r\n`);
    }
    return Buffer.from(lines.join(''), 'latin1');
  }
}

const EMPTY = Buffer.alloc(0);

/** `* FLAGS (…)` or `* OK [PERMANENTFLAGS (…)]`: the mailbox's flags, announced again. */
export function announcesFlags(text: string): boolean {
  return /^\* (FLAGS|OK \[PERMANENTFLAGS)\b/i.test(text);
}

/**
 * A server's keyword announcement held back until the command knows where it belongs among its
 * own answers (a FETCH's virtual answers: inbox-fetch.ts, answeredWithSync).
 */
export class HeldAnnouncement {
  private held: Buffer | null = null;

  constructor(private readonly flags: MailboxFlags) {}

  /** Holds `text`, learnt and rewritten as MailboxFlags.serverLine does, when it is an announcement. */
  hold(text: string): boolean {
    if (!announcesFlags(text)) return false;
    this.held = Buffer.concat([this.held ?? EMPTY, Buffer.from(this.flags.serverLine(text) ?? text, 'latin1')]);
    return true;
  }

  get pending(): boolean {
    return this.held !== null;
  }

  take(): Buffer | null {
    const held = this.held;
    this.held = null;
    return held;
  }
}

function has(list: readonly string[], flag: string): boolean {
  return list.some((listed) => listed.toLowerCase() === flag.toLowerCase());
}

/** `list` with `keywords` added before its `\*` (which stays last, as servers write it). */
function withKeywords(list: readonly string[], keywords: readonly string[]): string[] {
  const rest = list.filter((flag) => flag !== '\\*');
  const fresh = keywords.filter((keyword) => !has(rest, keyword));
  return [...rest, ...fresh, ...(list.includes('\\*') ? ['\\*'] : [])];
}
