/**
 * Turns one raw import row into a user for the store, or says why it cannot: the address is
 * normalized and hashed per the tenant (users/user-key.ts), a given hashed address is accepted
 * only from a tenant that hashes, attributes are bounded strings.
 *
 * CSV: columns `address` or `hashedAddress`, optional `displayName`, every other column an
 * attribute (empty cells are left out, so they do not blank a stored value). What each column is
 * — and whether its name is a valid attribute name — is worked out once per header (CsvPlan), not
 * per row. JSON lines: `{"address"|"hashedAddress", "displayName"?, "attributes"?:
 * {name: string|number|boolean}}`.
 *
 * Per row there is no regular expression on the common path: checks are character scans, and
 * only a value that a scan finds unusual goes to the shared rule in user-key.ts.
 *
 * Must never keep a plain address for a tenant that hashes them.
 */
import type { UserUpsert } from '../store/store.js';
import { MAX_ADDRESS_LENGTH, addressProblem, hashedAddressProblem, normalizeAddress, userKeyFor, type TenantHashing } from '../users/user-key.js';
import type { CsvRow, JsonRow, RawRow } from './row-reader.js';

/** Bounds that keep one user row small in the users table and in audience checks. */
export const MAX_ATTRIBUTES = 100;
export const MAX_ATTRIBUTE_NAME_LENGTH = 64;
export const MAX_ATTRIBUTE_VALUE_LENGTH = 4096;
export const MAX_DISPLAY_NAME_LENGTH = 256;

const RESERVED_CSV_COLUMNS = new Set(['address', 'hashedAddress', 'displayName']);
const JSONL_FIELDS = new Set(['address', 'hashedAddress', 'displayName', 'attributes']);
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export type MappedRow = { kind: 'user'; user: UserUpsert } | { kind: 'problem'; reason: string };

const problem = (reason: string): MappedRow => ({ kind: 'problem', reason });

/** What the columns of one CSV header mean; -1: the column is not there. */
interface CsvPlan {
  readonly header: readonly string[];
  readonly address: number;
  readonly hashedAddress: number;
  readonly displayName: number;
  readonly attributes: readonly { readonly index: number; readonly name: string; readonly validName: boolean }[];
}

function planFor(header: readonly string[]): CsvPlan {
  return {
    header,
    address: header.indexOf('address'),
    hashedAddress: header.indexOf('hashedAddress'),
    displayName: header.indexOf('displayName'),
    attributes: header.flatMap((name, index) => (RESERVED_CSV_COLUMNS.has(name) ? [] : [{ index, name, validName: ATTRIBUTE_NAME.test(name) }])),
  };
}

/** Maps the rows of one import; keeps the plan of the last CSV header it saw. */
export class RowMapper {
  private plan: CsvPlan | undefined;

  constructor(private readonly tenant: TenantHashing) {}

  map(row: RawRow): MappedRow {
    switch (row.kind) {
      case 'csv':
        return this.mapCsv(row);
      case 'json':
        return mapJson(this.tenant, row);
    }
  }

  private mapCsv(row: CsvRow): MappedRow {
    if (this.plan?.header !== row.header) this.plan = planFor(row.header);
    const plan = this.plan;
    const values = row.values;
    const key = userKey(this.tenant, plan.address === -1 ? undefined : nonEmpty(values[plan.address]), plan.hashedAddress === -1 ? undefined : nonEmpty(values[plan.hashedAddress]));
    if (typeof key !== 'string') return key;
    const displayName = plan.displayName === -1 ? undefined : nonEmpty(values[plan.displayName]);
    if (displayName !== undefined) {
      const why = displayNameProblem(displayName);
      if (why !== undefined) return problem(why);
    }
    const attributes: Record<string, string> = {};
    let count = 0;
    for (const column of plan.attributes) {
      const value = values[column.index];
      if (value === undefined || value === '') continue;
      if (!column.validName) return problem(`attribute names are 1 to ${MAX_ATTRIBUTE_NAME_LENGTH} of A-Z a-z 0-9 _ . -`);
      const why = attributeValueProblem(column.name, value);
      if (why !== undefined) return problem(why);
      if (++count > MAX_ATTRIBUTES) return problem(`more than ${MAX_ATTRIBUTES} attributes`);
      attributes[column.name] = value;
    }
    return { kind: 'user', user: displayName === undefined ? { userKey: key, attributes } : { userKey: key, displayName, attributes } };
  }
}

/** One row without a RowMapper (tests, one-offs). */
export function mapRow(tenant: TenantHashing, row: RawRow): MappedRow {
  return new RowMapper(tenant).map(row);
}

function mapJson(tenant: TenantHashing, row: JsonRow): MappedRow {
  const fields = row.fields;
  const unknown = Object.keys(fields).find((name) => !JSONL_FIELDS.has(name));
  if (unknown !== undefined) return problem(`unknown field "${unknown.slice(0, 64)}" (allowed: address, hashedAddress, displayName, attributes)`);
  const address = emptyToUndefined(fields['address']);
  const hashed = emptyToUndefined(fields['hashedAddress']);
  const key = userKey(tenant, address, hashed);
  if (typeof key !== 'string') return key;

  const displayName = emptyToUndefined(fields['displayName']);
  if (displayName !== undefined) {
    if (typeof displayName !== 'string') return problem('displayName must be a string');
    const why = displayNameProblem(displayName);
    if (why !== undefined) return problem(why);
  }
  const given = fields['attributes'];
  if (given !== undefined && given !== null && (typeof given !== 'object' || Array.isArray(given))) return problem('attributes must be a JSON object');
  const attributes: Record<string, string> = {};
  let count = 0;
  for (const [name, value] of Object.entries((given ?? {}) as Record<string, unknown>)) {
    if (value === undefined || value === '') continue;
    if (!ATTRIBUTE_NAME.test(name)) return problem(`attribute names are 1 to ${MAX_ATTRIBUTE_NAME_LENGTH} of A-Z a-z 0-9 _ . -`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return problem(`attribute "${name}" must be a string, number or boolean`);
    const text = String(value);
    const why = attributeValueProblem(name, text);
    if (why !== undefined) return problem(why);
    if (++count > MAX_ATTRIBUTES) return problem(`more than ${MAX_ATTRIBUTES} attributes`);
    attributes[name] = text;
  }
  return { kind: 'user', user: displayName === undefined ? { userKey: key, attributes } : { userKey: key, displayName, attributes } };
}

/** The user key from an address or a given hashed address (each already non-empty or absent). */
function userKey(tenant: TenantHashing, address: unknown, hashed: unknown): string | MappedRow {
  if (address !== undefined && hashed !== undefined) return problem('the row has both address and hashedAddress; give one');
  if (address !== undefined) {
    if (typeof address !== 'string') return problem('address must be a string');
    const normalized = normalizeAddress(address);
    const why = plainAsciiAddress(normalized) ? undefined : addressProblem(normalized);
    if (why !== undefined) return problem(why);
    return tenant.configuration.hashedEmailAddresses ? userKeyFor(tenant, address) : normalized;
  }
  if (hashed !== undefined) {
    if (typeof hashed !== 'string') return problem('hashedAddress must be a string');
    const why = hashedAddressProblem(tenant, hashed);
    if (why) return problem(why);
    return hashed.trim().toLowerCase();
  }
  return problem('the row has neither address nor hashedAddress');
}

/**
 * True when a normalized address passes addressProblem, decided by one scan: printable ASCII
 * only (no space, control or non-ASCII character, where the Unicode whitespace rule would need
 * the regular expression), within the length bound, with "@" between a local part and a domain.
 * False means "ask addressProblem", not "bad".
 */
function plainAsciiAddress(address: string): boolean {
  const length = address.length;
  if (length === 0 || length > MAX_ADDRESS_LENGTH) return false;
  let at = -1;
  for (let index = 0; index < length; index++) {
    const code = address.charCodeAt(index);
    if (code <= 0x20 || code >= 0x7f) return false;
    if (code === 0x40) at = index;
  }
  return at > 0 && at < length - 1;
}

function displayNameProblem(displayName: string): string | undefined {
  if (displayName.length > MAX_DISPLAY_NAME_LENGTH) return `displayName is longer than ${MAX_DISPLAY_NAME_LENGTH} characters`;
  if (hasControl(displayName, true)) return 'displayName contains control characters or line breaks';
  return undefined;
}

function attributeValueProblem(name: string, value: string): string | undefined {
  if (value.length > MAX_ATTRIBUTE_VALUE_LENGTH) return `attribute "${name}" is longer than ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`;
  if (hasControl(value, false)) return `attribute "${name}" contains control characters`;
  return undefined;
}

/** C0 controls other than tab, and DEL; line breaks count only when `lineBreaksToo` (a display
 *  name is one line; an attribute value may have several). */
function hasControl(text: string, lineBreaksToo: boolean): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20) {
      if (code === 0x09 || (!lineBreaksToo && (code === 0x0a || code === 0x0d))) continue;
      return true;
    }
    if (code === 0x7f) return true;
  }
  return false;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || isBlank(value) ? undefined : value;
}

/** What String.prototype.trim() would empty, without making the trimmed copy. */
function isBlank(value: string): boolean {
  if (value.length === 0) return true;
  const first = value.charCodeAt(0);
  // Fast answer for the usual field that starts with a visible ASCII character.
  if (first > 0x20 && first < 0x7f) return false;
  return value.trim() === '';
}

function emptyToUndefined(value: unknown): unknown {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '') ? undefined : value;
}
