/**
 * The maildrop a POP3 client sees through the proxy: the server's messages, numbered as the
 * server numbers them, followed by the user's campaign messages (proxy/README.md, "POP3").
 *
 * Why after every real message: a POP3 maildrop is a snapshot taken at login and its message
 * numbers only mean something within one session; clients keep track of messages by UIDL, not
 * by number or order. Putting the campaign messages last keeps every server message under the
 * number the server gave it, so a command about a real message goes upstream unchanged and the
 * server's answer comes back unchanged, and the IMAP view's order is kept as far as one session
 * can see it (a campaign message is shown after the mail its user had when it was assigned; only
 * mail that came later moves behind it in IMAP and stays before it here).
 *
 * Pure: no I/O. Must never name a real message by a number the server did not give it.
 */

export interface CampaignEntry {
  /** The view's client UID: what events and expunges name. */
  readonly uid: number;
  readonly uidl: string;
  /** The message with CRLF line ends, as RETR sends it before stuffing; LIST's size is its length. */
  readonly message: Buffer;
  readonly seen: boolean;
}

export type MaildropEntry =
  | { readonly kind: 'real'; readonly serverNumber: number }
  | { readonly kind: 'campaign'; readonly entry: CampaignEntry; readonly deleted: boolean };

export type Lookup = MaildropEntry | { readonly kind: 'none' } | { readonly kind: 'deleted' };

export class Maildrop {
  private readonly deleted = new Set<number>();

  /**
   * `realCount`: messages in the server's maildrop at login (its STAT). `campaign`: the
   * campaign messages, ascending by UID.
   */
  constructor(
    readonly realCount: number,
    readonly campaign: readonly CampaignEntry[],
  ) {}

  /** What client message number `n` is; 'deleted' for a campaign message marked deleted. Real
   *  messages marked deleted are the server's to refuse. */
  lookup(n: number): Lookup {
    if (n >= 1 && n <= this.realCount) return { kind: 'real', serverNumber: n };
    const entry = this.campaign[n - this.realCount - 1];
    if (entry === undefined) return { kind: 'none' };
    if (this.deleted.has(entry.uid)) return { kind: 'deleted' };
    return { kind: 'campaign', entry, deleted: false };
  }

  /** Client message number of the campaign message at `index` in `campaign`. */
  numberOf(index: number): number {
    return this.realCount + index + 1;
  }

  markDeleted(entry: CampaignEntry): void {
    this.deleted.add(entry.uid);
  }

  /** RSET: every campaign message is undeleted (the server undeletes its own). */
  reset(): void {
    this.deleted.clear();
  }

  /** Campaign messages not marked deleted, with their client numbers. */
  visibleCampaign(): { readonly number: number; readonly entry: CampaignEntry }[] {
    return this.campaign.flatMap((entry, index) => (this.deleted.has(entry.uid) ? [] : [{ number: this.numberOf(index), entry }]));
  }

  /** UIDs of the campaign messages marked deleted: expunged when QUIT commits. */
  deletedUids(): number[] {
    return this.campaign.filter((entry) => this.deleted.has(entry.uid)).map((entry) => entry.uid);
  }

  /** STAT's figures: the server's (which leave out its deleted messages) plus visible campaign ones. */
  stat(serverCount: number, serverOctets: number): { count: number; octets: number } {
    const visible = this.visibleCampaign();
    return { count: serverCount + visible.length, octets: serverOctets + visible.reduce((sum, { entry }) => sum + entry.message.length, 0) };
  }
}

/**
 * UIDL of a campaign message: the view state epoch, the server's INBOX UIDVALIDITY and the view
 * UID, in hex, behind a prefix. The view never reuses a UID under one UIDVALIDITY and state
 * epoch, so the value is stable across sessions and never names another message; "inlay-"
 * holds characters Dovecot's hexadecimal UIDLs never have, and a session drops a campaign
 * message whose UIDL the server uses anyway. At most 32 characters (RFC 1939 allows 70).
 */
export function campaignUidl(stateEpoch: number, serverUidValidity: number, uid: number): string {
  return `inlay-${stateEpoch.toString(16)}-${serverUidValidity.toString(16)}-${uid.toString(16)}`;
}
