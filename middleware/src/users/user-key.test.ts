import { describe, expect, test } from 'vitest';
import { addressProblem, hashAddress, hashedAddressProblem, normalizeAddress, userKeyFor } from './user-key.js';

const hashing = { configuration: { secretKey: 'tenant-secret', hashedEmailAddresses: true } };
const plain = { configuration: { secretKey: 'tenant-secret', hashedEmailAddresses: false } };

describe('userKeyFor', () => {
  test('hashes the trimmed, lower-cased address with HMAC-SHA256, lowercase hex', () => {
    // printf '%s' 'alice@example.org' | openssl dgst -sha256 -hmac 'tenant-secret'
    const expected = '6133ba5c5a525b0e377c051bbf069f61cc8009eb5a6fec90feed1ea730f1d3de';
    expect(userKeyFor(hashing, 'alice@example.org')).toBe(expected);
    expect(userKeyFor(hashing, '  Alice@Example.ORG\t')).toBe(expected);
  });

  test('hashes UTF-8 bytes of non-ASCII addresses', () => {
    // printf '%s' 'bjørn@exämple.org' | openssl dgst -sha256 -hmac 'k'
    expect(hashAddress('k', 'BJØRN@EXÄMPLE.ORG')).toBe('b2c8d171664bf4eb9256b8096e5558a8a481acc92ac6246e892df532baa014c3');
  });

  test('without hashing the key is the normalized address', () => {
    expect(userKeyFor(plain, ' Bob@Example.org ')).toBe('bob@example.org');
    expect(normalizeAddress('X@Y')).toBe('x@y');
  });
});

describe('address checks', () => {
  test.each([
    ['', 'empty'],
    ['no-at-sign', 'local part'],
    ['@example.org', 'local part'],
    ['user@', 'local part'],
    ['a b@example.org', 'whitespace'],
    [`${'x'.repeat(320)}@e.org`, 'longer'],
  ])('%j is refused (%s)', (address, reason) => {
    expect(addressProblem(address)).toContain(reason);
  });

  test('a plain address passes', () => {
    expect(addressProblem('alice@example.org')).toBeUndefined();
  });

  test('hashed addresses need a hashing tenant and 64 hex characters', () => {
    const hash = '6133ba5c5a525b0e377c051bbf069f61cc8009eb5a6fec90feed1ea730f1d3de';
    expect(hashedAddressProblem(hashing, hash)).toBeUndefined();
    expect(hashedAddressProblem(hashing, hash.toUpperCase())).toBeUndefined();
    expect(hashedAddressProblem(hashing, 'abc')).toContain('64 hexadecimal');
    expect(hashedAddressProblem(plain, hash)).toContain('does not hash');
  });
});
