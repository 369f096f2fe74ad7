import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { AddressPolicy, checkEndpointUrl, NEVER_DIALED, refusalForUrl } from './ssrf-guard.js';

/** A resolver that always answers `addresses`, in the shape dns.lookup(…, {all: true}) uses. */
function fixedResolver(addresses: LookupAddress[]) {
  return ((_hostname: string, _options: unknown, callback: (err: Error | null, addresses: LookupAddress[]) => void) =>
    callback(null, addresses)) as unknown as typeof import('node:dns').lookup;
}

function lookupAll(policy: AddressPolicy, addresses: LookupAddress[], hostname = 'host.test') {
  const lookup = policy.guardedLookup(fixedResolver(addresses));
  return new Promise<{ err: NodeJS.ErrnoException | null; result: unknown }>((resolve) =>
    lookup(hostname, { all: true }, (err, result) => resolve({ err, result })),
  );
}

function lookupOne(policy: AddressPolicy, addresses: LookupAddress[]) {
  const lookup = policy.guardedLookup(fixedResolver(addresses));
  return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family: unknown }>((resolve) =>
    lookup('host.test', {}, (err, address, family) => resolve({ err, address, family })),
  );
}

const V4_LOOPBACK = { address: '127.0.0.1', family: 4 };
const V6_LOOPBACK = { address: '::1', family: 6 };
const PUBLIC = { address: '93.184.215.14', family: 4 };

describe('AddressPolicy.guardedLookup', () => {
  it('passes public addresses through', async () => {
    expect((await lookupAll(new AddressPolicy([]), [PUBLIC])).result).toEqual([PUBLIC]);
    expect(await lookupOne(new AddressPolicy([]), [PUBLIC])).toMatchObject({ err: null, address: PUBLIC.address, family: 4 });
  });

  it('refuses a name whose every address is private', async () => {
    const { err } = await lookupAll(new AddressPolicy([]), [V4_LOOPBACK, V6_LOOPBACK], 'localhost');
    expect(err?.code).toBe('EBLOCKED');
    expect(err?.message).toBe('Blocked: localhost resolves to 127.0.0.1; 127.0.0.1 is in a non-public range (loopback); allow it with TAPWIRE_ALLOWED_NETWORKS');
    expect(err).toMatchObject({ address: '127.0.0.1', hostname: 'localhost' });
  });

  it('dials only the allowed addresses of a name that resolves to several', async () => {
    // localhost → 127.0.0.1 and ::1 with only 127.0.0.0/8 allowed: use 127.0.0.1, never ::1.
    const policy = new AddressPolicy(['127.0.0.0/8']);
    expect((await lookupAll(policy, [V6_LOOPBACK, V4_LOOPBACK])).result).toEqual([V4_LOOPBACK]);
    expect(await lookupOne(policy, [V6_LOOPBACK, V4_LOOPBACK])).toMatchObject({ err: null, address: '127.0.0.1', family: 4 });
    // A public name with one private address: the private one is dropped.
    expect((await lookupAll(new AddressPolicy([]), [{ address: '10.0.0.5', family: 4 }, PUBLIC])).result).toEqual([PUBLIC]);
  });

  it('never dials link-local (cloud metadata), even when allowed', async () => {
    const policy = new AddressPolicy(['169.254.0.0/16']);
    const { err } = await lookupAll(policy, [{ address: '169.254.169.254', family: 4 }]);
    expect(err?.code).toBe('EBLOCKED');
  });

  it('judges the dotted IPv4-compatible form a resolver may print as the address it is', async () => {
    // glibc prints ::7f00:1 as ::127.0.0.1; ipaddr.js alone would read that as IPv4-mapped.
    const { err } = await lookupAll(new AddressPolicy([]), [{ address: '::127.0.0.1', family: 6 }]);
    expect(err?.message).toMatch(/::7f00:1 \(IPv4-compatible for 127\.0\.0\.1\) is in a non-public range \(loopback\)/);
  });

  it('reports an empty answer as not found', async () => {
    expect((await lookupAll(new AddressPolicy([]), [])).err?.code).toBe('ENOTFOUND');
  });
});

describe('checkEndpointUrl', () => {
  const open = { httpsOnly: false, policy: new AddressPolicy([]) };

  it('refuses loopback literals and localhost unless allowed', () => {
    for (const url of ['http://127.0.0.1:8080/', 'http://[::1]/', 'http://localhost/', 'http://api.localhost/', 'http://[::ffff:127.0.0.1]/']) {
      expect(checkEndpointUrl(url, open), url).toMatch(/not allowed/);
    }
    const allowed = { httpsOnly: false, policy: new AddressPolicy(['127.0.0.0/8']) };
    expect(checkEndpointUrl('http://127.0.0.1:8080/', allowed)).toBeNull();
    expect(checkEndpointUrl('http://localhost:8080/', allowed)).toBeNull();
  });

  it('refuses control characters, which the URL parser would drop or escape behind our back', () => {
    for (const url of ['https://example.com/a\u0000b', 'https://example.com/?q=\u0001', 'https://exa\tmple.com/', 'https://example.com/\n', 'https://example.com/\u007f']) {
      expect(checkEndpointUrl(url, open), JSON.stringify(url)).toMatch(/control characters/);
    }
  });

  it('accepts public hosts and leaves names to the dial-time check', () => {
    expect(checkEndpointUrl('https://example.com/hook', open)).toBeNull();
    expect(checkEndpointUrl('http://93.184.215.14/', open)).toBeNull();
  });
});

/** Addresses refused when nothing is allowed, and the range each refusal names. */
const NON_PUBLIC: Array<[address: string, range: string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.5', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'shared address space (CGNAT)'],
  ['100.127.255.254', 'shared address space (CGNAT)'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['192.0.2.10', 'documentation'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['192.88.99.1', '6to4 relay anycast'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['::1', 'loopback'],
  ['fc00::1', 'unique local'],
  ['fd12:3456::1', 'unique local'],
  ['fec0::1', 'site-local'],
  ['ff02::1', 'multicast'],
  ['100::1', 'discard-only'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation'],
  ['2001::1', 'Teredo'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
  ['2001:2::1', 'benchmarking'],
  ['2001:10::1', 'ORCHID'],
  ['2001:20::1', 'ORCHID'],
  ['2001:100::1', 'IETF protocol assignments'],
  ['5f00::1', 'SRv6 segment identifiers'],
  ['64:ff9b:1::a00:1', 'local-use NAT64'],
  ['4000::1', 'reserved, outside global unicast 2000::/3'],
  // IPv6 spellings of IPv4 addresses: the embedded address is judged.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:a00:5', 'private'],
  ['::ffff:0:a00:5', 'private'],
  ['::7f00:1', 'loopback'],
  ['::127.0.0.1', 'loopback'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['64:ff9b::10.0.0.1', 'private'],
  ['2002:7f00:1::1', 'loopback'],
  ['2002:c0a8:101::', 'private'],
];

/** Refused even with TAPWIRE_ALLOWED_NETWORKS=0.0.0.0/0,::/0. */
const NEVER: string[] = [
  '169.254.169.254',
  '169.254.170.2',
  '169.254.0.1',
  '100.100.100.200',
  '192.0.0.192',
  '168.63.129.16',
  '0.0.0.0',
  '0.1.2.3',
  '::',
  'fe80::1',
  'febf::1',
  'fd00:ec2::254',
  'fd20:ce::254',
  '::ffff:169.254.169.254',
  '::ffff:0.0.0.0',
  '::ffff:a9fe:a9fe',
  '64:ff9b::a9fe:a9fe',
  '64:ff9b::169.254.169.254',
  '2002:a9fe:a9fe::1',
  '::169.254.169.254',
  '::ffff:6464:64c8',
];

const PUBLIC_ADDRESSES = ['8.8.8.8', '1.1.1.1', '93.184.215.14', '100.63.255.255', '100.128.0.0', '172.32.0.1', '192.0.3.1', '2606:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'];

describe('AddressPolicy.refusalFor', () => {
  const none = new AddressPolicy([]);
  const everything = new AddressPolicy(['0.0.0.0/0', '::/0']);

  it.each(NON_PUBLIC)('refuses %s (%s) and names TAPWIRE_ALLOWED_NETWORKS', (address, range) => {
    const refusal = none.refusalFor(address);
    expect(refusal).toContain(`is in a non-public range (${range}); allow it with TAPWIRE_ALLOWED_NETWORKS`);
    expect(everything.refusalFor(address), 'allowed networks lift it').toBeNull();
  });

  it.each(NEVER)('never dials %s, whatever is allowed', (address) => {
    expect(none.refusalFor(address)).toMatch(/which is never allowed/);
    expect(everything.refusalFor(address)).toMatch(/which is never allowed/);
    expect(everything.refusalFor(address)).not.toContain('TAPWIRE_ALLOWED_NETWORKS');
  });

  it.each(PUBLIC_ADDRESSES)('dials the public address %s', (address) => {
    expect(none.refusalFor(address)).toBeNull();
  });

  it('lists every never-dialed range with a reason', () => {
    for (const range of NEVER_DIALED) expect(range.why.length, range.cidr).toBeGreaterThan(10);
    expect(NEVER_DIALED.map((r) => r.cidr)).toEqual(expect.arrayContaining(['0.0.0.0/8', '169.254.0.0/16', '100.100.100.200/32', '169.254.170.2/32', '::/128', 'fe80::/10', 'fd00:ec2::254/128']));
  });

  it('names the IPv4 address behind an IPv4-mapped address, and the form behind other embeddings', () => {
    expect(none.refusalFor('::ffff:10.0.0.5')).toBe('10.0.0.5 is in a non-public range (private); allow it with TAPWIRE_ALLOWED_NETWORKS');
    expect(none.refusalFor('64:ff9b::a00:5')).toMatch(/^64:ff9b::a00:5 \(NAT64 for 10\.0\.0\.5\) is in a non-public range \(private\)/);
    expect(none.refusalFor('2002:a00:5::1')).toMatch(/^2002:a00:5::1 \(6to4 for 10\.0\.0\.5\)/);
    expect(none.refusalFor('169.254.169.254')).toMatch(/^169\.254\.169\.254 is a cloud metadata address, which is never allowed: the instance metadata service/);
  });

  it('allows exactly the configured ranges, in either spelling of an IPv4 address', () => {
    const policy = new AddressPolicy(['10.0.0.0/8', 'fd12::/16']);
    expect(policy.refusalFor('10.1.2.3')).toBeNull();
    expect(policy.refusalFor('::ffff:10.1.2.3')).toBeNull();
    expect(policy.refusalFor('64:ff9b::a01:203')).toBeNull();
    expect(policy.refusalFor('fd12::9')).toBeNull();
    expect(policy.refusalFor('11.0.0.1')).toBeNull();
    expect(policy.refusalFor('192.168.0.1')).toMatch(/private/);
    expect(policy.refusalFor('fd13::9')).toMatch(/unique local/);
    // A wide allow-list never reaches the metadata address inside it.
    expect(new AddressPolicy(['fd00::/8']).refusalFor('fd00:ec2::254')).toMatch(/never allowed/);
    expect(new AddressPolicy(['100.64.0.0/10', '100.100.0.0/16']).refusalFor('100.100.100.200')).toMatch(/never allowed/);
  });

  it('refuses every string the socket would not read as a canonical address', () => {
    // inet_aton-style forms are names to Node (it would resolve them), never addresses to judge.
    for (const text of ['0177.0.0.1', '017700000001', '2130706433', '0x7f000001', '0x7f.0.0.1', '127.1', '127.0.1', '010.0.0.1', '127.0.0.1.', ' 127.0.0.1', '', 'localhost', '::ffff:0177.0.0.1', '[::1]']) {
      expect(none.refusalFor(text), JSON.stringify(text)).toMatch(/not an IP address|not a canonical/);
      expect(everything.refusalFor(text), JSON.stringify(text)).not.toBeNull();
    }
    expect(everything.refusalFor('fe80::1%eth0')).toMatch(/scoped IPv6 address, which is never allowed/);
    expect(everything.refusalFor('2001:db8::1%1')).toMatch(/scoped/);
  });
});

describe('refusalForUrl', () => {
  const none = { httpsOnly: false, policy: new AddressPolicy([]) };
  const judge = (raw: string, options = none) => refusalForUrl(new URL(raw), options);

  it('judges the host the URL parser normalised, in every IPv4 notation', () => {
    for (const raw of [
      'http://2130706433/',
      'http://0177.0.0.1/',
      'http://017700000001/',
      'http://0x7f000001/',
      'http://0x7f.0.0.1/',
      'http://0x7f.0x0.0x0.0x1/',
      'http://127.1/',
      'http://127.0.1/',
      'http://127.0.0.1./',
      'http://127.000.000.001/',
      'http://%31%32%37.0.0.1/',
      'http://①②⑦.0.0.1/',
      'http://[::ffff:127.0.0.1]/',
      'http://[0:0:0:0:0:ffff:7f00:1]/',
      'http://[::127.0.0.1]/',
    ]) {
      expect(judge(raw), raw).toMatch(/\(loopback\); allow it with TAPWIRE_ALLOWED_NETWORKS$/);
    }
    expect(judge('http://0/')).toMatch(/0\.0\.0\.0 is an unspecified address, which is never allowed/);
    expect(judge('http://[::]/')).toMatch(/:: is an unspecified address/);
  });

  it('refuses localhost names unless loopback is allowed, and metadata names always', () => {
    for (const raw of ['http://localhost/', 'http://LOCALHOST./', 'http://ｌｏｃａｌｈｏｓｔ/', 'http://a.b.localhost/', 'http://localhost.localdomain/', 'http://ip6-localhost/']) {
      expect(judge(raw), raw).toMatch(/is loopback \(this host\); allow it with TAPWIRE_ALLOWED_NETWORKS/);
      expect(judge(raw, { httpsOnly: false, policy: new AddressPolicy(['::1/128']) }), raw).toBeNull();
    }
    const everything = { httpsOnly: false, policy: new AddressPolicy(['0.0.0.0/0', '::/0']) };
    for (const raw of ['http://metadata.google.internal/computeMetadata/v1/', 'http://metadata.google.internal./', 'http://METADATA/', 'http://metadata.goog/', 'http://instance-data/', 'http://instance-data.ec2.internal/']) {
      expect(judge(raw, everything), raw).toMatch(/is a cloud metadata hostname, which is never allowed/);
    }
  });

  it('leaves other names to the dial-time check', () => {
    for (const raw of ['https://example.com/', 'https://api.corp.internal/', 'https://127.0.0.1.nip.io/', 'https://localhost.example.com/', 'https://metadata.example.com/']) {
      expect(judge(raw), raw).toBeNull();
    }
  });

  it('enforces https-only and the scheme', () => {
    expect(judge('http://example.com/', { httpsOnly: true, policy: new AddressPolicy([]) })).toMatch(/TAPWIRE_HTTPS_ONLY/);
    expect(judge('https://example.com/', { httpsOnly: true, policy: new AddressPolicy([]) })).toBeNull();
    expect(judge('ftp://example.com/')).toMatch(/not http or https/);
  });
});
