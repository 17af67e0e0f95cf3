/**
 * The TRANSACTION state (RFC 1939 §5) over the merged maildrop: a command about a real message
 * goes upstream under the same number and its answer comes back unchanged; one about a campaign
 * message is answered from the view; listings are the server's with the campaign lines added at
 * the end. RETR of a campaign message reports `read`; DELE of one is held until QUIT (RSET
 * undoes it), which reports `expunged` after the server committed its own deletions.
 *
 * Must never send a campaign message's number upstream, and never answer QUIT +OK while a
 * campaign deletion is unconfirmed.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { EventOrigin } from '@inlay/schemas';
import type { EngineClient } from '../engine-client.js';
import { POP3_ERRORS, type Pop3ErrorDefinition } from '../errors.js';
import type { CampaignView } from './campaign-view.js';
import { lineCountOf, messageNumberOf, type Pop3Command } from './command-line.js';
import type { CampaignEntry, Maildrop } from './maildrop.js';
import { retrPayload, topPayload } from './multiline.js';
import type { Pop3Upstream } from './upstream.js';

export interface Transaction {
  readonly upstream: Pop3Upstream;
  readonly maildrop: Maildrop;
  /** Null when the session shows mail only (engine off, down or slow at login). */
  readonly campaign: CampaignView | null;
  readonly engine: EngineClient | null;
  readonly origin: EventOrigin;
  /** Campaign UIDs whose `read` was reported by this session. */
  readonly reported: Set<number>;
}

/** What a transaction command needs of its session. */
export interface TransactionHost {
  readonly client: Socket;
  readonly log: Logger;
  write(text: string | Buffer): void;
  fail(error: Pop3ErrorDefinition, detail?: string): void;
}

type Handler = (host: TransactionHost, tx: Transaction, command: Pop3Command) => Promise<void>;

/** Where a message-number argument leads: a real message, a campaign one, or an answer already given. */
type Target = { kind: 'real'; number: number } | { kind: 'campaign'; number: number; entry: CampaignEntry } | { kind: 'answered' };

function target(host: TransactionHost, tx: Transaction, arg: string | undefined): Target {
  const number = messageNumberOf(arg);
  if (number === null) {
    host.fail(arg === undefined ? POP3_ERRORS.badArguments : POP3_ERRORS.noSuchMessage);
    return { kind: 'answered' };
  }
  const found = tx.maildrop.lookup(number);
  switch (found.kind) {
    case 'real':
      return { kind: 'real', number: found.serverNumber };
    case 'campaign':
      return { kind: 'campaign', number, entry: found.entry };
    case 'deleted':
      host.fail(POP3_ERRORS.messageDeleted);
      return { kind: 'answered' };
    case 'none':
      host.fail(POP3_ERRORS.noSuchMessage);
      return { kind: 'answered' };
    default: {
      const unknown: never = found;
      throw new Error(`unknown lookup ${String(unknown)}`);
    }
  }
}

const stat: Handler = async (host, tx) => {
  const answer = await tx.upstream.command('STAT');
  const figures = /^\+OK (\d+) (\d+)/.exec(answer.text);
  if (!answer.ok || !figures) {
    host.write(`${answer.text}\r\n`);
    return;
  }
  const { count, octets } = tx.maildrop.stat(Number(figures[1]), Number(figures[2]));
  host.write(`+OK ${count} ${octets}\r\n`);
};

/** LIST and UIDL: one line per message, the campaign's after the server's. */
function listing(keyword: 'LIST' | 'UIDL', campaignValue: (entry: CampaignEntry) => string): Handler {
  return async (host, tx, command) => {
    if (command.args.length > 1) return host.fail(POP3_ERRORS.badArguments);
    if (command.args.length === 1) {
      const found = target(host, tx, command.args[0]);
      if (found.kind === 'real') host.write(`${(await tx.upstream.command(`${keyword} ${found.number}`)).text}\r\n`);
      if (found.kind === 'campaign') host.write(`+OK ${found.number} ${campaignValue(found.entry)}\r\n`);
      return;
    }
    const extra = tx.maildrop.visibleCampaign();
    if (extra.length === 0) {
      const answer = await tx.upstream.relay(keyword, host.client);
      if (!answer.ok) host.write(`${answer.text}\r\n`);
      return;
    }
    // The server's status line may count its messages; the listing then holds more.
    const answer = await tx.upstream.relay(keyword, host.client, { keepEnd: true, ownStatus: `+OK ${keyword === 'LIST' ? 'scan' : 'unique-id'} listing follows\r\n` });
    if (!answer.ok) {
      host.write(`${answer.text}\r\n`);
      return;
    }
    host.write(`${extra.map(({ number, entry }) => `${number} ${campaignValue(entry)}\r\n`).join('')}.\r\n`);
  };
}

const retr: Handler = async (host, tx, command) => {
  if (command.args.length !== 1) return host.fail(POP3_ERRORS.badArguments);
  const found = target(host, tx, command.args[0]);
  if (found.kind === 'real') {
    const answer = await tx.upstream.relay(`RETR ${found.number}`, host.client);
    if (!answer.ok) host.write(`${answer.text}\r\n`);
  }
  if (found.kind !== 'campaign') return;
  host.write(`+OK ${found.entry.message.length} octets\r\n`);
  host.write(retrPayload(found.entry.message));
  reportRead(host, tx, found.entry);
};

/** `read`, as \Seen on the view message (what an IMAP client's FETCH BODY[] causes). Sent once
 *  per session and not awaited: the message was delivered whatever the middleware says. */
function reportRead(host: TransactionHost, tx: Transaction, entry: CampaignEntry): void {
  if (entry.seen || tx.reported.has(entry.uid) || !tx.engine || !tx.campaign) return;
  tx.reported.add(entry.uid);
  void tx.engine.flags({ ...tx.campaign.key, changes: [{ uid: entry.uid, mode: 'add', flags: ['\\Seen'] }], origin: tx.origin }).then((view) => {
    if (view === undefined) host.log.warn({ uid: entry.uid }, 'POP3: read of a campaign message not recorded (the middleware did not answer)');
  });
}

const top: Handler = async (host, tx, command) => {
  const lines = lineCountOf(command.args[1]);
  if (command.args.length !== 2 || lines === null) return host.fail(POP3_ERRORS.badArguments);
  const found = target(host, tx, command.args[0]);
  if (found.kind === 'real') {
    const answer = await tx.upstream.relay(`TOP ${found.number} ${lines}`, host.client);
    if (!answer.ok) host.write(`${answer.text}\r\n`);
  }
  if (found.kind !== 'campaign') return;
  host.write('+OK\r\n');
  host.write(topPayload(found.entry.message, lines));
};

const dele: Handler = async (host, tx, command) => {
  if (command.args.length !== 1) return host.fail(POP3_ERRORS.badArguments);
  const found = target(host, tx, command.args[0]);
  if (found.kind === 'real') host.write(`${(await tx.upstream.command(`DELE ${found.number}`)).text}\r\n`);
  if (found.kind !== 'campaign') return;
  tx.maildrop.markDeleted(found.entry);
  host.write(`+OK Marked to be deleted.\r\n`);
};

const rset: Handler = async (host, tx) => {
  const answer = await tx.upstream.command('RSET');
  if (answer.ok) tx.maildrop.reset();
  host.write(`${answer.text}\r\n`);
};

const noop: Handler = async (host, tx) => {
  host.write(`${(await tx.upstream.command('NOOP')).text}\r\n`);
};

/**
 * QUIT (UPDATE state): the server commits its deletions first; then the campaign deletions are
 * reported. A deletion the middleware did not confirm makes the answer -ERR (RFC 1939 §6: "some
 * deleted messages not removed"); the client keeps the message and may delete it again.
 */
export async function quitTransaction(host: TransactionHost, tx: Transaction): Promise<void> {
  const answer = await tx.upstream.command('QUIT');
  tx.upstream.close();
  const uids = tx.maildrop.deletedUids();
  if (!answer.ok || uids.length === 0 || !tx.campaign || !tx.engine) {
    host.write(`${answer.text}\r\n`);
    return;
  }
  const view = await tx.engine.expunge({ ...tx.campaign.key, uids, origin: tx.origin });
  if (view === undefined) {
    host.log.warn({ code: POP3_ERRORS.campaignDeleteUnconfirmed.code, uids }, 'POP3: deletion of campaign messages not confirmed by the middleware');
    host.fail(POP3_ERRORS.campaignDeleteUnconfirmed);
    return;
  }
  host.log.info({ event: 'pop3Expunged', uids }, 'POP3: campaign messages deleted');
  host.write(`${answer.text}\r\n`);
}

/** The commands of the TRANSACTION state but QUIT and CAPA, which the session answers. */
export const TRANSACTION_COMMANDS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['STAT', stat],
  ['LIST', listing('LIST', (entry) => String(entry.message.length))],
  ['UIDL', listing('UIDL', (entry) => entry.uidl)],
  ['RETR', retr],
  ['TOP', top],
  ['DELE', dele],
  ['RSET', rset],
  ['NOOP', noop],
]);
