// Throw-away TLS material for test servers: a private CA and a server
// certificate for localhost / 127.0.0.1 signed by it, so clients in tests
// verify certificates for real (pass `ca`) instead of switching verification
// off. Never reuse these files outside a test run.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCommand } from './process.ts';

export interface TestCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA certificate in PEM, ready for a client's `ca` option. */
  ca: string;
}

// Long enough for any run, short enough that a leaked key is soon worthless.
const validityDays = '30';

export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  await mkdir(dir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'server.key');
  const csrFile = join(dir, 'server.csr');
  const certFile = join(dir, 'server.crt');
  const extFile = join(dir, 'server.ext');

  // P-256 keys: generated in milliseconds, unlike RSA, and accepted everywhere.
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runCommand('openssl', [
    'req', '-x509', ...ecKey, '-keyout', caKey, '-out', caFile, '-days', validityDays,
    '-subj', '/CN=Inlay test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await runCommand('openssl', ['req', '-new', ...ecKey, '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=localhost']);
  // Clients match the name against subjectAltName only, so both the DNS name
  // and the IP tests connect to must be listed there.
  await writeFile(
    extFile,
    [
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid,issuer',
      '',
    ].join('\n'),
  );
  await runCommand('openssl', [
    'x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKey,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', validityDays, '-extfile', extFile, '-out', certFile,
  ]);
  return { caFile, certFile, keyFile, ca: await readFile(caFile, 'utf8') };
}
