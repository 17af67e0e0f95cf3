/**
 * FETCH responses for virtual messages, item by item as Dovecot writes them for the same bytes
 * (message-model.ts, fetch-items.ts): the items in Dovecot's order, UID first for UID FETCH,
 * and the FLAGS a non-PEEK body fetch adds when it sets \Seen.
 *
 * Must never parse a message twice: one model per virtual message, kept while it is shown.
 */
import type { ShownVirtual } from './inbox-map.js';
import { dovecotResponseOrder, fetchSetsSeen, parseFetchItems, type FetchItem } from './fetch-items.js';
import { MessageModel } from './message-model.js';
import type { VirtualMessage } from '@inlay/schemas';

export interface VirtualFetchPlan {
  readonly items: readonly FetchItem[];
  readonly byUid: boolean;
  /** A body fetched without PEEK: \Seen is set (outside EXAMINE). */
  readonly setsSeen: boolean;
}

export class FetchItemsError extends Error {
  override readonly name = 'FetchItemsError';
}

const models = new WeakMap<VirtualMessage, MessageModel>();

export function modelOf(message: VirtualMessage): MessageModel {
  let model = models.get(message);
  if (!model) {
    model = MessageModel.parse(Buffer.from(message.rfc822, 'base64'));
    models.set(message, model);
  }
  return model;
}

export function parseVirtualFetch(itemsText: string, byUid: boolean): VirtualFetchPlan {
  const parsed = parseFetchItems(itemsText);
  if (!parsed.ok) throw new FetchItemsError(parsed.error);
  return { items: parsed.items, byUid, setsSeen: parsed.items.some(fetchSetsSeen) };
}

export function fetchFlagsLine(seq: number, uid: number, flags: readonly string[], withUid: boolean): Buffer {
  return Buffer.from(`* ${seq} FETCH (${withUid ? `UID ${uid} ` : ''}FLAGS (${flags.join(' ')}))\r\n`, 'latin1');
}

/** INTERNALDATE as IMAP writes it, in UTC: "22-Nov-2026 14:08:00 +0000". */
export function imapDate(iso: string): string {
  const date = new Date(iso);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${pad(date.getUTCDate())}-${months[date.getUTCMonth()]}-${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

/** One `* n FETCH (…)` response; `seenJustSet` adds FLAGS as a server does when it sets \Seen itself. */
export function virtualFetchResponse(seq: number, shown: ShownVirtual, plan: VirtualFetchPlan, seenJustSet: boolean): Buffer {
  const model = modelOf(shown.message);
  const requested = seenJustSet && !plan.items.some((item) => item.kind === 'flags') ? [...plan.items, { kind: 'flags' } as const] : plan.items;
  const parts: Buffer[] = [];
  for (const item of dovecotResponseOrder(requested, plan.byUid)) {
    const value = valueOf(item, shown, model);
    if (value === null) continue;
    if (parts.length > 0) parts.push(SPACE);
    parts.push(value);
  }
  return Buffer.concat([Buffer.from(`* ${seq} FETCH (`), ...parts, CLOSE]);
}

const SPACE = Buffer.from(' ');
const CLOSE = Buffer.from(')\r\n');

function valueOf(item: FetchItem, shown: ShownVirtual, model: MessageModel): Buffer | null {
  switch (item.kind) {
    case 'uid':
      return Buffer.from(`UID ${shown.message.uid}`);
    case 'flags':
      return Buffer.from(`FLAGS (${shown.flags.join(' ')})`, 'latin1');
    case 'internaldate':
      return Buffer.from(`INTERNALDATE "${imapDate(shown.message.internalDate)}"`);
    default:
      return model.fetchItem(item);
  }
}
