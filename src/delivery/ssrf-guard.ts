// Keeps deliveries out of private networks. An endpoint URL is typed in by a stranger, so the
// worker refuses non-global addresses twice: when the URL is saved (IP literals) and on the
// address actually dialed (after DNS), unless TAPWIRE_ALLOWED_NETWORKS allows that range.
// Link-local (which holds cloud metadata at 169.254.169.254) is refused even when allowed.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parse `10.0.0.0/8,::1/128`; throws with the offending entry on a bad one. */
export function parseCidrList(text: string): string[] {
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    try {
      ipaddr.parseCIDR(entry);
    } catch {
      throw new Error(`'${entry}' is not a CIDR range such as 10.0.0.0/8 or ::1/128`);
    }
  }
  return entries;
}

/** Ranges that are never dialed, whatever is allowed: link-local and cloud metadata. */
const NEVER_ALLOWED = new Set(['linkLocal']);

/** A compiled allow-list and the checks that use it. */
export class AddressPolicy {
  private readonly allowed: Cidr[];

  constructor(allowedNetworks: string[]) {
    this.allowed = allowedNetworks.map((c) => ipaddr.parseCIDR(c) as Cidr);
  }

  /** Null when `address` may be dialed; otherwise why not. */
  refusalFor(address: string): string | null {
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      parsed = ipaddr.process(address);
    } catch {
      return `'${address}' is not an IP address`;
    }
    const range = parsed.range();
    if (range === 'unicast') return null;
    if (NEVER_ALLOWED.has(range)) return `${parsed.toString()} is a link-local address, which is never allowed`;
    for (const [net, bits] of this.allowed) {
      if (net.kind() === parsed.kind() && parsed.match(net, bits)) return null;
    }
    return `${parsed.toString()} is in a non-public range (${range}); allow it with TAPWIRE_ALLOWED_NETWORKS`;
  }

  /**
   * A `dns.lookup` replacement for the HTTP client: resolves as usual, then hands the connection only
   * the addresses that may be dialed (catches DNS names pointing at private ranges). A name with no
   * such address fails with code `EBLOCKED`. Filtering rather than refusing the whole name matters
   * for `localhost`, which resolves to both 127.0.0.1 and ::1 on most machines while an operator
   * often allows only 127.0.0.0/8; the refused addresses are never handed to the socket.
   *
   * @param resolve the resolver to guard (default `dns.lookup`; tests inject a fixed answer).
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
          const refusal = policy.refusalFor(addresses[0]!.address);
          const error = Object.assign(new Error(`Blocked: ${hostname} resolves to ${refusal}`), { code: 'EBLOCKED' });
          return cb(error, '', 0);
        }
        if (opts.all) return cb(null, allowed);
        cb(null, allowed[0]!.address, allowed[0]!.family);
      });
    };
    return guarded as unknown as typeof dnsLookup;
  }
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
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) {
    const refusal = options.policy.refusalFor(host);
    if (refusal) return `Endpoint URL is not allowed: ${refusal}`;
  } else if (host === 'localhost' || host.endsWith('.localhost')) {
    const refusal = options.policy.refusalFor('127.0.0.1');
    if (refusal) return `Endpoint URL is not allowed: localhost is loopback; allow it with TAPWIRE_ALLOWED_NETWORKS`;
  }
  return null;
}
