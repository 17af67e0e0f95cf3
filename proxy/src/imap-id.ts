/**
 * IMAP ID (RFC 2971) as a proxy speaks it: what the client told us, and the ID we send the
 * upstream before login so that its logs, rate limits and audit trail see the real client
 * (Dovecot's x-originating-ip / x-originating-port / x-session-id), plus x-proxy-ttl so a
 * login that loops through proxies ends when the count runs out.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ImapSyntaxError, quoteText, type ImapToken } from './imap-syntax.js';

/** RFC 2971 §3.3: at most 30 pairs, field names up to 30 octets, values up to 1024. */
const MAX_ID_PAIRS = 30;
const MAX_FIELD_BYTES = 30;
const MAX_VALUE_BYTES = 1024;

/** Fields only a trusted proxy in front of us may set; from anyone else they are dropped. */
const FORWARDING_FIELDS = new Set(['x-originating-ip', 'x-originating-port', 'x-connected-ip', 'x-connected-port', 'x-session-id', 'x-proxy-ttl']);

export type IdFields = ReadonlyMap<string, string>;

/** Reads `ID NIL` or `ID ("field" "value" …)`. Field names are lower-cased. */
export function parseIdArguments(args: readonly ImapToken[]): IdFields {
  const [list, ...extra] = args;
  if (!list || extra.length > 0) throw new ImapSyntaxError('ID takes one argument: NIL or a list');
  if (list.kind === 'nil') return new Map();
  if (list.kind !== 'list') throw new ImapSyntaxError('ID argument must be NIL or a parenthesised list');
  if (list.items.length % 2 !== 0 || list.items.length / 2 > MAX_ID_PAIRS) {
    throw new ImapSyntaxError(`ID list must hold field/value pairs, at most ${MAX_ID_PAIRS}`);
  }
  const fields = new Map<string, string>();
  for (let i = 0; i < list.items.length; i += 2) {
    const field = list.items[i]!;
    const value = list.items[i + 1]!;
    if (field.kind !== 'string' || field.value.length > MAX_FIELD_BYTES) throw new ImapSyntaxError('ID field names must be strings of up to 30 bytes');
    if (value.kind === 'nil') continue;
    if (value.kind !== 'string' || value.value.length > MAX_VALUE_BYTES) throw new ImapSyntaxError('ID values must be strings of up to 1024 bytes or NIL');
    fields.set(field.value.toString('utf8').toLowerCase(), value.value.toString('utf8'));
  }
  return fields;
}

export function formatIdList(fields: Iterable<readonly [string, string]>): string {
  const parts: string[] = [];
  for (const [field, value] of fields) parts.push(quoteText(field), quoteText(value));
  return parts.length === 0 ? 'NIL' : `(${parts.join(' ')})`;
}

/** Builds a matcher for CIDR strings such as 127.0.0.0/8 or ::1/128. Throws on a bad entry,
 *  naming `key` (the configuration key the list came from). */
export function networkMatcher(cidrs: readonly string[], key = 'proxy.trustedNetworks'): (address: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, bits] = cidr.split('/');
    const family = network && isIPv4(network) ? 'ipv4' : network && isIPv6(network) ? 'ipv6' : null;
    const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) {
      throw new Error(`${key}: ${JSON.stringify(cidr)} is not an address or CIDR network (such as 10.0.0.0/8 or 2001:db8::/32)`);
    }
    list.addSubnet(network!, prefix, family);
  }
  return (address) => {
    const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    return list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  };
}

/** The fields upstreamId adds after the client's. */
const OWN_FIELD_COUNT = 7;

export interface ConnectionFacts {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly sessionId: string;
}

export interface UpstreamId {
  readonly fields: readonly (readonly [string, string])[];
  /** The TTL we pass on; 0 or less means the login has looped and must be refused. */
  readonly ttl: number;
}

/**
 * The ID to send upstream: the client's own descriptive fields, then where it really comes
 * from. A trusted client (a proxy in front of us) may speak for its own client.
 */
export function upstreamId(client: IdFields, trusted: boolean, facts: ConnectionFacts, defaultTtl: number, proxyName: string): UpstreamId {
  const fields: [string, string][] = [];
  for (const [field, value] of client) {
    // Leave room for our own fields within the 30 pairs the upstream will accept.
    if (!FORWARDING_FIELDS.has(field) && fields.length < MAX_ID_PAIRS - OWN_FIELD_COUNT) fields.push([field, value]);
  }
  const claimed = (field: string): string | undefined => (trusted ? client.get(field) : undefined);
  const claimedTtl = Number(claimed('x-proxy-ttl'));
  const ttl = (Number.isInteger(claimedTtl) ? claimedTtl : defaultTtl) - 1;
  fields.push(
    ['x-originating-ip', claimed('x-originating-ip') ?? facts.remoteAddress],
    ['x-originating-port', claimed('x-originating-port') ?? String(facts.remotePort)],
    ['x-connected-ip', claimed('x-connected-ip') ?? facts.localAddress],
    ['x-connected-port', claimed('x-connected-port') ?? String(facts.localPort)],
    ['x-session-id', claimed('x-session-id') ?? facts.sessionId],
    ['x-proxy-ttl', String(ttl)],
    ['x-proxy-name', proxyName],
  );
  return { fields, ttl };
}
