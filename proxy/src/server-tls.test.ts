// ServerTls on its own: what a reload accepts and refuses, with certificates made by the openssl
// command (a self-signed pair, another one, and one that expired in 2020, signed by `openssl ca`
// because `req -x509` cannot backdate). The real listeners are tested in
// test/integration/proxy-tls.test.ts.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerTls } from './server-tls.js';

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
let dir: string;
const pairs: Record<'first' | 'second' | 'expired', { cert: string; key: string }> = {} as never;
const policy = { minVersion: 'TLSv1.2', ciphers: undefined } as const;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'inlay-server-tls-'));
  for (const name of ['first', 'second'] as const) {
    openssl('req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
    pairs[name] = { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
  }
  writeFileSync(join(dir, 'ca.cnf'), '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  openssl('req', '-new', ...EC_KEY, '-keyout', 'expired.key', '-out', 'expired.csr', '-subj', '/CN=expired');
  openssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'first.crt', '-keyfile', 'first.key', '-in', 'expired.csr', '-out', 'expired.crt', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext');
  pairs.expired = { cert: readFileSync(join(dir, 'expired.crt'), 'utf8'), key: readFileSync(join(dir, 'expired.key'), 'utf8') };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const certFile = (): string => join(dir, 'live.crt');
const keyFile = (): string => join(dir, 'live.key');
function install(cert: string, key: string): void {
  writeFileSync(certFile(), cert);
  writeFileSync(keyFile(), key);
}
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

describe('ServerTls', () => {
  it('serves the new pair after a reload, the context and the listener options alike', () => {
    install(pairs.first.cert, pairs.first.key);
    const tls = ServerTls.load(certFile(), keyFile(), policy);
    const before = tls.context;
    expect(tls.fingerprint256).toBe(fingerprint(pairs.first.cert));
    install(pairs.second.cert, pairs.second.key);
    expect(tls.reload()).toMatchObject({ kind: 'reloaded', fingerprint256: fingerprint(pairs.second.cert) });
    expect(tls.context).not.toBe(before);
    expect(tls.listenerOptions()).toMatchObject({ cert: pairs.second.cert, minVersion: 'TLSv1.2' });
  });

  it('refuses a pair that cannot be used and keeps the one it has', () => {
    install(pairs.first.cert, pairs.first.key);
    const tls = ServerTls.load(certFile(), keyFile(), policy);
    const kept = tls.context;
    const bad: [string, () => void, RegExp][] = [
      ['garbage certificate', () => install('garbage\n', pairs.second.key), /tlsCert .* holds no PEM certificate/],
      ['key of another certificate', () => install(pairs.second.cert, pairs.first.key), /tlsCert\/tlsKey cannot be used together/],
      ['expired certificate', () => install(pairs.expired.cert, pairs.expired.key), /tlsCert .* expired on Jan {1,2}2 00:00:00 2020 GMT/],
      ['missing key file', () => rmSync(keyFile()), /tlsKey .* cannot be read: ENOENT/],
    ];
    for (const [what, make, reason] of bad) {
      make();
      const result = tls.reload();
      expect(result.kind, what).toBe('refused');
      expect(result.kind === 'refused' ? result.reason : '', what).toMatch(reason);
      expect(result.kind === 'refused' ? result.reason : '', what).not.toContain(pairs.first.key.split('\n')[1]);
      expect(tls.context, what).toBe(kept);
      expect(tls.fingerprint256, what).toBe(fingerprint(pairs.first.cert));
    }
  });

  it('stops start-up on a pair that cannot be used, naming the keys', () => {
    install(pairs.second.cert, pairs.first.key);
    expect(() => ServerTls.load(certFile(), keyFile(), policy)).toThrow(/tlsCert\/tlsKey cannot be used together/);
    expect(() => ServerTls.load(join(dir, 'nowhere.crt'), keyFile(), policy)).toThrow(/tlsCert .*nowhere\.crt cannot be read: ENOENT/);
  });
});
