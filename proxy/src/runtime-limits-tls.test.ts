// Configuration of the connection limits and TLS settings, read the way the process reads it
// (loadConfig from INLAY_* variables, then buildRuntime): values parsed once, bad ones stopped at
// start with a line that names the key.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@inlay/schemas';
import { buildRuntime } from './runtime.js';
import { clientTlsPolicy, upstreamTlsPolicy } from './server-tls.js';
import { UserAddressSessions } from './user-address-limit.js';

const silent = pino({ level: 'silent' });

function configFrom(env: Record<string, string>) {
  return loadConfig({ env: { INLAY_PROXY_ENGINE_URL: '', ...env } }).config;
}

function runtimeFrom(env: Record<string, string>) {
  return buildRuntime(configFrom(env), silent);
}

describe('limit settings', () => {
  it('reads exempt networks and the per-user-per-address limit from the environment', () => {
    const config = configFrom({
      INLAY_PROXY_LIMITS_EXEMPT_NETWORKS: '10.0.0.0/8, 192.0.2.7 ,2001:db8::/32',
      INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_USER_ADDRESS: '3',
    });
    expect(config.proxy.limits.exemptNetworks).toEqual(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
    expect(config.proxy.limits.maxConnectionsPerUserAddress).toBe(3);
  });

  it('defaults to no exempt networks and no per-user-per-address limit', () => {
    const config = configFrom({});
    expect(config.proxy.limits.exemptNetworks).toEqual([]);
    expect(config.proxy.limits.maxConnectionsPerUserAddress).toBe(0);
  });

  it('exempts trusted networks and exempt networks, and nobody else', () => {
    const runtime = runtimeFrom({ INLAY_PROXY_TRUSTED_NETWORKS: '127.0.0.2', INLAY_PROXY_LIMITS_EXEMPT_NETWORKS: '10.1.0.0/16,2001:db8::/32' });
    expect(runtime.isExemptFromAddressLimit('127.0.0.2')).toBe(true);
    expect(runtime.isExemptFromAddressLimit('::ffff:10.1.200.3')).toBe(true);
    expect(runtime.isExemptFromAddressLimit('2001:db8::5')).toBe(true);
    expect(runtime.isExemptFromAddressLimit('127.0.0.1')).toBe(false);
    expect(runtime.isExemptFromAddressLimit('10.2.0.1')).toBe(false);
    // Exempt is not trusted: an exempt client's IMAP ID forwarding fields are still ignored.
    expect(runtime.isTrusted('10.1.0.1')).toBe(false);
  });

  it('stops start-up on a bad CIDR, naming the key and the entry', () => {
    expect(() => runtimeFrom({ INLAY_PROXY_LIMITS_EXEMPT_NETWORKS: '10.0.0.0/8,10.0.0.0/33' })).toThrow(
      /proxy\.limits\.exemptNetworks \(INLAY_PROXY_LIMITS_EXEMPT_NETWORKS\): "10\.0\.0\.0\/33" is not an address or CIDR network/,
    );
    expect(() => runtimeFrom({ INLAY_PROXY_LIMITS_EXEMPT_NETWORKS: 'webmail.example.com' })).toThrow(/"webmail\.example\.com" is not an address/);
    expect(() => runtimeFrom({ INLAY_PROXY_TRUSTED_NETWORKS: '300.1.1.1' })).toThrow(/proxy\.trustedNetworks: "300\.1\.1\.1"/);
  });

  it('refuses a negative per-user-per-address limit with the key named', () => {
    expect(() => configFrom({ INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_USER_ADDRESS: '-1' })).toThrow(ConfigError);
    expect(() => configFrom({ INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_USER_ADDRESS: '-1' })).toThrow(/proxy\.limits\.maxConnectionsPerUserAddress/);
  });
});

describe('sessions per user and address', () => {
  it('admits up to the limit per pair, and one more when a session ends', () => {
    const sessions = new UserAddressSessions(2);
    const first = sessions.admit('alice', '192.0.2.1')!;
    expect(sessions.admit('Alice', '192.0.2.1')).not.toBeNull();
    expect(sessions.admit('ALICE', '192.0.2.1')).toBeNull();
    expect(sessions.admit('alice', '::ffff:192.0.2.1')).toBeNull();
    // Another address or another user is another pair.
    expect(sessions.admit('alice', '192.0.2.2')).not.toBeNull();
    expect(sessions.admit('bob', '192.0.2.1')).not.toBeNull();
    first.release();
    first.release();
    expect(sessions.count('alice', '192.0.2.1')).toBe(1);
    expect(sessions.admit('alice', '192.0.2.1')).not.toBeNull();
    expect(sessions.admit('alice', '192.0.2.1')).toBeNull();
  });

  it('keeps no count for a pair whose sessions all ended', () => {
    const sessions = new UserAddressSessions(5);
    const leases = [sessions.admit('u', '198.51.100.1')!, sessions.admit('u', '198.51.100.1')!];
    for (const lease of leases) lease.release();
    expect(sessions.pairs).toBe(0);
  });

  it('counts nothing when the limit is 0', () => {
    const sessions = new UserAddressSessions(0);
    for (let i = 0; i < 100; i++) expect(sessions.admit('u', '198.51.100.1')).not.toBeNull();
    expect(sessions.pairs).toBe(0);
  });
});

describe('TLS settings', () => {
  it('reads the minimum version and cipher list of both sides from the environment', () => {
    const config = configFrom({
      INLAY_TLS_MIN_VERSION: 'TLSv1.3',
      INLAY_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384',
      INLAY_UPSTREAM_TLS_MIN_VERSION: 'TLSv1.3',
      INLAY_UPSTREAM_TLS_CIPHERS: 'TLS_CHACHA20_POLY1305_SHA256',
    });
    expect(clientTlsPolicy(config)).toEqual({ minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384' });
    expect(upstreamTlsPolicy(config)).toEqual({ minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' });
  });

  it('defaults to TLS 1.2 and Node\'s cipher list on both sides', () => {
    const config = configFrom({});
    expect(clientTlsPolicy(config)).toEqual({ minVersion: 'TLSv1.2', ciphers: undefined });
    expect(upstreamTlsPolicy(config)).toEqual({ minVersion: 'TLSv1.2', ciphers: undefined });
  });

  it('refuses versions below 1.2 or unknown, naming the key and the choices', () => {
    expect(() => configFrom({ INLAY_TLS_MIN_VERSION: 'TLSv1.1' })).toThrow(/tlsMinVersion must be one of: "TLSv1\.2", "TLSv1\.3"/);
    expect(() => configFrom({ INLAY_UPSTREAM_TLS_MIN_VERSION: '1.3' })).toThrow(/upstreamTls\.minVersion must be one of/);
  });

  it('stops start-up on a cipher list OpenSSL matches nothing of, on either side', () => {
    expect(() => runtimeFrom({ INLAY_TLS_CIPHERS: 'NO-SUCH-CIPHER' })).toThrow(/tlsCiphers \(INLAY_TLS_CIPHERS\) "NO-SUCH-CIPHER" cannot be used: .*no cipher match/);
    expect(() => runtimeFrom({ INLAY_UPSTREAM_TLS_CIPHERS: 'TLS_NOPE' })).toThrow(/upstreamTls\.ciphers \(INLAY_UPSTREAM_TLS_CIPHERS\) "TLS_NOPE" cannot be used/);
    expect(() => configFrom({ INLAY_TLS_CIPHERS: 'AES256;rm -rf' })).toThrow(/tlsCiphers has the wrong form: an OpenSSL cipher list/);
  });
});
