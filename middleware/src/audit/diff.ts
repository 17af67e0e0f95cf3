/**
 * What changed between two states of an audited target: the leaves that differ, each with its
 * path (`dataSources[id=main].awsConnectionInformation.bucket`) and both sides, secrets masked.
 * The comparison runs on the unmasked values, so a changed secret shows as a change (masked on
 * both sides) and an unchanged one does not. Pure.
 *
 * Lists of objects with an `id` (data sources, conversion points, variants) are matched by id,
 * so removing the first one is one change, not one per item that moved up.
 */
import { MAX_MASK_DEPTH, SECRET_MASK, isSecretField, maskSecrets } from './mask.js';

export interface AuditChange {
  readonly path: string;
  /** Absent: the leaf did not exist before. */
  readonly before?: unknown;
  /** Absent: the leaf does not exist after. */
  readonly after?: unknown;
}

/** Changes beyond this many are summarised as one change of the whole target: a diff is for
 *  reading, and before/after carry everything anyway. */
export const MAX_DIFF_CHANGES = 200;

type Json = unknown;

const isObject = (value: Json): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
const hasIds = (list: readonly Json[]): boolean => list.every((item) => isObject(item) && typeof item['id'] === 'string') && new Set(list.map((item) => (item as { id: string }).id)).size === list.length;
const normalised = (value: Json): Json => (value instanceof Date ? value.toISOString() : value);

export function diffStates(before: Json, after: Json): AuditChange[] {
  const changes: AuditChange[] = [];
  walk(before ?? undefined, after ?? undefined, '', false, 0, changes);
  if (changes.length > MAX_DIFF_CHANGES) return [side('', false, before ?? undefined, after ?? undefined)];
  return changes;
}

function side(path: string, secret: boolean, before: Json, after: Json): AuditChange {
  const mask = (value: Json): Json => (secret ? (value === null ? null : SECRET_MASK) : maskSecrets(value));
  return { path, ...(before === undefined ? {} : { before: mask(before) }), ...(after === undefined ? {} : { after: mask(after) }) };
}

function walk(before: Json, after: Json, path: string, secret: boolean, depth: number, changes: AuditChange[]): void {
  before = normalised(before);
  after = normalised(after);
  if (before === after) return;
  if (depth >= MAX_MASK_DEPTH || changes.length > MAX_DIFF_CHANGES) {
    if (JSON.stringify(before) !== JSON.stringify(after)) changes.push(side(path, secret, before, after));
    return;
  }
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) walk(before[key], after[key], path === '' ? key : `${path}.${key}`, secret || isSecretField(key), depth + 1, changes);
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (hasIds(before) && hasIds(after)) {
      const byId = (list: readonly Json[]) => new Map(list.map((item) => [(item as { id: string }).id, item]));
      const left = byId(before);
      const right = byId(after);
      for (const id of new Set([...left.keys(), ...right.keys()])) walk(left.get(id), right.get(id), `${path}[id=${id}]`, secret, depth + 1, changes);
      return;
    }
    const length = Math.max(before.length, after.length);
    for (let index = 0; index < length; index++) walk(before[index], after[index], `${path}[${index}]`, secret, depth + 1, changes);
    return;
  }
  changes.push(side(path, secret, before, after));
}
