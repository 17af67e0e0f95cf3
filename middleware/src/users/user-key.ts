/**
 * How a tenant knows its users: by the normalized address (trimmed, lower-cased), or — when the
 * tenant has `configuration.hashedEmailAddresses` on — by hex(HMAC-SHA256(secretKey, normalized
 * address)). Imports, audience rules and the proxy's look-ups all go through `userKeyFor`, so one
 * address always maps to one key.
 *
 * Must never log or return the secret key, and must never store a plain address for a tenant
 * that hashes them.
 */
import { createHmac } from 'node:crypto';
import type { Tenant } from '@inlay/schemas';

/** RFC 5321 caps a forward path at 256 octets; 320 (64 local + @ + 255 domain) is the classic
 *  bound applications use. Anything longer is not an address. */
export const MAX_ADDRESS_LENGTH = 320;

/** Lower-cased hex of HMAC-SHA256: 64 characters. */
const HASHED_ADDRESS_PATTERN = /^[0-9a-f]{64}$/;

/** Trimmed and lower-cased (Unicode-aware `toLowerCase`, as OX Engage does for its hashes). */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

/** hex(HMAC-SHA256(secretKey, normalizeAddress(address))), lowercase. */
export function hashAddress(secretKey: string, address: string): string {
  return createHmac('sha256', secretKey).update(normalizeAddress(address), 'utf8').digest('hex');
}

export type TenantHashing = Pick<Tenant, 'configuration'>;

/** The key the tenant's users are stored and looked up by. */
export function userKeyFor(tenant: TenantHashing, address: string): string {
  return tenant.configuration.hashedEmailAddresses ? hashAddress(tenant.configuration.secretKey, address) : normalizeAddress(address);
}

/** Why a normalized address is unusable, or undefined when it is fine. Deliberately loose: one
 *  "@" with something on both sides, no whitespace or control characters, bounded length. */
export function addressProblem(normalized: string): string | undefined {
  if (normalized.length === 0) return 'the address is empty';
  if (normalized.length > MAX_ADDRESS_LENGTH) return `the address is longer than ${MAX_ADDRESS_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/u.test(normalized)) return 'the address contains whitespace or control characters';
  const at = normalized.lastIndexOf('@');
  if (at <= 0 || at === normalized.length - 1) return 'the address has no local part and domain around "@"';
  return undefined;
}

/** Why a given hashed address is unusable for this tenant, or undefined when it is fine. */
export function hashedAddressProblem(tenant: TenantHashing, hashed: string): string | undefined {
  if (!tenant.configuration.hashedEmailAddresses) return 'the tenant does not hash addresses (hashedEmailAddresses is false): give "address" instead';
  if (!HASHED_ADDRESS_PATTERN.test(hashed.trim().toLowerCase())) return 'a hashed address is 64 hexadecimal characters (HMAC-SHA256)';
  return undefined;
}
