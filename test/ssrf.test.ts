// The SSRF guard end to end: hostile endpoint URLs refused by the API (422 naming
// TAPWIRE_ALLOWED_NETWORKS), the same URLs stored behind the API's back and hostile DNS answers
// refused when dialing, with a loopback trap listening where they all lead and counting zero
// requests. DNS is a stub injected into the server: no test here resolves a real name or sends a
// packet beyond loopback, which is why the dial-level tables only hold addresses that reach this
// host (the non-loopback answers are covered without dialing in src/delivery/ssrf-guard.test.ts).
import type { LookupAddress } from 'node:dns';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo, type LookupFunction, type Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BlockedDelivery } from '../src/delivery/delivery-worker.js';
import { createDeliveryAgent, sendWebhook } from '../src/delivery/send-webhook.js';
import { AddressPolicy, TENANT_REFUSAL } from '../src/delivery/ssrf-guard.js';
import pino from 'pino';
import {
  attemptsToEndpoint,
  createEndpoint,
  eventually,
  expectStatus,
  sendMessage,
  useDeliveryFixtures,
  waitForDestinationStatus,
} from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import type { TestTapwire } from './helpers/tapwire.js';
import { useBackend } from './helpers/tapwire.js';

const { setup, receiver, defer } = useDeliveryFixtures();

/** A server on 127.0.0.1 (and ::1 on the same port when this host has IPv6) that counts what reaches it. */
interface Trap {
  port: number;
  hasIPv6: boolean;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function startTrap(): Promise<Trap> {
  let connections = 0;
  const requests: string[] = [];
  const make = () => {
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.headers.host}${req.url}`);
      res.end('trapped');
    });
    server.on('connection', () => connections++);
    return server;
  };
  const trap = (port: number, servers: Server[]): Trap => ({
    port,
    hasIPv6: servers.length === 2,
    get connections() {
      return connections;
    },
    requests,
    close: async () => void (await Promise.all(servers.map(closeServer))),
  });
  for (let tries = 0; ; tries++) {
    const v4 = make();
    const port = await listen(v4, 0, '127.0.0.1');
    const v6 = make();
    try {
      await listen(v6, port, '::1');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && tries < 5) {
        await closeServer(v4);
        continue;
      }
      // No IPv6 loopback here: IPv6 forms still must be refused, there is just nothing to hit.
      return trap(port, [v4]);
    }
    return trap(port, [v4, v6]);
  }
}

/**
 * A DNS stub in dns.lookup's shape: names in `answers` resolve to their addresses (a function is
 * asked on every call), anything else is ENOTFOUND. Records every name asked.
 */
function dnsStub(answers: Record<string, string[] | ((call: number) => string[])>) {
  const asked: string[] = [];
  const calls = new Map<string, number>();
  const lookup = ((hostname: string, options: unknown, callback?: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, addresses: LookupAddress[] | string, family?: number) => void;
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
    asked.push(hostname);
    const call = (calls.get(hostname) ?? 0) + 1;
    calls.set(hostname, call);
    const entry = answers[hostname];
    const addresses = typeof entry === 'function' ? entry(call) : entry;
    queueMicrotask(() => {
      if (!addresses) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), all ? [] : '');
      const list = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
      if (all) cb(null, list);
      else cb(null, list[0]!.address, list[0]!.family);
    });
  }) as unknown as typeof import('node:dns').lookup;
  return { lookup, asked };
}

/**
 * Hostile endpoint URLs the API must refuse with 422. `loopback` marks those that lead to this host
 * (they point at the trap's port and are also stored behind the API's back and dialed).
 */
function hostileUrls(port: number): Array<{ url: string; loopback: boolean; never?: boolean }> {
  const lo = (url: string) => ({ url, loopback: true });
  const never = (url: string, loopback = false) => ({ url, loopback, never: true });
  const other = (url: string) => ({ url, loopback: false });
  return [
    // Every IPv4 notation of 127.0.0.1: the URL parser normalises them, the guard judges the result.
    lo(`http://127.0.0.1:${port}/`),
    lo(`http://127.1:${port}/shorthand`),
    lo(`http://127.0.1:${port}/shorthand3`),
    lo(`http://2130706433:${port}/decimal`),
    lo(`http://017700000001:${port}/octal-long`),
    lo(`http://0177.0.0.1:${port}/octal`),
    lo(`http://0x7f000001:${port}/hex-long`),
    lo(`http://0x7f.1:${port}/hex-short`),
    lo(`http://0x7f.0.0.1:${port}/hex`),
    lo(`http://0x7f.0x0.0x0.0x1:${port}/hex4`),
    lo(`http://127.000.000.001:${port}/zeros`),
    lo(`http://127.0.0.1.:${port}/trailing-dot`),
    lo(`http://%31%32%37.0.0.1:${port}/percent`),
    lo(`http://①②⑦.0.0.1:${port}/circled`),
    lo(`http://127.42.42.42:${port}/other-loopback`),
    lo(`https://127.0.0.1:${port}/tls`),
    // Unspecified: Linux connects 0.0.0.0 and :: to this host.
    never(`http://0.0.0.0:${port}/unspecified`, true),
    never(`http://0:${port}/zero`, true),
    never(`http://0x0:${port}/hex-zero`, true),
    never(`http://[::]:${port}/unspecified6`, true),
    never(`http://[::ffff:0.0.0.0]:${port}/mapped-unspecified`, true),
    // IPv6 spellings of loopback.
    lo(`http://[::1]:${port}/v6`),
    lo(`http://[0:0:0:0:0:0:0:1]:${port}/v6-long`),
    lo(`http://[::ffff:127.0.0.1]:${port}/mapped`),
    lo(`http://[::ffff:7f00:1]:${port}/mapped-hex`),
    lo(`http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/mapped-long`),
    // Names for this host, refused by name at create time.
    lo(`http://localhost:${port}/`),
    lo(`http://LOCALHOST.:${port}/dot`),
    lo(`http://api.localhost:${port}/sub`),
    lo(`http://ｌｏｃａｌｈｏｓｔ:${port}/fullwidth`),
    lo(`http://localhost.localdomain:${port}/`),
    lo(`http://ip6-localhost:${port}/`),
    // Embedded IPv4 forms (not dialed: they would leave this host if routed).
    other(`http://[::127.0.0.1]:${port}/compatible`),
    other(`http://[64:ff9b::127.0.0.1]:${port}/nat64`),
    other(`http://[2002:7f00:1::1]:${port}/6to4`),
    // Cloud metadata: never, whatever is allowed.
    never('http://169.254.169.254/latest/meta-data/iam/security-credentials/'),
    never('http://[::ffff:169.254.169.254]/latest/meta-data/'),
    never('http://[::ffff:a9fe:a9fe]/latest/meta-data/'),
    never('http://[64:ff9b::a9fe:a9fe]/latest/meta-data/'),
    never('http://2852039166/latest/meta-data/'),
    never('http://0xa9fea9fe/latest/meta-data/'),
    never('http://169.254.170.2/v2/credentials'),
    never('http://100.100.100.200/latest/meta-data/'),
    never('http://[fd00:ec2::254]/latest/meta-data/'),
    never('http://metadata.google.internal/computeMetadata/v1/'),
    never('http://metadata.google.internal./computeMetadata/v1/'),
    never('http://metadata/computeMetadata/v1/'),
    never('http://[fe80::1]/'),
    // Private and other non-public ranges.
    other('http://10.0.0.5/'),
    other('http://012.0.0.5/'),
    other('http://172.16.0.1/'),
    other('http://192.168.0.1/'),
    other('http://100.64.0.1/'),
    other('http://[fc00::1]/'),
    other('http://[fd12:3456::1]/'),
    other('http://[fec0::1]/'),
    other('http://224.0.0.1/'),
    other('http://255.255.255.255/'),
    other('http://240.0.0.1/'),
    other('http://198.18.0.1/'),
    other('http://192.0.2.1/'),
    other('http://192.0.0.8/'),
    other('http://[2001:db8::1]/'),
    other('http://[2001::1]/teredo'),
    other('http://[100::1]/discard'),
    other('http://[ff02::1]/'),
  ];
}

/** Hostile DNS answers that lead to this host: a name that passes create time, then what it resolves to. */
const LOOPBACK_ANSWERS: Record<string, string[]> = {
  'loopback.test': ['127.0.0.1'],
  'other-loopback.test': ['127.9.9.9'],
  'loopback6.test': ['::1'],
  'both-loopbacks.test': ['127.0.0.1', '::1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'mapped-hex.test': ['::ffff:7f00:1'],
  'unspecified.test': ['0.0.0.0'],
  'unspecified6.test': ['::'],
  'mapped-unspecified.test': ['::ffff:0.0.0.0'],
  '127.0.0.1.nip.io': ['127.0.0.1'],
  'localhost': ['127.0.0.1', '::1'],
  'localhost.': ['127.0.0.1', '::1'],
  'api.localhost': ['127.0.0.1', '::1'],
  'localhost.localdomain': ['127.0.0.1'],
  'ip6-localhost': ['::1'],
  // A resolver that answers inet_aton-style text: Node would not take it as an address either.
  'octal-answer.test': ['0177.0.0.1'],
  'hex-answer.test': ['0x7f.1'],
};

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('at create and update time', () => {
    let trap: Trap;
    beforeAll(async () => {
      trap = await startTrap();
      return () => trap.close();
    });

    it('refuses every hostile URL with 422 naming TAPWIRE_ALLOWED_NETWORKS (or saying never), storing nothing', async () => {
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' }, { lookup: dnsStub({}).lookup });
      const table = hostileUrls(trap.port);
      expect(table.length).toBeGreaterThanOrEqual(40);
      for (const { url, never } of table) {
        const res = await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url });
        expect(res.status, `${url}: ${res.text}`).toBe(422);
        const message = JSON.stringify(res.body.detail);
        if (never) expect(message, url).toMatch(/never allowed/);
        else expect(message, url).toContain('allow it with TAPWIRE_ALLOWED_NETWORKS');
      }
      expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint`), 200, 'list').body.data).toEqual([]);
      expect(trap.connections).toBe(0);
    });

    it('refuses them on PATCH and PUT too', async () => {
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' }, { lookup: dnsStub({}).lookup });
      const ep = await createEndpoint(tw, appId, { url: 'https://receiver.test/hook' });
      for (const { url } of hostileUrls(trap.port).slice(0, 12)) {
        expect((await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { url })).status, url).toBe(422);
        expect((await tw.api('PUT', `/api/v1/app/${appId}/endpoint/${ep.id}`, { url })).status, url).toBe(422);
      }
      const stored = await tw.server.store.getEndpoint(appId, ep.id);
      expect(stored?.url).toBe('https://receiver.test/hook');
    });

    it('keeps metadata refused when every network is allowed', async () => {
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '0.0.0.0/0,::/0' }, { lookup: dnsStub({}).lookup });
      for (const { url, never } of hostileUrls(trap.port)) {
        const res = await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url });
        expect(res.status, `${url}: ${res.text}`).toBe(never ? 422 : 201);
      }
    });

    it('accepts names it cannot judge yet, leaving them to the dialed address', async () => {
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' }, { lookup: dnsStub({}).lookup });
      for (const url of ['https://hooks.example.com/x', 'https://api.corp.internal/x', 'https://127.0.0.1.nip.io/x', 'https://metadata.example.com/']) {
        expect((await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url })).status, url).toBe(201);
      }
    });
  });

  describe('when dialing', () => {
    let trap: Trap;
    beforeAll(async () => {
      trap = await startTrap();
      return () => trap.close();
    });
    afterEach(() => {
      expect(trap.requests, 'the trap must never see a request').toEqual([]);
    });

    /**
     * Create one endpoint per URL through the API with a harmless URL, then store the hostile URL
     * directly (as an older configuration or another process could have), send one message to all,
     * and wait until every delivery has failed. Returns the attempts per URL.
     */
    async function deliverTo(tw: TestTapwire, appId: string, urls: string[]): Promise<Map<string, any[]>> {
      const endpoints: Array<{ id: string; url: string }> = [];
      for (const [index, url] of urls.entries()) {
        const ep = await createEndpoint(tw, appId, { url: `https://placeholder-${index}.test/` });
        const stored = (await tw.server.store.getEndpoint(appId, ep.id))!;
        await tw.server.store.updateEndpoint({ ...stored, url });
        endpoints.push({ id: ep.id, url });
      }
      const msgId = await sendMessage(tw, appId, { eventType: 'ssrf.probe', payload: { probe: true } });
      const result = new Map<string, any[]>();
      for (const { id, url } of endpoints) {
        await waitForDestinationStatus(tw, appId, msgId, id, 2);
        result.set(url, await attemptsToEndpoint(tw, appId, id));
      }
      return result;
    }

    it('refuses every stored hostile URL that leads to this host: failed attempts, retried, zero requests', async () => {
      const blocked: BlockedDelivery[] = [];
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' }, { lookup: dnsStub(LOOPBACK_ANSWERS).lookup, onBlocked: (event) => blocked.push(event) });
      const urls = hostileUrls(trap.port)
        .filter((entry) => entry.loopback)
        .map((entry) => entry.url);
      const attempts = await deliverTo(tw, appId, urls);
      let total = 0;
      for (const [url, list] of attempts) {
        // Blocked is retryable (DNS and configuration change): the whole schedule runs.
        expect(list, url).toHaveLength(3);
        for (const attempt of list) {
          expect(attempt.responseStatusCode, url).toBe(0);
          expect(attempt.response, url).toMatch(/^Blocked: /);
          expect(attempt.response, url).toMatch(/TAPWIRE_ALLOWED_NETWORKS|never allowed/);
        }
        total += list.length;
      }
      expect(blocked).toHaveLength(total);
      expect(blocked[0]).toMatchObject({ appId, reason: expect.stringMatching(/^Blocked: /) });
      expect(trap.connections).toBe(0);
    });

    it('shows tenants a generic refusal, and the detail only to the admin token and the log', async () => {
      const logged: Array<Record<string, any>> = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' }, { lookup: dnsStub({ 'vm.test': ['10.20.30.40'] }).lookup, logger });
      const url = `http://vm.test:${trap.port}/hook`;
      const attempts = (await deliverTo(tw, appId, [url])).get(url)!;
      expect(attempts).toHaveLength(3);
      const detail = /^Blocked: vm\.test resolves to 10\.20\.30\.40; 10\.20\.30\.40 is in a non-public range \(private\)/;
      for (const attempt of attempts) expect(attempt.response).toMatch(detail);
      const { msgId, endpointId, id: attemptId } = attempts[0];

      const minted = await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, {});
      expect(minted.status).toBe(200);
      const paths = [`/api/v1/app/${appId}/attempt/endpoint/${endpointId}`, `/api/v1/app/${appId}/attempt/msg/${msgId}`, `/api/v1/app/${appId}/msg/${msgId}/attempt/${attemptId}`];
      for (const path of paths) {
        const asTenant = await tw.api('GET', path, undefined, { token: minted.body.token });
        expect(asTenant.status, path).toBe(200);
        const seen = asTenant.body.data ?? [asTenant.body];
        expect(seen.length, path).toBeGreaterThan(0);
        for (const attempt of seen) expect(attempt, path).toMatchObject({ response: TENANT_REFUSAL, responseStatusCode: 0 });
        expect(asTenant.text, path).not.toMatch(/10\.20\.30\.40|resolves to|TAPWIRE_ALLOWED_NETWORKS/);
        const asOperator = await tw.api('GET', path);
        for (const attempt of asOperator.body.data ?? [asOperator.body]) expect(attempt.response, path).toMatch(detail);
      }
      expect(TENANT_REFUSAL).toBe("Blocked: the destination is not allowed by this server's network policy");

      const refusals = logged.filter((line) => line.msg === 'attempt refused by the network policy');
      expect(refusals).toHaveLength(3);
      expect(refusals.map((line) => line.attemptId).sort()).toEqual(attempts.map((attempt) => attempt.id).sort());
      for (const line of refusals) expect(line).toMatchObject({ level: 40, appId, endpointId, msgId, url, refusal: expect.stringMatching(detail) });
    });

    it('refuses every hostile DNS answer, judging the address and not the name', async () => {
      const dns = dnsStub(LOOPBACK_ANSWERS);
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' }, { lookup: dns.lookup });
      const names = Object.keys(LOOPBACK_ANSWERS);
      const attempts = await deliverTo(tw, appId, names.map((name) => `http://${name}:${trap.port}/dns`));
      for (const name of names) {
        const list = attempts.get(`http://${name}:${trap.port}/dns`)!;
        expect(list, name).toHaveLength(3);
        for (const attempt of list) {
          expect(attempt.responseStatusCode, name).toBe(0);
          expect(attempt.response, name).toMatch(new RegExp(`^Blocked: ${name.replace(/\./g, '\\.')} resolves to `));
        }
        // Asked again on every attempt: a name is never trusted because it was fine before.
        expect(dns.asked.filter((asked) => asked === name).length, name).toBeGreaterThanOrEqual(3);
      }
      expect(attempts.get(`http://mapped.test:${trap.port}/dns`)![0].response).toBe(
        'Blocked: mapped.test resolves to ::ffff:127.0.0.1; 127.0.0.1 is in a non-public range (loopback); allow it with TAPWIRE_ALLOWED_NETWORKS',
      );
      expect(attempts.get(`http://unspecified.test:${trap.port}/dns`)![0].response).toMatch(/0\.0\.0\.0 is an unspecified address, which is never allowed/);
      expect(trap.connections).toBe(0);
    });

    it('judges a rebinding name on each connection: delivered while it answers an allowed address, refused once it answers another', async () => {
      // Only 127.0.0.2 is allowed: the legitimate receiver listens there, the trap on 127.0.0.1.
      const legit = createServer((req, res) => {
        req.resume();
        // A fresh connection per delivery, so the second one must resolve (and be judged) again.
        res.writeHead(200, { connection: 'close' }).end('ok');
      });
      const legitRequests: string[] = [];
      legit.on('request', (req: IncomingMessage) => legitRequests.push(req.url ?? ''));
      await listen(legit, trap.port, '127.0.0.2');
      defer(() => closeServer(legit));
      let answer = '127.0.0.2';
      const dns = dnsStub({ 'rebind.test': () => [answer] });
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '127.0.0.2/32', TAPWIRE_RETRY_SCHEDULE: 'none' }, { lookup: dns.lookup });
      const ep = await createEndpoint(tw, appId, { url: `http://rebind.test:${trap.port}/hook` });
      const first = await sendMessage(tw, appId, { eventType: 'ssrf.probe', payload: { n: 1 } });
      await waitForDestinationStatus(tw, appId, first, ep.id, 0);
      expect(legitRequests).toEqual(['/hook']);

      answer = '127.0.0.1';
      const second = await sendMessage(tw, appId, { eventType: 'ssrf.probe', payload: { n: 2 } });
      await waitForDestinationStatus(tw, appId, second, ep.id, 2);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => a.responseStatusCode)).toEqual([200, 0]);
      expect(attempts[1].response).toMatch(/^Blocked: rebind\.test resolves to 127\.0\.0\.1; 127\.0\.0\.1 is in a non-public range \(loopback\)/);
      expect(legitRequests).toEqual(['/hook']);
      expect(trap.connections).toBe(0);
    });

    it('enforces TAPWIRE_HTTPS_ONLY on stored http:// URLs without making a request', async () => {
      const rx = await receiver();
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8', TAPWIRE_HTTPS_ONLY: 'true' }, { lookup: dnsStub({}).lookup });
      const attempts = await deliverTo(tw, appId, [`${rx.url}/plain`]);
      const list = attempts.get(`${rx.url}/plain`)!;
      expect(list).toHaveLength(3);
      for (const attempt of list) {
        expect(attempt.responseStatusCode).toBe(0);
        expect(attempt.response).toMatch(/^Blocked: the URL uses http:\/\/ while TAPWIRE_HTTPS_ONLY is on/);
      }
      expect(rx.requests).toHaveLength(0);
    });
  });
});

describe('the delivery agent', () => {
  let trap: Trap;
  beforeAll(async () => {
    trap = await startTrap();
    return () => trap.close();
  });
  const policy = new AddressPolicy([]);

  it('judges the remote address of every connection, whatever resolved the name', async () => {
    // An unguarded resolver (say, a misconfigured one): the socket-level check still refuses.
    const events: Array<[string | null, string]> = [];
    const agent = createDeliveryAgent({
      lookup: dnsStub({ 'sneaky.test': ['127.0.0.1'] }).lookup as unknown as LookupFunction,
      refuseAddress: (address) => policy.refusalFor(address),
      onBlocked: (address, reason) => events.push([address, reason]),
    });
    defer(() => agent.close());
    const before = trap.connections;
    const result = await sendWebhook({ url: `http://sneaky.test:${trap.port}/`, headers: {}, body: '{}', timeoutMs: 2000, maxResponseBytes: 100, dispatcher: agent });
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'blocked' });
    expect(result.responseBody).toBe('Blocked: connected to 127.0.0.1; 127.0.0.1 is in a non-public range (loopback); allow it with TAPWIRE_ALLOWED_NETWORKS');
    expect(events).toEqual([['127.0.0.1', result.responseBody]]);
    // The TCP connection was made (that is what is judged) and dropped before a byte was written.
    await eventually(async () => trap.connections, (n) => n === before + 1, { what: 'the trap seeing the connection' });
    expect(trap.requests).toEqual([]);
  });

  it('refuses IP literals before connecting and reports each refusal', async () => {
    const events: Array<string | null> = [];
    const agent = createDeliveryAgent({
      lookup: policy.guardedLookup(dnsStub({ 'loopback.test': ['127.0.0.1'] }).lookup) as unknown as LookupFunction,
      refuseAddress: (address) => policy.refusalFor(address),
      onBlocked: (address) => events.push(address),
    });
    defer(() => agent.close());
    const before = trap.connections;
    for (const url of [`http://127.0.0.1:${trap.port}/`, `http://[::ffff:127.0.0.1]:${trap.port}/`, `http://loopback.test:${trap.port}/`]) {
      const result = await sendWebhook({ url, headers: {}, body: '{}', timeoutMs: 2000, maxResponseBytes: 100, dispatcher: agent });
      expect(result, url).toMatchObject({ ok: false, statusCode: 0, reason: 'blocked' });
    }
    expect(events).toEqual(['127.0.0.1', '::ffff:7f00:1', '127.0.0.1']);
    expect(trap.connections).toBe(before);
    expect(trap.requests).toEqual([]);
  });
});

/**
 * A loopback forward proxy: CONNECT tunnels and absolute-form requests, each to a target name
 * resolved from its own table (the proxy, not Tapwire, resolves and dials). Records every target.
 */
async function startProxy(hosts: Record<string, string>): Promise<{ url: string; forwarded: string[]; close(): Promise<void> }> {
  const forwarded: string[] = [];
  const sockets = new Set<Socket>();
  const resolve = (host: string) => hosts[host] ?? null;
  const server = createServer((req, res) => {
    // Absolute-form: GET http://host:port/path HTTP/1.1
    const target = new URL(req.url ?? '');
    forwarded.push(`${req.method} ${target.host}`);
    const address = resolve(target.hostname);
    if (!address) return void res.writeHead(502).end('unknown host');
    const upstream = httpRequest({ host: address, port: target.port, method: req.method, path: target.pathname + target.search, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    forwarded.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const address = resolve(host ?? '');
    if (!address) return void client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    const upstream = netConnect(Number(port), address, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    async close() {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
}

describe.each(await backends())('%s: through TAPWIRE_PROXY_URL', (backend) => {
  useBackend(backend);

  async function proxied(env: Record<string, string> = {}) {
    const proxy = await startProxy({ 'receiver.test': '127.0.0.1' });
    defer(() => proxy.close());
    const dns = dnsStub({});
    const blocked: BlockedDelivery[] = [];
    const { tw, appId } = await setup(
      { TAPWIRE_ALLOWED_NETWORKS: '', TAPWIRE_PROXY_URL: proxy.url, ...env },
      { lookup: dns.lookup, onBlocked: (event) => blocked.push(event) },
    );
    expect(tw.config.proxyUrl).toBe(proxy.url);
    return { tw, appId, proxy, dns, blocked };
  }

  it('delivers through the proxy, which resolves and dials the target', async () => {
    const rx = await receiver();
    const { tw, appId, proxy, dns } = await proxied();
    const ep = await createEndpoint(tw, appId, { url: `http://receiver.test:${rx.port}/via-proxy` });
    const msgId = await sendMessage(tw, appId, { eventType: 'ssrf.probe', payload: { via: 'proxy' } });
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
    expect(rx.requests.map((r) => r.path)).toEqual(['/via-proxy']);
    expect(rx.requests[0]!.headers['webhook-id']).toBe(msgId);
    expect(proxy.forwarded).toEqual([`CONNECT receiver.test:${rx.port}`]);
    // Tapwire resolved nothing itself.
    expect(dns.asked).toEqual([]);
  });

  it('still refuses IP literals, localhost and metadata names before anything reaches the proxy', async () => {
    const rx = await receiver();
    const { tw, appId, proxy, blocked } = await proxied();
    const urls = [
      `http://127.0.0.1:${rx.port}/literal`,
      `http://2130706433:${rx.port}/decimal`,
      `http://[::ffff:127.0.0.1]:${rx.port}/mapped`,
      `http://localhost:${rx.port}/name`,
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://169.254.169.254/latest/meta-data/',
    ];
    for (const [index, url] of urls.entries()) {
      const ep = await createEndpoint(tw, appId, { url: `https://placeholder-${index}.test/` });
      const stored = (await tw.server.store.getEndpoint(appId, ep.id))!;
      await tw.server.store.updateEndpoint({ ...stored, url });
    }
    const msgId = await sendMessage(tw, appId, { eventType: 'ssrf.probe', payload: {} });
    const endpoints = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint`), 200, 'list').body.data as Array<{ id: string; url: string }>;
    for (const ep of endpoints) {
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      for (const attempt of await attemptsToEndpoint(tw, appId, ep.id)) {
        expect(attempt.responseStatusCode, ep.url).toBe(0);
        expect(attempt.response, ep.url).toMatch(/^Blocked: .*(TAPWIRE_ALLOWED_NETWORKS|never allowed)/);
      }
    }
    expect(blocked.length).toBe(urls.length * 3);
    expect(proxy.forwarded).toEqual([]);
    expect(rx.requests).toHaveLength(0);
  });

  it('never follows a redirect through the proxy, and keeps the one deadline', async () => {
    const rx = await receiver();
    rx.respond((req) => (req.path === '/hang' ? 'hang' : { status: 302, headers: { location: `http://receiver.test:${rx.port}/elsewhere` } }));
    const { tw, appId, proxy } = await proxied({ TAPWIRE_REQUEST_TIMEOUT: '300ms', TAPWIRE_RETRY_SCHEDULE: 'none' });
    const moved = await createEndpoint(tw, appId, { url: `http://receiver.test:${rx.port}/moved` });
    const hang = await createEndpoint(tw, appId, { url: `http://receiver.test:${rx.port}/hang` });
    const msgId = await sendMessage(tw, appId, { eventType: 'ssrf.probe', payload: {} });
    await waitForDestinationStatus(tw, appId, msgId, moved.id, 2);
    await waitForDestinationStatus(tw, appId, msgId, hang.id, 2);
    const [redirected] = await attemptsToEndpoint(tw, appId, moved.id);
    expect(redirected.responseStatusCode).toBe(302);
    const [timedOut] = await attemptsToEndpoint(tw, appId, hang.id);
    expect(timedOut.responseStatusCode).toBe(0);
    expect(timedOut.response).toMatch(/Timed out after 300 ms/);
    expect(rx.requests.map((r) => r.path).sort()).toEqual(['/hang', '/moved']);
    expect(proxy.forwarded.every((f) => f === `CONNECT receiver.test:${rx.port}`)).toBe(true);
  });

  it('refuses http:// under TAPWIRE_HTTPS_ONLY before reaching the proxy', async () => {
    const rx = await receiver();
    const { tw, appId, proxy } = await proxied({ TAPWIRE_HTTPS_ONLY: 'true', TAPWIRE_RETRY_SCHEDULE: 'none' });
    const ep = await createEndpoint(tw, appId, { url: `https://placeholder.test/` });
    const stored = (await tw.server.store.getEndpoint(appId, ep.id))!;
    await tw.server.store.updateEndpoint({ ...stored, url: `http://receiver.test:${rx.port}/plain` });
    const msgId = await sendMessage(tw, appId, { eventType: 'ssrf.probe', payload: {} });
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
    const [attempt] = await attemptsToEndpoint(tw, appId, ep.id);
    expect(attempt.response).toMatch(/^Blocked: the URL uses http:\/\/ while TAPWIRE_HTTPS_ONLY is on/);
    expect(proxy.forwarded).toEqual([]);
    expect(rx.requests).toHaveLength(0);
  });
});
