/**
 * The AUTHORIZATION state (RFC 1939 §4, RFC 5034 AUTH PLAIN): credentials relayed to the
 * server's POP3, whose answer decides; then the maildrop of the TRANSACTION state is built —
 * the server's message count and, beside it, the campaign view — before the client is told +OK,
 * since a POP3 maildrop must not change after that.
 *
 * Must never log a credential, and never let the campaign side fail or delay a login past its
 * deadline: without an answer the maildrop holds the user's mail only.
 */
import type { Logger } from 'pino';
import type { EventOrigin } from '@inlay/schemas';
import { decodePlain } from '../commands/login.js';
import type { Credentials } from '../commands/types.js';
import { POP3_ERRORS, type Pop3ErrorDefinition } from '../errors.js';
import type { ConnectionFacts } from '../imap-id.js';
import type { ProxyRuntime } from '../runtime.js';
import { campaignViewFor, type CampaignView } from './campaign-view.js';
import { campaignUidl, Maildrop, type CampaignEntry } from './maildrop.js';
import { withCrlf } from './multiline.js';
import type { Transaction } from './transaction.js';
import { Pop3Upstream, Pop3UpstreamError, type Pop3Target } from './upstream.js';

/** What the AUTHORIZATION state needs of its session. */
export interface AuthorizationHost {
  readonly runtime: ProxyRuntime;
  readonly target: Pop3Target;
  /** How long a login waits for the campaign view (runtime.ts: Pop3Settings). */
  readonly campaignDeadlineMs: number;
  readonly log: Logger;
  readonly secure: boolean;
  readonly origin: EventOrigin;
  /** The connection id (`cid`), passed on as the server's session id. */
  readonly id: string;
  readonly address: string;
  readonly remotePort: number;
  /** Where the client connected, for the ID of the IMAP login that finds the campaign view. */
  connectionFacts(): ConnectionFacts;
  write(text: string): void;
  fail(error: Pop3ErrorDefinition, detail?: string): void;
}

/** The session's AUTHORIZATION data: the upstream once USER or AUTH needed it, the USER given. */
export interface Authorization {
  upstream: Pop3Upstream | null;
  user: string | null;
}

/** Opens the upstream if none is open yet; null (answered) when it cannot be reached. */
export async function upstreamFor(host: AuthorizationHost, auth: Authorization): Promise<Pop3Upstream | null> {
  if (auth.upstream) return auth.upstream;
  try {
    auth.upstream = await Pop3Upstream.open(host.target, host.runtime.upstreamTls, host.runtime.limits.upstreamConnectTimeoutMs);
    await forwardClient(host, auth.upstream);
    return auth.upstream;
  } catch (err) {
    host.log.warn({ code: POP3_ERRORS.upstreamUnavailable.code, err: (err as Error).message }, 'POP3 upstream unavailable');
    host.fail(POP3_ERRORS.upstreamUnavailable);
    return null;
  }
}

/**
 * XCLIENT (Dovecot's POP3 offers it to its login_trusted_networks): the server then logs, limits
 * and authenticates by the client's address, port and our connection id instead of ours, as the
 * IMAP side does with ID x-originating-*. TTL is what is left of proxy.proxyTtl after this hop,
 * so a proxy loop ends. A refusal is logged; the login goes on as from the proxy.
 */
async function forwardClient(host: AuthorizationHost, upstream: Pop3Upstream): Promise<void> {
  if (!upstream.has('XCLIENT')) return;
  const address = host.address.replace(/^::ffff:/, '');
  const answer = await upstream.command(`XCLIENT ADDR=${address} PORT=${host.remotePort} SESSION=${host.id} TTL=${host.runtime.proxyTtl - 1}`);
  if (!answer.ok) host.log.warn({ answer: answer.text.slice(0, 200) }, 'POP3 upstream refused XCLIENT; it sees the proxy as the client');
}

/** USER: relayed; the name is kept for PASS. */
export async function user(host: AuthorizationHost, auth: Authorization, name: string): Promise<void> {
  const upstream = await upstreamFor(host, auth);
  if (!upstream) return;
  const answer = await upstream.command(`USER ${name}`);
  auth.user = answer.ok ? name : null;
  host.write(`${answer.text}\r\n`);
}

/** PASS: relayed; a Transaction when the server took it. */
export async function pass(host: AuthorizationHost, auth: Authorization, password: string): Promise<Transaction | null> {
  const upstream = auth.upstream;
  const name = auth.user;
  auth.user = null;
  if (!upstream || name === null) {
    host.fail(POP3_ERRORS.userFirst);
    return null;
  }
  const answer = await upstream.command(`PASS ${password}`);
  const credentials: Credentials = { kind: 'login', user: Buffer.from(name, 'latin1'), password: Buffer.from(password, 'latin1') };
  return finishLogin(host, auth, answer, credentials, Buffer.from(name, 'latin1').toString('utf8'), 'USER');
}

/** The client's SASL PLAIN response (initial or after "+ "): relayed; a Transaction when taken. */
export async function authPlain(host: AuthorizationHost, auth: Authorization, response: string): Promise<Transaction | null> {
  if (response === '*') {
    host.fail(POP3_ERRORS.authCancelled);
    return null;
  }
  const credentials = decodePlain(response === '=' ? '' : response);
  if (!credentials || credentials.kind !== 'plain') {
    host.fail(POP3_ERRORS.authMalformed);
    return null;
  }
  const upstream = await upstreamFor(host, auth);
  if (!upstream) return null;
  let answer = await upstream.command(`AUTH PLAIN ${credentials.base64 === '' ? '=' : credentials.base64}`);
  // A server without initial responses asks with "+ "; the response then goes on its own line.
  if (!answer.ok && answer.text.startsWith('+')) answer = await upstream.command(credentials.base64);
  return finishLogin(host, auth, answer, credentials, credentials.user, 'PLAIN');
}

async function finishLogin(
  host: AuthorizationHost,
  auth: Authorization,
  answer: { ok: boolean; text: string },
  credentials: Credentials,
  login: string,
  method: string,
): Promise<Transaction | null> {
  const upstream = auth.upstream!;
  if (!answer.ok) {
    host.log.info({ event: 'loginFailed', user: login, method }, 'POP3 login refused by the server');
    host.write(`${answer.text}\r\n`);
    return null;
  }
  const engine = host.runtime.engine;
  // The server's count first: until the POP3 session's own sync of the maildrop is done, Dovecot
  // may answer an IMAP STATUS of a mailbox it is indexing for the first time with UIDVALIDITY 0.
  // The deadline keeps a slow IMAP login or middleware from holding the login (mail never waits
  // for campaigns).
  const stat = await upstream.command('STAT');
  const campaign = engine ? await campaignViewFor(host.runtime, engine, credentials, login, host.origin, host.log, host.campaignDeadlineMs, host.connectionFacts()) : null;
  const count = /^\+OK (\d+) /.exec(stat.text);
  if (!stat.ok || !count) throw new Pop3UpstreamError(`STAT after login failed: ${stat.text.slice(0, 200)}`);
  const entries = campaign ? await entriesOf(campaign, upstream, host.log) : [];
  auth.upstream = null;
  host.log.info({ event: 'login', user: login, method, tls: host.secure, messages: Number(count[1]), campaignMessages: entries.length, injection: campaign !== null }, 'POP3 logged in');
  host.write(`${answer.text}\r\n`);
  return { upstream, maildrop: new Maildrop(Number(count[1]), entries), campaign, engine, origin: host.origin, reported: new Set() };
}

/** The view's messages as maildrop entries; one whose UIDL the server also uses is left out. */
async function entriesOf(campaign: CampaignView, upstream: Pop3Upstream, log: Logger): Promise<CampaignEntry[]> {
  const stateEpoch = campaign.view.stateEpoch ?? 0;
  let entries: CampaignEntry[] = campaign.view.messages.map((message) => ({
    uid: message.uid,
    uidl: campaignUidl(stateEpoch, campaign.key.serverUidValidity, message.uid),
    message: withCrlf(Buffer.from(message.rfc822, 'base64')),
    seen: message.flags.includes('\\Seen'),
  }));
  if (entries.length === 0 || !upstream.has('UIDL')) return entries;
  const ours = new Set(entries.map((entry) => entry.uidl));
  const taken = new Set<string>();
  await upstream.lines('UIDL', (line) => {
    const uidl = line.split(' ')[1];
    if (uidl !== undefined && ours.has(uidl)) taken.add(uidl);
  });
  if (taken.size > 0) {
    log.warn({ uidls: [...taken] }, 'POP3: the server uses a campaign message UIDL; that message is not shown');
    entries = entries.filter((entry) => !taken.has(entry.uidl));
  }
  return entries;
}
