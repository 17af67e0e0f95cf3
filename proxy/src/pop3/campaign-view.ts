/**
 * The campaign messages of a POP3 user: the same INBOX view the IMAP side shows (same
 * middleware view, same UIDs, same events), found without the IMAP session the view is keyed
 * by. A view is keyed by the server's INBOX UIDVALIDITY, which POP3 never tells, so the proxy
 * logs in to the IMAP upstream with the client's credentials and asks `STATUS INBOX`; it then
 * reads the view and, when campaigns are pending, assigns them after the newest real message
 * by the same epoch rule as a SELECT (proxy/README.md, "Assigning a UID").
 *
 * Never throws and never makes the login fail: any failure (IMAP login refused, engine silent,
 * deadline passed) means a maildrop without campaign messages, logged.
 */
import type { Logger } from 'pino';
import { MAX_SCALED_SERVER_UID, type EventOrigin, type InboxView, type ViewKey } from '@inlay/schemas';
import type { Credentials } from '../commands/types.js';
import type { EngineClient } from '../engine-client.js';
import { ENGINE_LOG_CODES } from '../errors.js';
import { formatIdList, upstreamId, type ConnectionFacts } from '../imap-id.js';
import { quoteIfSafe } from '../imap-syntax.js';
import type { ProxyRuntime } from '../runtime.js';
import { UpstreamLink, type UpstreamResponse } from '../upstream.js';

export interface CampaignView {
  readonly key: ViewKey;
  readonly view: InboxView;
}

interface InboxStatus {
  readonly uidValidity: number;
  readonly uidNext: number;
}

/** The campaign view of `credentials`' INBOX, or null; gives up after `deadlineMs` in all. */
export async function campaignViewFor(
  runtime: ProxyRuntime,
  engine: EngineClient,
  credentials: Credentials,
  login: string,
  origin: EventOrigin,
  log: Logger,
  deadlineMs: number,
  facts: ConnectionFacts,
): Promise<CampaignView | null> {
  let link: UpstreamLink | null = null;
  /** Set when the deadline passed or the answer is in: a link opened after that is closed at once. */
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      log.warn({ code: ENGINE_LOG_CODES.unavailable, deadlineMs }, 'POP3: campaign view not ready in time; this session shows mail only');
      resolve(null);
    }, deadlineMs);
  });
  const work = async (): Promise<CampaignView | null> => {
    const opened = await UpstreamLink.open(runtime.upstream, runtime.upstreamTls, runtime.limits.upstreamConnectTimeoutMs);
    if (finished) {
      opened.close();
      return null;
    }
    link = opened;
    // The same ID an IMAP login of this client would carry: the server logs the client's address
    // and our connection id for this login too (x-session-id), and a proxy loop still ends.
    const id = upstreamId(new Map(), false, facts, runtime.proxyTtl, `${runtime.idName}/${runtime.idVersion}`);
    if (link.has('ID')) link.send(link.nextTag(), `ID ${formatIdList(id.fields)}`);
    if (!(await imapLogin(link, credentials))) {
      log.info('POP3: the IMAP upstream refused the credentials the POP3 server took; no campaign messages');
      return null;
    }
    return await viewOf(link, engine, login, origin, log);
  };
  try {
    return await Promise.race([work(), deadline]);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'POP3: campaign view unavailable; this session shows mail only');
    return null;
  } finally {
    finished = true;
    clearTimeout(timer);
    (link as UpstreamLink | null)?.close();
  }
}

async function imapLogin(link: UpstreamLink, credentials: Credentials): Promise<boolean> {
  const ignore = (): void => {};
  switch (credentials.kind) {
    case 'login': {
      const user = quoteIfSafe(credentials.user);
      const password = quoteIfSafe(credentials.password);
      const pieces: (string | Buffer)[] = ['LOGIN ', user ?? credentials.user, ' ', password ?? credentials.password];
      return (await link.run(link.nextTag(), pieces, ignore)).status === 'OK';
    }
    case 'plain':
      // Without SASL-IR the challenge round would need the link's login hand-over; the
      // proxy's own IMAP side needs no such server either, so such a server shows no campaigns.
      if (!link.has('SASL-IR')) return false;
      return (await link.run(link.nextTag(), [`AUTHENTICATE PLAIN ${credentials.base64}`], ignore)).status === 'OK';
    default: {
      const unknown: never = credentials;
      throw new Error(`unknown credentials ${String(unknown)}`);
    }
  }
}

async function inboxStatus(link: UpstreamLink, log: Logger): Promise<InboxStatus | null> {
  let found: InboxStatus | null = null;
  const seen: string[] = [];
  const answer = await link.run(link.nextTag(), ['STATUS INBOX (UIDVALIDITY UIDNEXT)'], (response: UpstreamResponse) => {
    seen.push(response.text.slice(0, 200));
    const validity = /\bUIDVALIDITY (\d{1,10})\b/i.exec(response.text);
    const next = /\bUIDNEXT (\d{1,10})\b/i.exec(response.text);
    if (/^\* STATUS /i.test(response.text) && validity && next) found = { uidValidity: Number(validity[1]), uidNext: Number(next[1]) };
  });
  if (answer.status !== 'OK' || found === null) log.info({ answer: answer.text.slice(0, 200), untagged: seen }, 'POP3: STATUS INBOX on the IMAP upstream failed');
  return answer.status === 'OK' ? found : null;
}

/** A mailbox being indexed by another session (the user's POP3 one, a delivery) may be reported
 *  with UIDVALIDITY 0 for a moment (Dovecot); asked again once a little later. */
const STATUS_RETRY_MS = 200;

async function usableStatus(link: UpstreamLink, log: Logger): Promise<InboxStatus | null> {
  const first = await inboxStatus(link, log);
  if (first === null || first.uidValidity !== 0) return first;
  await new Promise((resolve) => setTimeout(resolve, STATUS_RETRY_MS));
  const again = await inboxStatus(link, log);
  return again === null || again.uidValidity === 0 ? null : again;
}

/**
 * The view, with pending campaigns assigned when that is safe: the epoch read first, the
 * anchor (UIDNEXT − 1) learned after it, and our own reveal the only one since — as at SELECT.
 */
async function viewOf(link: UpstreamLink, engine: EngineClient, login: string, origin: EventOrigin, log: Logger): Promise<CampaignView | null> {
  const first = await usableStatus(link, log);
  if (first === null) {
    log.info({ first }, 'POP3: STATUS INBOX on the IMAP upstream gave no UIDVALIDITY; no campaign messages');
    return null;
  }
  const key: ViewKey = { login, mailbox: 'INBOX', serverUidValidity: first.uidValidity };
  const early = await engine.freshView(key);
  if (early === undefined || !early.known) {
    log.debug({ answered: early !== undefined }, 'POP3: no campaign view for this user');
    return null;
  }
  log.debug({ epoch: early.epoch, pending: early.pending, messages: early.messages.length }, 'POP3: campaign view read');
  if (early.pending === 0) return { key, view: early };
  const now = await inboxStatus(link, log);
  if (now === null || now.uidValidity !== first.uidValidity || now.uidNext - 1 > MAX_SCALED_SERVER_UID) {
    log.debug({ first, now }, 'POP3: INBOX changed under the assignment; none this session');
    return { key, view: early };
  }
  const shown = await engine.revealUpTo(key, now.uidNext);
  if (shown.view === undefined) return { key, view: early };
  const onlyOurs = shown.view.epoch === early.epoch + (shown.revealed ? 1 : 0);
  if (!onlyOurs || shown.view.pending === 0) {
    log.debug({ early: early.epoch, now: shown.view.epoch, revealed: shown.revealed, pending: shown.view.pending }, 'POP3: no assignment this session');
    return { key, view: shown.view };
  }
  const assigned = await engine.assign({ ...key, epoch: shown.view.epoch, anchorServerUid: now.uidNext - 1, origin });
  log.debug({ epoch: shown.view.epoch, applied: assigned?.applied, assigned: assigned?.assigned }, 'POP3: pending campaigns assigned');
  return { key, view: assigned ?? shown.view };
}
