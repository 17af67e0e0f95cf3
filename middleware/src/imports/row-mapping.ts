/**
 * Turns one raw import row into a user for the store, or says why it cannot: the address is
 * normalized and hashed per the tenant (users/user-key.ts), a given hashed address is accepted
 * only from a tenant that hashes, attributes are bounded strings.
 *
 * CSV: columns `address` or `hashedAddress`, optional `displayName`, every other column an
 * attribute (empty cells are left out, so they do not blank a stored value). JSON lines:
 * `{"address"|"hashedAddress", "displayName"?, "attributes"?: {name: string|number|boolean}}`.
 * Must never keep a plain address for a tenant that hashes them.
 */
import type { ImportFormat, UserUpsert } from '../store/store.js';
import { addressProblem, hashedAddressProblem, normalizeAddress, userKeyFor, type TenantHashing } from '../users/user-key.js';
import type { RawRow } from './row-reader.js';

/** Bounds that keep one user row small in the users table and in audience checks. */
export const MAX_ATTRIBUTES = 100;
export const MAX_ATTRIBUTE_NAME_LENGTH = 64;
export const MAX_ATTRIBUTE_VALUE_LENGTH = 4096;
export const MAX_DISPLAY_NAME_LENGTH = 256;

const RESERVED_CSV_COLUMNS = new Set(['address', 'hashedAddress', 'displayName']);
const JSONL_FIELDS = new Set(['address', 'hashedAddress', 'displayName', 'attributes']);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export type MappedRow = { kind: 'user'; user: UserUpsert } | { kind: 'problem'; reason: string };

const problem = (reason: string): MappedRow => ({ kind: 'problem', reason });

export function mapRow(tenant: TenantHashing, format: ImportFormat, row: RawRow): MappedRow {
  const fields = row.fields;
  if (format === 'jsonl') {
    const unknown = Object.keys(fields).find((name) => !JSONL_FIELDS.has(name));
    if (unknown !== undefined) return problem(`unknown field "${unknown.slice(0, 64)}" (allowed: address, hashedAddress, displayName, attributes)`);
  }
  const address = emptyToUndefined(fields['address']);
  const hashed = emptyToUndefined(fields['hashedAddress']);
  if (address !== undefined && hashed !== undefined) return problem('the row has both address and hashedAddress; give one');
  if (address === undefined && hashed === undefined) return problem('the row has neither address nor hashedAddress');

  let userKey: string;
  if (address !== undefined) {
    if (typeof address !== 'string') return problem('address must be a string');
    const why = addressProblem(normalizeAddress(address));
    if (why) return problem(why);
    userKey = userKeyFor(tenant, address);
  } else {
    if (typeof hashed !== 'string') return problem('hashedAddress must be a string');
    const why = hashedAddressProblem(tenant, hashed);
    if (why) return problem(why);
    userKey = hashed.trim().toLowerCase();
  }

  const displayName = emptyToUndefined(fields['displayName']);
  if (displayName !== undefined) {
    if (typeof displayName !== 'string') return problem('displayName must be a string');
    if (displayName.length > MAX_DISPLAY_NAME_LENGTH) return problem(`displayName is longer than ${MAX_DISPLAY_NAME_LENGTH} characters`);
    if (CONTROL.test(displayName) || /[\r\n]/.test(displayName)) return problem('displayName contains control characters or line breaks');
  }

  const attributes: Record<string, string> = {};
  const given = format === 'csv' ? Object.entries(fields).filter(([name]) => !RESERVED_CSV_COLUMNS.has(name)) : attributeEntries(fields['attributes']);
  if (!Array.isArray(given)) return given;
  let count = 0;
  for (const [name, value] of given) {
    if (value === undefined || value === '') continue;
    if (!ATTRIBUTE_NAME.test(name)) return problem(`attribute names are 1 to ${MAX_ATTRIBUTE_NAME_LENGTH} of A-Z a-z 0-9 _ . -`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return problem(`attribute "${name}" must be a string, number or boolean`);
    const text = String(value);
    if (text.length > MAX_ATTRIBUTE_VALUE_LENGTH) return problem(`attribute "${name}" is longer than ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`);
    if (CONTROL.test(text)) return problem(`attribute "${name}" contains control characters`);
    if (++count > MAX_ATTRIBUTES) return problem(`more than ${MAX_ATTRIBUTES} attributes`);
    attributes[name] = text;
  }
  return { kind: 'user', user: { userKey, attributes, ...(displayName === undefined ? {} : { displayName }) } };
}

function emptyToUndefined(value: unknown): unknown {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '') ? undefined : value;
}

function attributeEntries(value: unknown): [string, unknown][] | MappedRow {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) return problem('attributes must be a JSON object');
  return Object.entries(value as Record<string, unknown>);
}
