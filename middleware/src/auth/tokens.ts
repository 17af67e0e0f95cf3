/**
 * Bearer tokens: how tenant tokens are made and recognised, and how a presented token is compared
 * with the admin token. Only SHA-256 hashes of tenant tokens are ever stored; a token is shown to
 * its owner once, when created.
 *
 * Comparisons of secrets run in constant time (`timingSafeEqual` over equal-length hashes). The
 * store lookup by hash needs no such care: an attacker does not control the hash of a guess
 * closely enough for the timing of a key lookup to reveal anything. Must never log a token.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export const TENANT_TOKEN_PREFIX = 'inlay_t_';
export const ADMIN_TOKEN_PREFIX = 'inlay_a_';
/** 256 bits: far beyond guessing, and the same strength as the SHA-256 that stores it. */
const TOKEN_RANDOM_BYTES = 32;

export interface NewTenantToken {
  readonly tokenId: string;
  /** The bearer token; returned to the client once, never stored. */
  readonly token: string;
  readonly tokenHash: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateTenantToken(): NewTenantToken {
  const token = `${TENANT_TOKEN_PREFIX}${randomBytes(TOKEN_RANDOM_BYTES).toString('base64url')}`;
  return { tokenId: randomUUID(), token, tokenHash: hashToken(token) };
}

export function generateAdminToken(): string {
  return `${ADMIN_TOKEN_PREFIX}${randomBytes(TOKEN_RANDOM_BYTES).toString('base64url')}`;
}

/** Constant-time equality of two lowercase hex SHA-256 digests. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
}

/** Returns a test for "is this the configured token?" (the admin token, the internal token) that
 *  holds only the token's hash. */
export function configuredTokenMatcher(configuredToken: string): (presented: string) => boolean {
  const expected = hashToken(configuredToken);
  return (presented) => hashesEqual(hashToken(presented), expected);
}
