/**
 * The TLS the proxy speaks on both sides: the policy (lowest version, cipher list) of each side,
 * checked once at start, and the certificate and key clients are shown, which SIGHUP reloads.
 * Every client-facing listener — IMAP's here, any other protocol's — takes its options from one
 * ServerTls, so one reload reaches them all: STARTTLS reads `context` at each handshake, and an
 * implicit-TLS server is `follow`ed and given the new context.
 *
 * Must never: touch a session already under way on reload (its TLS state is its own); swap in a
 * certificate and key that cannot be used together, or a certificate already expired; put key
 * material in a log line or an error message.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { InlayConfig } from '@inlay/schemas';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** What one side accepts: the lowest version, and the cipher list (undefined: Node's defaults). */
export interface TlsPolicy {
  readonly minVersion: TlsVersion;
  readonly ciphers: string | undefined;
}

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

/** The policy clients meet (`tlsMinVersion`, `tlsCiphers`), checked; throws naming the key. */
export function clientTlsPolicy(config: Pick<InlayConfig, 'tlsMinVersion' | 'tlsCiphers'>): TlsPolicy {
  return checkedPolicy({ minVersion: config.tlsMinVersion, ciphers: config.tlsCiphers }, 'tlsCiphers (INLAY_TLS_CIPHERS)');
}

/** The policy used towards the upstream (`upstreamTls.minVersion`, `upstreamTls.ciphers`), checked. */
export function upstreamTlsPolicy(config: Pick<InlayConfig, 'upstreamTls'>): TlsPolicy {
  const { minVersion, ciphers } = config.upstreamTls;
  return checkedPolicy({ minVersion, ciphers }, 'upstreamTls.ciphers (INLAY_UPSTREAM_TLS_CIPHERS)');
}

/** The options of a policy, for a server's secure context or a client's `tls.connect`. */
export function tlsPolicyOptions(policy: TlsPolicy): Pick<SecureContextOptions, 'minVersion' | 'ciphers'> {
  return { minVersion: policy.minVersion, ...(policy.ciphers === undefined ? {} : { ciphers: policy.ciphers }) };
}

/** The one place a client-facing secure context's options are put together. */
export function serverSecureContextOptions(material: TlsMaterial, policy: TlsPolicy): SecureContextOptions {
  return { cert: material.cert, key: material.key, ...tlsPolicyOptions(policy) };
}

/**
 * OpenSSL is the judge of a cipher list (the names depend on its build): a list of which it
 * matches nothing stops start-up here instead of failing every handshake later.
 */
function checkedPolicy(policy: TlsPolicy, ciphersKey: string): TlsPolicy {
  if (policy.ciphers === undefined) return policy;
  try {
    createSecureContext(tlsPolicyOptions(policy));
  } catch (err) {
    throw new Error(`${ciphersKey} ${JSON.stringify(policy.ciphers)} cannot be used: ${(err as Error).message}`);
  }
  return policy;
}

export type TlsReload =
  | { readonly kind: 'reloaded'; readonly fingerprint256: string; readonly validTo: string }
  | { readonly kind: 'refused'; readonly reason: string };

/** The client-facing certificate and key, and the secure context built from them. */
export class ServerTls {
  private material: TlsMaterial;
  private current: SecureContext;
  private certificate: X509Certificate;
  private readonly servers = new Set<TlsServer>();

  private constructor(
    private readonly certFile: string,
    private readonly keyFile: string,
    readonly policy: TlsPolicy,
    loaded: { material: TlsMaterial; context: SecureContext; certificate: X509Certificate },
  ) {
    this.material = loaded.material;
    this.current = loaded.context;
    this.certificate = loaded.certificate;
  }

  /** Reads and checks the files once at start; throws with a line naming the key. */
  static load(certFile: string, keyFile: string, policy: TlsPolicy): ServerTls {
    return new ServerTls(certFile, keyFile, policy, build(certFile, keyFile, policy, false));
  }

  /** The context for a handshake starting now (STARTTLS). */
  get context(): SecureContext {
    return this.current;
  }

  /** The certificate and key as PEM, as last loaded. */
  get pem(): TlsMaterial {
    return this.material;
  }

  get fingerprint256(): string {
    return this.certificate.fingerprint256;
  }

  /** Options for `tls.createServer`: the current certificate under the policy. */
  listenerOptions(): SecureContextOptions {
    return serverSecureContextOptions(this.material, this.policy);
  }

  /** An implicit-TLS server to give the new context on reload. */
  follow(server: TlsServer): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /**
   * Reads the files again. New handshakes get the new certificate; sessions under way keep theirs.
   * A pair that cannot be used (unreadable, not PEM, key not matching, expired) is refused and the
   * old one stays.
   */
  reload(): TlsReload {
    let loaded;
    try {
      loaded = build(this.certFile, this.keyFile, this.policy, true);
    } catch (err) {
      return { kind: 'refused', reason: (err as Error).message };
    }
    for (const server of this.servers) server.setSecureContext(serverSecureContextOptions(loaded.material, this.policy));
    this.material = loaded.material;
    this.current = loaded.context;
    this.certificate = loaded.certificate;
    return { kind: 'reloaded', fingerprint256: loaded.certificate.fingerprint256, validTo: loaded.certificate.validTo };
  }
}

function build(certFile: string, keyFile: string, policy: TlsPolicy, refuseExpired: boolean): { material: TlsMaterial; context: SecureContext; certificate: X509Certificate } {
  const read = (file: string, key: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${key} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const material = { cert: read(certFile, 'tlsCert'), key: read(keyFile, 'tlsKey') };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(material.cert);
  } catch (err) {
    throw new Error(`tlsCert ${certFile} holds no PEM certificate: ${(err as Error).message}`);
  }
  // At start an expired certificate is the operator's to see (clients will say so); on reload,
  // keeping the certificate that still works is better than swapping in one that cannot.
  if (refuseExpired && Date.parse(certificate.validTo) < Date.now()) {
    throw new Error(`tlsCert ${certFile} expired on ${certificate.validTo}`);
  }
  try {
    // OpenSSL's messages name the problem (PEM, key mismatch) and never the key's bytes.
    return { material, context: createSecureContext(serverSecureContextOptions(material, policy)), certificate };
  } catch (err) {
    throw new Error(`tlsCert/tlsKey cannot be used together: ${(err as Error).message}`);
  }
}
