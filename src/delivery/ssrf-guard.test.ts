import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { AddressPolicy, checkEndpointUrl } from './ssrf-guard.js';

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
    expect(err?.message).toMatch(/^Blocked: localhost resolves to 127\.0\.0\.1 is in a non-public range \(loopback\)/);
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
