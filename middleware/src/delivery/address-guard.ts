/**
 * Which addresses a conversion point may reach. Loopback, private, link-local (cloud metadata at
 * 169.254.169.254 and fd00:ec2::254 included), CGNAT, multicast and reserved ranges are refused,
 * unless the operator lists their network in `delivery.allowedNetworks`
 * (INLAY_DELIVERY_ALLOWED_NETWORKS): a tenant must not make the middleware probe the network it
 * runs in. Checked when a point is saved (for literal addresses and names) and again on every
 * connect, after DNS resolution (a name may resolve elsewhere by then).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ConfigError } from '@inlay/schemas';

const REFUSED_V4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/3'];
// IPv4-mapped addresses (::ffff:a.b.c.d) are judged as the IPv4 address they reach (refusal()).
const REFUSED_V6 = ['::/127', '64:ff9b::/96', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'ff00::/8'];

export type HostCheck = { readonly kind: 'allowed' } | { readonly kind: 'refused' | 'unresolved'; readonly reason: string };

export class AddressGuard {
  private readonly refused = new BlockList();
  private readonly allowed = new BlockList();

  /** `allowedNetworks`: CIDRs (config parsed once); a malformed one is a ConfigError. */
  constructor(allowedNetworks: readonly string[]) {
    for (const cidr of REFUSED_V4) addCidr(this.refused, cidr);
    for (const cidr of REFUSED_V6) addCidr(this.refused, cidr);
    for (const cidr of allowedNetworks) {
      try {
        addCidr(this.allowed, cidr);
      } catch {
        throw new ConfigError(`delivery.allowedNetworks (INLAY_DELIVERY_ALLOWED_NETWORKS): "${cidr}" is not a CIDR such as 127.0.0.0/8 or fd00::/8`);
      }
    }
  }

  /** Why `address` (an IP literal) may not be reached, or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `"${address}" is not an IP address`;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    // An IPv4-mapped IPv6 address reaches the IPv4 host: judge it as that.
    const mapped = type === 'ipv6' ? mappedIpv4(address) : undefined;
    if (mapped !== undefined) return this.refusal(mapped);
    if (this.allowed.check(address, type)) return undefined;
    return this.refused.check(address, type) ? `${address} is a loopback, private, link-local or reserved address (allow its network in INLAY_DELIVERY_ALLOWED_NETWORKS)` : undefined;
  }

  /** Whether the URL's host may be reached: a literal address, or every address a name resolves to. */
  async checkHost(hostname: string): Promise<HostCheck> {
    const host = hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0) {
      const reason = this.refusal(host);
      return reason === undefined ? { kind: 'allowed' } : { kind: 'refused', reason };
    }
    let addresses: LookupAddress[];
    try {
      addresses = await resolveAll(host);
    } catch (error) {
      return { kind: 'unresolved', reason: `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    for (const { address } of addresses) {
      const reason = this.refusal(address);
      if (reason !== undefined) return { kind: 'refused', reason: `${host} resolves to ${reason}` };
    }
    return { kind: 'allowed' };
  }

  /** A `lookup` for http.request / net.connect that refuses what resolves to a refused address,
   *  so the check is made on the address actually connected to. */
  readonly lookup: LookupFunction = (hostname, options, callback): void => {
    const all = options.all === true;
    resolveAll(hostname).then(
      (addresses) => {
        const refused = addresses.map((entry) => this.refusal(entry.address)).find((reason) => reason !== undefined);
        if (refused !== undefined) {
          callback(Object.assign(new Error(`refused: ${hostname} resolves to ${refused}`), { code: 'INLAY_ADDRESS_REFUSED' }), '');
          return;
        }
        if (all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

/** The IPv4 address of an IPv4-mapped IPv6 address, in either notation (URL parsing turns
 *  ::ffff:127.0.0.1 into ::ffff:7f00:1). */
function mappedIpv4(address: string): string | undefined {
  const dotted = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (dotted !== undefined) return dotted;
  const hex = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex === null) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));
}

function addCidr(list: BlockList, cidr: string): void {
  const [address, bits] = cidr.split('/');
  const family = isIP(address ?? '');
  const prefix = Number(bits);
  if (family === 0 || bits === undefined || !/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new Error(`bad CIDR ${cidr}`);
  list.addSubnet(address!, prefix, family === 4 ? 'ipv4' : 'ipv6');
}
