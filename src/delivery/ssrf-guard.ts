// Keeps deliveries out of private networks. An endpoint URL is typed in by a stranger, so the
// worker refuses non-global addresses twice: when the URL is saved (IP literals, localhost and
// metadata names) and on the address actually dialed (after DNS), unless TAPWIRE_ALLOWED_NETWORKS
// allows that range. Cloud metadata, link-local and unspecified addresses are refused even then.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

/**
 * Parse `10.0.0.0/8,::1/128`; throws with the offending entry on a bad one. Strict on purpose: an
 * allow-list opens private networks, so an entry must mean exactly what it says. ipaddr.js alone
 * reads `010.0.0.0/8` as octal (8.0.0.0/8) and `192.168.1/24` as 192.168.0.1/24; here only
 * canonical addresses (four decimal parts without leading zeros, or IPv6 as `net.isIP` reads it)
 * with an in-range prefix and no host bits set (`10.0.0.1/8` is refused) are accepted.
 */
export function parseCidrList(text: string): string[] {
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    const parsed = parseStrictCidr(entry);
    if (typeof parsed === 'string') throw new Error(`'${entry}' ${parsed}`);
  }
  return entries;
}

/** `entry` as a range, or why it is not a canonical, aligned CIDR range. */
function parseStrictCidr(entry: string): Cidr | string {
  const example = 'is not a CIDR range such as 10.0.0.0/8 or fd00::/8';
  const slash = entry.indexOf('/');
  if (slash < 0 || slash !== entry.lastIndexOf('/')) return example;
  const addressText = entry.slice(0, slash);
  const prefixText = entry.slice(slash + 1);
  // The same reading as for a dialed address: strict forms only, a dotted IPv6 tail as the kernel reads it.
  const address = parseDialAddress(addressText);
  if (typeof address === 'string') {
    return `${example}: ${address}${addressText.includes(':') ? '' : ' (IPv4 needs four decimal parts without leading zeros)'}`;
  }
  const maxBits = address.kind() === 'ipv4' ? 32 : 128;
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > maxBits) {
    return `${example}: the prefix length must be a whole number from 0 to ${maxBits}`;
  }
  const bits = Number(prefixText);
  const bytes = address.toByteArray();
  const network = bytes.map((byte, i) => {
    const kept = Math.min(8, Math.max(0, bits - i * 8));
    return byte & ((0xff << (8 - kept)) & 0xff);
  });
  if (network.some((byte, i) => byte !== bytes[i])) {
    const aligned = ipaddr.fromByteArray(network).toString();
    return `has host bits set after the first ${bits} bits; the range is ${aligned}/${bits}`;
  }
  return [address, bits];
}

/** What every refusal starts with, as recorded in the attempt's response (the attempt made no request). */
export const REFUSAL_PREFIX = 'Blocked: ';

/**
 * What a tenant reads instead of a refusal's detail. The detail can say what an internal name
 * resolves to (`Blocked: vm resolves to 127.0.0.1; …`), which is the server's business, not the
 * tenant's: operators read it in the worker's log and through the admin token.
 */
export const TENANT_REFUSAL = `${REFUSAL_PREFIX}the destination is not allowed by this server's network policy`;

/**
 * Whether an attempt's response is the guard's refusal. Status 0 means no response arrived, so the
 * text is Tapwire's own and no receiver can have written it.
 */
export function isRefusalResponse(statusCode: number, response: string): boolean {
  return statusCode === 0 && response.startsWith(REFUSAL_PREFIX);
}

/** A range the guard knows by name, and why it is special. */
export interface SpecialRange {
  cidr: string;
  /** Short name used in refusals, e.g. `loopback`. */
  name: string;
  /** Why a delivery must not go there. */
  why: string;
}

/**
 * Addresses never dialed, whatever TAPWIRE_ALLOWED_NETWORKS says: an operator who allows
 * `0.0.0.0/0` or `fc00::/7` to reach internal services must still not hand out cloud credentials.
 * Checked before the allow-list, on the address itself and on any IPv4 address embedded in it.
 */
export const NEVER_DIALED: readonly SpecialRange[] = [
  { cidr: '0.0.0.0/8', name: 'unspecified', why: 'connecting to 0.0.0.0 reaches the local host on Linux' },
  { cidr: '169.254.169.254/32', name: 'cloud metadata', why: 'the instance metadata service of AWS, Google Cloud, Azure, Oracle Cloud and others' },
  { cidr: '169.254.170.2/32', name: 'cloud metadata', why: 'the AWS ECS task metadata and credentials endpoint' },
  { cidr: '169.254.0.0/16', name: 'link-local', why: 'it reaches only the local network segment, where cloud metadata services live' },
  { cidr: '100.100.100.200/32', name: 'cloud metadata', why: 'the Alibaba Cloud metadata service' },
  { cidr: '192.0.0.192/32', name: 'cloud metadata', why: 'the Oracle Cloud (classic) metadata service' },
  { cidr: '168.63.129.16/32', name: 'cloud metadata', why: 'the Azure host platform address (WireServer), reachable only from inside Azure' },
  { cidr: '::/128', name: 'unspecified', why: 'connecting to :: reaches the local host on Linux' },
  { cidr: 'fe80::/10', name: 'link-local', why: 'it reaches only the local network segment, where cloud metadata services live' },
  { cidr: 'fd00:ec2::254/128', name: 'cloud metadata', why: 'the AWS instance metadata service over IPv6' },
  { cidr: 'fd20:ce::254/128', name: 'cloud metadata', why: 'the Google Cloud metadata service over IPv6' },
];

/**
 * IPv4 ranges that are not globally reachable (IANA special-purpose registry, RFC 6890 and
 * successors), refused unless allowed. More specific entries first, so a refusal names the closest.
 */
const NON_GLOBAL_V4: readonly SpecialRange[] = [
  { cidr: '10.0.0.0/8', name: 'private', why: 'RFC 1918 private network' },
  { cidr: '100.64.0.0/10', name: 'shared address space (CGNAT)', why: 'carrier-grade NAT, often internal' },
  { cidr: '127.0.0.0/8', name: 'loopback', why: 'this host' },
  { cidr: '172.16.0.0/12', name: 'private', why: 'RFC 1918 private network' },
  { cidr: '192.0.0.0/24', name: 'IETF protocol assignments', why: 'not globally routed' },
  { cidr: '192.0.2.0/24', name: 'documentation', why: 'TEST-NET-1' },
  { cidr: '192.88.99.0/24', name: '6to4 relay anycast', why: 'deprecated relay range' },
  { cidr: '192.168.0.0/16', name: 'private', why: 'RFC 1918 private network' },
  { cidr: '198.18.0.0/15', name: 'benchmarking', why: 'network benchmark tests' },
  { cidr: '198.51.100.0/24', name: 'documentation', why: 'TEST-NET-2' },
  { cidr: '203.0.113.0/24', name: 'documentation', why: 'TEST-NET-3' },
  { cidr: '224.0.0.0/4', name: 'multicast', why: 'not a single host' },
  { cidr: '255.255.255.255/32', name: 'broadcast', why: 'limited broadcast' },
  { cidr: '240.0.0.0/4', name: 'reserved', why: 'reserved for future use' },
];

/** IPv6 ranges that are not globally reachable; everything outside 2000::/3 is refused as well. */
const NON_GLOBAL_V6: readonly SpecialRange[] = [
  { cidr: '::1/128', name: 'loopback', why: 'this host' },
  { cidr: '64:ff9b:1::/48', name: 'local-use NAT64', why: 'site-local IPv4/IPv6 translation' },
  { cidr: '100::/64', name: 'discard-only', why: 'a black hole by definition' },
  { cidr: '2001::/32', name: 'Teredo', why: 'a tunnel whose real destination is hidden in the address' },
  { cidr: '2001:2::/48', name: 'benchmarking', why: 'network benchmark tests' },
  { cidr: '2001:10::/28', name: 'ORCHID', why: 'overlay identifiers, not routable' },
  { cidr: '2001:20::/28', name: 'ORCHID', why: 'overlay identifiers, not routable' },
  { cidr: '2001::/23', name: 'IETF protocol assignments', why: 'not globally routed' },
  { cidr: '2001:db8::/32', name: 'documentation', why: 'documentation prefix' },
  { cidr: '3fff::/20', name: 'documentation', why: 'documentation prefix' },
  { cidr: '5f00::/16', name: 'SRv6 segment identifiers', why: 'segment routing, not hosts' },
  { cidr: 'fc00::/7', name: 'unique local', why: 'the IPv6 private range' },
  { cidr: 'fec0::/10', name: 'site-local', why: 'deprecated private range' },
  { cidr: 'ff00::/8', name: 'multicast', why: 'not a single host' },
];

/** Everything globally routable in IPv6 lies here (after unwrapping embedded IPv4). */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as Cidr;

/**
 * IPv6 forms that carry an IPv4 address, and where it sits. The packet ends up at (or is
 * translated to) that IPv4 address, so the IPv4 address is what is judged: `::ffff:127.0.0.1` is
 * loopback, `64:ff9b::a9fe:a9fe` is 169.254.169.254 through a NAT64 gateway.
 */
const EMBEDDINGS: ReadonlyArray<{ cidr: Cidr; name: string; at: number }> = [
  { cidr: ipaddr.parseCIDR('::ffff:0:0/96') as Cidr, name: 'IPv4-mapped', at: 6 },
  { cidr: ipaddr.parseCIDR('::ffff:0:0:0/96') as Cidr, name: 'IPv4-translated', at: 6 },
  { cidr: ipaddr.parseCIDR('64:ff9b::/96') as Cidr, name: 'NAT64', at: 6 },
  { cidr: ipaddr.parseCIDR('2002::/16') as Cidr, name: '6to4', at: 1 },
  // IPv4-compatible (::a.b.c.d, deprecated): :: and ::1 are matched before this is consulted.
  { cidr: ipaddr.parseCIDR('::/96') as Cidr, name: 'IPv4-compatible', at: 6 },
];

const compile = (ranges: readonly SpecialRange[]) => ranges.map((range) => ({ range, cidr: ipaddr.parseCIDR(range.cidr) as Cidr }));
const NEVER_COMPILED = compile(NEVER_DIALED);
const V4_COMPILED = compile(NON_GLOBAL_V4);
const V6_COMPILED = compile(NON_GLOBAL_V6);

function matchAny<T extends { cidr: Cidr }>(address: Address, list: readonly T[]): T | undefined {
  return list.find(({ cidr: [net, bits] }) => net.kind() === address.kind() && address.match(net, bits));
}

/**
 * Parse an address the way the socket will read it, or say why it is not one. Only forms that
 * `net.isIP` accepts are addresses (that is what decides whether Node dials a string or resolves
 * it), so `0177.0.0.1` or `127.1` never reach ipaddr.js, whose inet_aton-style parser would read
 * them its own way. A dotted IPv4 tail in IPv6 (`::127.0.0.1`) is converted by hand: ipaddr.js
 * reads `::a.b.c.d` as IPv4-mapped, while the kernel dials the IPv4-compatible `::7f00:1`.
 */
function parseDialAddress(text: string): Address | string {
  const family = isIP(text);
  if (family === 0) return `'${text}' is not an IP address`;
  if (family === 4) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return `'${text}' is not a canonical IPv4 address`;
    return ipaddr.IPv4.parse(text);
  }
  // Scoped addresses (fe80::1%eth0) only make sense on a local segment.
  if (text.includes('%')) return `${text} is a scoped IPv6 address, which is never allowed`;
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  let hex = text;
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    hex = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  try {
    return ipaddr.IPv6.parse(hex);
  } catch {
    return `'${text}' is not an IP address`;
  }
}

/** The IPv4 address inside an IPv6 address of a known embedding form, with the form's name. */
function embeddedIPv4(address: ipaddr.IPv6): { v4: ipaddr.IPv4; form: string } | null {
  // :: and ::1 fall inside ::/96 but are themselves, not IPv4 addresses.
  if (address.range() === 'loopback' || address.range() === 'unspecified') return null;
  for (const { cidr: [net, bits], name, at } of EMBEDDINGS) {
    if (!address.match(net, bits)) continue;
    const hi = address.parts[at]!;
    const lo = address.parts[at + 1]!;
    return { v4: new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]), form: name };
  }
  return null;
}

/** Why a refused address was refused: the text for people, and the address in canonical form. */
export interface Refusal {
  address: string;
  reason: string;
}

/** A compiled allow-list and the checks that use it. */
export class AddressPolicy {
  private readonly allowed: Array<{ cidr: Cidr }>;

  /** @param allowedNetworks CIDRs that may be dialed although not public (TAPWIRE_ALLOWED_NETWORKS). */
  constructor(allowedNetworks: string[]) {
    this.allowed = allowedNetworks.map((entry) => {
      const cidr = parseStrictCidr(entry);
      if (typeof cidr === 'string') throw new Error(`'${entry}' ${cidr}`);
      return { cidr };
    });
  }

  /**
   * Null when `address` may be dialed; otherwise why not, as a sentence that names the range and,
   * when the range can be allowed, TAPWIRE_ALLOWED_NETWORKS. Only canonical IP strings (as the
   * URL parser and DNS produce them) are accepted; anything else is refused.
   */
  refusalFor(address: string): string | null {
    const parsed = parseDialAddress(address);
    if (typeof parsed === 'string') return parsed;
    return this.judge(parsed);
  }

  private isAllowed(address: Address): boolean {
    return matchAny(address, this.allowed) !== undefined;
  }

  private judge(address: Address): string | null {
    const text = address.toString();
    const never = matchAny(address, NEVER_COMPILED);
    if (never) return neverAllowed(text, never.range);

    if (address.kind() === 'ipv6') {
      const embedded = embeddedIPv4(address as ipaddr.IPv6);
      if (embedded) {
        const { v4, form } = embedded;
        // IPv4-mapped is how dual-stack sockets spell an IPv4 peer: it is that host, so say so.
        const name = form === 'IPv4-mapped' ? v4.toString() : `${text} (${form} for ${v4.toString()})`;
        const innerNever = matchAny(v4, NEVER_COMPILED);
        if (innerNever) return neverAllowed(name, innerNever.range);
        const inner = matchAny(v4, V4_COMPILED);
        if (!inner || this.isAllowed(v4) || this.isAllowed(address)) return null;
        return `${name} is in a non-public range (${inner.range.name}); allow it with TAPWIRE_ALLOWED_NETWORKS`;
      }
    }

    const special = matchAny(address, address.kind() === 'ipv4' ? V4_COMPILED : V6_COMPILED);
    const outsideGlobal = address.kind() === 'ipv6' && !address.match(GLOBAL_UNICAST_V6[0], GLOBAL_UNICAST_V6[1]);
    if (!special && !outsideGlobal) return null;
    if (this.isAllowed(address)) return null;
    const name = special ? special.range.name : 'reserved, outside global unicast 2000::/3';
    return `${text} is in a non-public range (${name}); allow it with TAPWIRE_ALLOWED_NETWORKS`;
  }

  /**
   * A `dns.lookup` replacement for the HTTP client: resolves as usual, then hands the connection only
   * the addresses that may be dialed (catches DNS names pointing at private ranges, and DNS rebinding,
   * since it runs for every new connection). A name with no such address fails with code `EBLOCKED`
   * (the error carries `address` and `hostname`). Filtering rather than refusing the whole name
   * matters for `localhost`, which resolves to both 127.0.0.1 and ::1 on most machines while an
   * operator often allows only 127.0.0.0/8; the refused addresses are never handed to the socket.
   *
   * @param resolve the resolver to guard (default `dns.lookup`; tests inject fixed answers).
   */
  guardedLookup(resolve: typeof dnsLookup = dnsLookup): typeof dnsLookup {
    const policy = this;
    const guarded = (hostname: string, options: unknown, callback: unknown): void => {
      const cb = (typeof options === 'function' ? options : callback) as (
        err: NodeJS.ErrnoException | null,
        address: string | LookupAddress[],
        family?: number,
      ) => void;
      const opts = (typeof options === 'object' && options !== null ? options : {}) as LookupAllOptions;
      resolve(hostname, { ...opts, all: true }, (err, addresses) => {
        if (err) return cb(err, '', 0);
        const allowed = addresses.filter((entry) => policy.refusalFor(entry.address) === null);
        if (allowed.length === 0) {
          if (addresses.length === 0) {
            return cb(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
          }
          const first = addresses[0]!.address;
          const refusal = policy.refusalFor(first)!;
          return cb(blockedError(`${REFUSAL_PREFIX}${hostname} resolves to ${first}; ${refusal}`, first, hostname), '', 0);
        }
        if (opts.all) return cb(null, allowed);
        cb(null, allowed[0]!.address, allowed[0]!.family);
      });
    };
    return guarded as unknown as typeof dnsLookup;
  }
}

/** `169.254.169.254 is a link-local address, which is never allowed: cloud metadata lives here …` */
function neverAllowed(text: string, range: SpecialRange): string {
  return `${text} is ${/^[aeiou]/i.test(range.name) ? 'an' : 'a'} ${range.name} address, which is never allowed: ${range.why}`;
}

/** The error a guarded connection fails with: code `EBLOCKED`, plus the refused address. */
export function blockedError(message: string, address: string | null, hostname?: string): NodeJS.ErrnoException & { address: string | null; hostname?: string } {
  return Object.assign(new Error(message), { code: 'EBLOCKED', address, ...(hostname !== undefined ? { hostname } : {}) });
}

/** Names that reach this host without DNS (the resolver's own files and RFC 6761). */
function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.localdomain' || host === 'ip6-localhost' || host === 'ip6-loopback';
}

/**
 * Names of cloud metadata services. Refused by name because they may resolve through a resolver
 * the guard never sees (a proxy's), and because no webhook receiver lives there. Other names ending
 * in `.internal` are left to the dial-time check: they may well be an operator's allowed network.
 */
const METADATA_HOSTNAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

/**
 * Judge where a URL would send a delivery, before any connection: the scheme, TAPWIRE_HTTPS_ONLY,
 * an IP-literal host (as the URL parser normalised it: `http://2130706433/`, `http://0x7f.1/` and
 * `http://127.1/` all have host 127.0.0.1), localhost names and cloud metadata names. Null when the
 * URL may be tried; other names are judged on the address dialed.
 *
 * @param options.judgeNames whether to refuse localhost and metadata names here (default true).
 *   The worker turns it off when it dials itself, so those names are judged on what they resolve
 *   to like any other; through a proxy nothing else would judge them.
 */
export function refusalForUrl(url: URL, options: { httpsOnly: boolean; policy: AddressPolicy; judgeNames?: boolean }): string | null {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the URL scheme ${url.protocol} is not http or https`;
  if (url.protocol === 'http:' && options.httpsOnly) {
    return 'the URL uses http:// while TAPWIRE_HTTPS_ONLY is on; use https://, or set TAPWIRE_HTTPS_ONLY=false to allow http';
  }
  const bracketed = url.hostname.startsWith('[');
  const host = bracketed ? url.hostname.slice(1, -1) : url.hostname.replace(/\.+$/, '');
  if (bracketed || isIP(host) !== 0) return options.policy.refusalFor(host);
  if (options.judgeNames === false) return null;
  if (METADATA_HOSTNAMES.has(host)) return `${host} is a cloud metadata hostname, which is never allowed`;
  if (isLoopbackName(host) && options.policy.refusalFor('127.0.0.1') && options.policy.refusalFor('::1')) {
    return `${host} is loopback (this host); allow it with TAPWIRE_ALLOWED_NETWORKS`;
  }
  return null;
}

/**
 * Validate an endpoint URL at create/update time. Returns null when acceptable, or a message
 * suitable for a 422. Hostnames are checked again on the dialed address at delivery time.
 */
export function checkEndpointUrl(raw: string, options: { httpsOnly: boolean; policy: AddressPolicy }): string | null {
  // The URL is stored as given: the parser would quietly drop or escape these, and PostgreSQL
  // text cannot hold a NUL.
  if (/[\u0000-\u001f\u007f]/.test(raw)) return 'URL must not contain control characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'Invalid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'URL scheme must be http or https';
  if (url.protocol === 'http:' && options.httpsOnly) {
    return 'Endpoint URL must use https (set TAPWIRE_HTTPS_ONLY=false to allow http)';
  }
  if (url.username || url.password) return 'URL must not contain credentials';
  const refusal = refusalForUrl(url, options);
  return refusal ? `Endpoint URL is not allowed: ${refusal}` : null;
}
