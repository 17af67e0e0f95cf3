/**
 * What the differential harness needs from each side of a comparison — the contract a later
 * test implements to put "the Inlay proxy in front of Dovecot account A" (subject) against
 * "Dovecot account B" (oracle). Types only.
 *
 * A target opens logged-in sessions for one user and applies "world events" — things that
 * happen to the user's INBOX outside the sessions under test. The harness applies new mail and
 * a campaign's end to both targets at once, a campaign's start to the subject first (its
 * rendering then goes to the oracle), and lets sessions run again only after that, so every
 * hook must return only once its effect is visible to a new command in any session.
 *
 *   const subject: DifferentialTarget = {
 *     name: 'inlay proxy → dovecot A', credentials: accountA,
 *     connect: () => connectTo(proxy.host, proxy.port),
 *     deliverMail: async (message) => { await adminA.append(message); },   // straight to Dovecot A
 *     startCampaign: async (campaign) => { ...create over REST, wait until served...; return { bytes, internalDate }; },
 *     endCampaign: async (campaign) => { ...end over REST... },
 *   };
 *   const oracle = dovecotTarget(dovecot, accountB);                  // APPEND / admin MOVE out
 *   assertNoDifference(await runDifferential({ seed, steps: 60, sessions: 3, subject, oracle, dropRecent: true }));
 */
import type { Socket } from 'node:net';
import type { GeneratedMessage } from './messages.ts';

export interface CampaignSpec {
  /** Stable for the run: "campaign-3". */
  readonly id: string;
  /** What the campaign message should look like; a subject may render it its own way. */
  readonly message: GeneratedMessage;
}

/** How the subject actually shows a campaign, when it differs from the spec (see startCampaign). */
export interface CampaignRendering {
  readonly bytes?: Buffer;
  readonly internalDate?: string;
}

export interface DifferentialTarget {
  /** For reports: "proxy", "dovecot B". */
  readonly name: string;
  /** A fresh connection to the IMAP server, before its greeting (plain TCP or TLS). */
  connect(): Promise<Socket>;
  readonly credentials: { readonly user: string; readonly password: string };

  /** Real new mail for the user's INBOX (e.g. an APPEND with the message's date by an admin session). */
  deliverMail(message: GeneratedMessage): Promise<void>;
  /**
   * A campaign starts and its message appears in the INBOX. On an oracle: APPEND the given
   * bytes. On a proxy: create and schedule the campaign, then wait until the view serves it.
   * The subject may return how it renders the message; the oracle is then given those bytes
   * and that INTERNALDATE instead of the spec's, so both sides hold the same message.
   */
  startCampaign(campaign: CampaignSpec): Promise<CampaignRendering | void>;
  /** The campaign ends and its message leaves the INBOX (oracle: an admin session expunges it). */
  endCampaign(campaign: CampaignSpec): Promise<void>;
}
