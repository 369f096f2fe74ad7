// Operational webhook endpoints (Svix's /api/v1/operational-webhook/endpoint) through both official
// client majors: every method round-trips its fields with Svix's status codes; endpoints created
// through the API (no TAPWIRE_OPERATIONAL_WEBHOOK_URL) receive the operational events their
// filterTypes admit, signed with their own secrets (both during a rotation), with their custom
// headers; the API is the admin's alone; TAPWIRE_OPERATIONAL_WEBHOOK_URL still creates the first
// endpoint at start, beside those made through the API.
import { randomUUID } from 'node:crypto';
import { ApiException, Svix as Svix1 } from 'svix';
import { Svix as Svix2 } from 'svix2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONAL_APP_UID, OPERATIONAL_ENDPOINT_UID } from '../src/operational/operational-events.js';
import { verifySignature } from '../src/signing/standard-webhooks.js';
import { expectError, expectNo5xx, expectValidation, guardApi, guardedFetch, type ApiFn } from './helpers/api-guard.js';
import { eventually, flatHeaders } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startReceiver, type ReceivedRequest, type Receiver } from './helpers/receiver.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROTATED = 'whsec_QjOyIDhXu7yJB4B6sDfyZMZb8G1AyVJO';

interface OutShape {
  id: string;
  url: string;
  description: string;
  uid?: string | null;
  disabled?: boolean;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

/** The 1.x and 2.x clients name the filter, the rate, PUT and the header setter differently; this is one face for both. */
interface OpsClient {
  list(options?: { limit?: number; iterator?: string | null }): Promise<{ data: OutShape[]; iterator: string | null; done: boolean }>;
  create(body: { url: string; description?: string; uid?: string; disabled?: boolean; filter?: string[]; rate?: number; secret?: string; metadata?: Record<string, string> }): Promise<OutShape>;
  get(id: string): Promise<OutShape>;
  put(id: string, body: { url: string; description?: string; uid?: string; disabled?: boolean; filter?: string[]; rate?: number; metadata?: Record<string, string> }): Promise<OutShape>;
  delete(id: string): Promise<void>;
  getSecret(id: string): Promise<{ key: string }>;
  rotateSecret(id: string, body?: { key?: string; gracePeriodSeconds?: number }): Promise<void>;
  getHeaders(id: string): Promise<{ headers: Record<string, string>; sensitive: string[] }>;
  setHeaders(id: string, headers: Record<string, string>): Promise<void>;
  filterOf(out: OutShape): string[] | null | undefined;
  rateOf(out: OutShape): number | null | undefined;
}

function opsClient1(token: string, url: string): OpsClient {
  const api = new Svix1(token, { serverUrl: url, fetch: guardedFetch }).operationalWebhookEndpoint;
  const body = (b: Parameters<OpsClient['put']>[1]) => ({ url: b.url, description: b.description, uid: b.uid, disabled: b.disabled, filterTypes: b.filter, rateLimit: b.rate, metadata: b.metadata });
  return {
    list: (o) => api.list(o),
    create: (b) => api.create({ ...body(b), secret: b.secret }),
    get: (id) => api.get(id),
    put: (id, b) => api.update(id, body(b)),
    delete: (id) => api.delete(id),
    getSecret: (id) => api.getSecret(id),
    rotateSecret: (id, b) => api.rotateSecret(id, b ?? {}),
    getHeaders: (id) => api.getHeaders(id),
    setHeaders: (id, headers) => api.updateHeaders(id, { headers }),
    filterOf: (out) => (out as { filterTypes?: string[] | null }).filterTypes,
    rateOf: (out) => (out as { rateLimit?: number | null }).rateLimit,
  };
}

function opsClient2(token: string, url: string): OpsClient {
  const api = new Svix2(token, { serverUrl: url, fetch: guardedFetch }).operationalWebhook.endpoint;
  const body = (b: Parameters<OpsClient['put']>[1]) => ({ url: b.url, description: b.description, uid: b.uid, disabled: b.disabled, eventTypes: b.filter, throttleRate: b.rate, metadata: b.metadata });
  return {
    list: (o) => api.list(o),
    create: (b) => api.create({ ...body(b), secret: b.secret }),
    get: (id) => api.get(id),
    put: (id, b) => api.upsert(id, body(b)),
    delete: (id) => api.delete(id),
    getSecret: (id) => api.getSecret(id),
    rotateSecret: (id, b) => api.rotateSecret(id, b ?? {}),
    getHeaders: (id) => api.getHeaders(id),
    setHeaders: (id, headers) => api.setHeaders(id, { headers }),
    filterOf: (out) => (out as { eventTypes?: string[] | null }).eventTypes,
    rateOf: (out) => (out as { throttleRate?: number | null }).throttleRate,
  };
}

const MAJORS = [
  { major: '1.x', make: opsClient1 },
  { major: '2.x', make: opsClient2 },
] as const;

interface OpsEvent {
  type: string;
  data: Record<string, unknown>;
  msgId: string;
  headers: Record<string, string>;
}

/** Events a receiver got, each checked to be signed with one of `secrets` (and, with `every`, with each of them). */
function eventsAt(rx: Receiver, secrets: string[], every = false): OpsEvent[] {
  return rx.requests.map((req: ReceivedRequest) => {
    const headers = flatHeaders(req.headers);
    const check = (keys: string[]) =>
      verifySignature({ msgId: headers['webhook-id']!, timestampSeconds: headers['webhook-timestamp']!, body: req.body, signatureHeader: headers['webhook-signature']!, secrets: keys });
    if (every) for (const secret of secrets) expect(check([secret]), `signed with ${secret.slice(0, 10)}…`).toBe(true);
    else expect(check(secrets)).toBe(true);
    const body = JSON.parse(req.body.toString('utf8')) as { type: string; data: Record<string, unknown> };
    return { type: body.type, data: body.data, msgId: headers['webhook-id']!, headers };
  });
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  const receivers: Receiver[] = [];

  async function receiver(): Promise<Receiver> {
    const rx = await startReceiver();
    receivers.push(rx);
    return rx;
  }

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
  });
  afterAll(async () => {
    await tw?.close();
    for (const rx of receivers) await rx.close();
  });
  afterEach(() => expectNo5xx());

  describe.each(MAJORS)('the official svix client $major', ({ make }) => {
    let ops: OpsClient;
    beforeAll(() => {
      ops = make(ADMIN_TOKEN, tw.url);
    });

    it('creates, gets (by id and uid), lists, replaces and deletes operational endpoints', async () => {
      const tag = randomUUID().slice(0, 8);
      const created = await ops.create({
        url: 'http://127.0.0.1:9/ops', description: 'Pager', uid: `pager-${tag}`, filter: ['endpoint.disabled', 'message.attempt.exhausted'], rate: 7, metadata: { team: 'sre' }, secret: SECRET,
      });
      expect(created.id).toMatch(/^ep_[0-9A-Za-z]{27}$/);
      expect(created).toMatchObject({ url: 'http://127.0.0.1:9/ops', description: 'Pager', uid: `pager-${tag}`, disabled: false, metadata: { team: 'sre' } });
      expect(ops.filterOf(created)).toEqual(['endpoint.disabled', 'message.attempt.exhausted']);
      expect(ops.rateOf(created)).toBe(7);
      expect(created.createdAt).toBeInstanceOf(Date);
      expect(Number.isNaN(created.createdAt.getTime())).toBe(false);

      expect(await ops.get(created.id)).toEqual(created);
      expect((await ops.get(`pager-${tag}`)).id).toBe(created.id);
      expect((await ops.getSecret(created.id)).key).toBe(SECRET);

      const replaced = await ops.put(created.id, { url: 'http://127.0.0.1:9/ops2', filter: ['endpoint.created'], disabled: true });
      expect(replaced).toMatchObject({ id: created.id, url: 'http://127.0.0.1:9/ops2', description: '', disabled: true, metadata: {} });
      expect(ops.filterOf(replaced)).toEqual(['endpoint.created']);
      expect(ops.rateOf(replaced)).toBeUndefined();
      // PUT of an unknown uid creates it (answering 200, as Svix's upsert does).
      const upserted = await ops.put(`by-put-${tag}`, { url: 'http://127.0.0.1:9/put' });
      expect(upserted).toMatchObject({ uid: `by-put-${tag}`, url: 'http://127.0.0.1:9/put' });
      expect((await api('PUT', `/api/v1/operational-webhook/endpoint/by-put-${tag}`, { url: 'http://127.0.0.1:9/put' })).status).toBe(200);

      const listed = await ops.list({ limit: 250 });
      expect(listed.data.map((e) => e.id)).toEqual(expect.arrayContaining([created.id, upserted.id]));
      const page = await ops.list({ limit: 1 });
      expect(page.data).toHaveLength(1);
      expect(page.done).toBe(false);
      expect((await ops.list({ limit: 1, iterator: page.iterator })).data[0]!.id).not.toBe(page.data[0]!.id);

      await ops.delete(created.id);
      await ops.delete(upserted.id);
      const gone = await ops.get(created.id).then(() => null, (e: unknown) => e);
      expect(gone).toBeInstanceOf(Error);
      expect((gone as ApiException<unknown>).code).toBe(404);
      expectError(await api('DELETE', `/api/v1/operational-webhook/endpoint/${created.id}`), 404, 'not_found');
    });

    it('rotates the secret and replaces the custom headers', async () => {
      const ep = await ops.create({ url: 'http://127.0.0.1:9/rotate' });
      const generated = (await ops.getSecret(ep.id)).key;
      expect(generated).toMatch(/^whsec_/);
      await ops.rotateSecret(ep.id, { key: ROTATED, gracePeriodSeconds: 0 });
      expect((await ops.getSecret(ep.id)).key).toBe(ROTATED);
      await ops.rotateSecret(ep.id);
      expect((await ops.getSecret(ep.id)).key).not.toBe(ROTATED);

      expect(await ops.getHeaders(ep.id)).toEqual({ headers: {}, sensitive: [] });
      await ops.setHeaders(ep.id, { 'X-Team': 'sre', Authorization: 'Bearer pager-secret' });
      expect(await ops.getHeaders(ep.id)).toEqual({ headers: { 'X-Team': 'sre' }, sensitive: ['Authorization'] });
      await ops.setHeaders(ep.id, { 'X-Other': '1' });
      expect((await ops.getHeaders(ep.id)).headers).toEqual({ 'X-Other': '1' });
      await ops.delete(ep.id);
    });
  });

  it('refuses a filter that names no operational event, and every token but the admin\'s', async () => {
    const bad = await api('POST', '/api/v1/operational-webhook/endpoint', { url: 'http://127.0.0.1:9/x', filterTypes: ['endpoint.created', 'invoice.paid'] });
    const [issue] = expectValidation(bad);
    expect(issue!.loc.map(String)).toEqual(['body', 'filterTypes', '1']);
    expect(issue!.msg).toContain('invoice.paid');
    expect((await api('POST', '/api/v1/operational-webhook/endpoint', { url: 'ftp://nope' })).status).toBe(422);
    const app = (await api('POST', '/api/v1/app', { name: 'Tenant' })).body;
    const portal = await api('POST', `/api/v1/auth/app-portal-access/${app.id}`, {});
    for (const [method, path] of [
      ['GET', '/api/v1/operational-webhook/endpoint'],
      ['POST', '/api/v1/operational-webhook/endpoint'],
    ] as const) {
      expectError(await api(method, path, method === 'POST' ? { url: 'http://127.0.0.1:9/x' } : undefined, { token: portal.body.token }), 403, 'insufficient access');
      expectError(await api(method, path, undefined, { token: null }), 401, 'authentication_failed');
    }
  });

  it('delivers operational events to every endpoint made through the API, as each one\'s filter admits, signed and with its headers', async () => {
    const [everything, lifecycle, deletions, disabledRx] = [await receiver(), await receiver(), await receiver(), await receiver()];
    const post = async (body: Record<string, unknown>) => (await api('POST', '/api/v1/operational-webhook/endpoint', body)).body;
    const all = await post({ url: `${everything.url}/all`, secret: SECRET });
    const life = await post({ url: `${lifecycle.url}/life`, filterTypes: ['endpoint.created', 'endpoint.updated'] });
    const del = await post({ url: `${deletions.url}/del`, eventTypes: ['endpoint.deleted'], headers: { 'X-Pager': 'on-call' } });
    await post({ url: `${disabledRx.url}/off`, disabled: true });
    const lifeSecret = (await api('GET', `/api/v1/operational-webhook/endpoint/${life.id}/secret`)).body.key;
    const delSecret = (await api('GET', `/api/v1/operational-webhook/endpoint/${del.id}/secret`)).body.key;

    const app = (await api('POST', '/api/v1/app', { name: 'Customer', uid: `cust-${randomUUID().slice(0, 8)}` })).body;
    const ep = (await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/hook' })).body;
    expect((await api('PATCH', `/api/v1/app/${app.id}/endpoint/${ep.id}`, { description: 'changed' })).status).toBe(200);
    expect((await api('DELETE', `/api/v1/app/${app.id}/endpoint/${ep.id}`)).status).toBe(204);

    await everything.waitFor((r) => r.length >= 3);
    await lifecycle.waitFor((r) => r.length >= 2);
    await deletions.waitFor((r) => r.length >= 1);
    const expected = { appId: app.id, appUid: app.uid, endpointId: ep.id, endpointUid: null };
    expect(eventsAt(everything, [SECRET]).map((e) => [e.type, e.data])).toEqual([
      ['endpoint.created', expected],
      ['endpoint.updated', expected],
      ['endpoint.deleted', expected],
    ]);
    expect(eventsAt(lifecycle, [lifeSecret]).map((e) => e.type)).toEqual(['endpoint.created', 'endpoint.updated']);
    const [deleted] = eventsAt(deletions, [delSecret]);
    expect(deleted).toMatchObject({ type: 'endpoint.deleted', data: expected });
    expect(deleted!.headers['x-pager']).toBe('on-call');
    // One message per event, fanned out: the same webhook-id reaches every endpoint that takes it.
    expect(deleted!.msgId).toBe(eventsAt(everything, [SECRET])[2]!.msgId);

    // During a rotation both secrets sign; the events are logged like any message.
    expect((await api('POST', `/api/v1/operational-webhook/endpoint/${all.id}/secret/rotate`, { key: ROTATED })).status).toBe(204);
    expect((await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/hook2' })).status).toBe(201);
    await everything.waitFor((r) => r.length >= 4);
    await lifecycle.waitFor((r) => r.length >= 3);
    const last = { requests: [everything.requests[3]!] } as Receiver;
    expect(eventsAt(last, [SECRET, ROTATED], true)[0]!.type).toBe('endpoint.created');
    // The worker records each attempt just after the receiver answers.
    await eventually(
      async () => (await api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/attempt/endpoint/${all.id}`)).body.data.length,
      (n: number) => n >= 4,
      { what: 'four attempts logged' },
    );
    // The reserved application holds them, reachable by its uid and left out of the application list.
    const opsApp = (await api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}`)).body;
    expect(opsApp.uid).toBe(OPERATIONAL_APP_UID);
    expect(((await api('GET', '/api/v1/app?limit=250')).body.data as { id: string }[]).map((a) => a.id)).not.toContain(opsApp.id);
    // Changes to operational endpoints themselves raise no operational event, and the disabled one got nothing.
    expect(deletions.requests).toHaveLength(1);
    expect(disabledRx.requests).toHaveLength(0);
  });

  it('sends the worker\'s events (message.attempt.exhausted) to an endpoint made through the API', async () => {
    const exhausted = await receiver();
    const failing = await receiver();
    failing.respond(() => ({ status: 500 }));
    const ops = (await api('POST', '/api/v1/operational-webhook/endpoint', { url: `${exhausted.url}/x`, filterTypes: ['message.attempt.exhausted'] })).body;
    const secret = (await api('GET', `/api/v1/operational-webhook/endpoint/${ops.id}/secret`)).body.key;
    const app = (await api('POST', '/api/v1/app', { name: 'Failing customer' })).body;
    const ep = (await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${failing.url}/hook` })).body;
    const msg = (await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'invoice.paid', payload: { n: 1 } })).body;
    await exhausted.waitFor((r) => r.length >= 1);
    const [event] = eventsAt(exhausted, [secret]);
    expect(event).toMatchObject({ type: 'message.attempt.exhausted', data: { appId: app.id, msgId: msg.id, endpointId: ep.id } });
    expect(failing.requests).toHaveLength(3);
  });
});

describe.each(await backends())('%s: TAPWIRE_OPERATIONAL_WEBHOOK_URL', (backend) => {
  useBackend(backend);

  it('creates the first operational endpoint at start, beside those made through the API, and keeps both across restarts', async () => {
    const configured = await startReceiver();
    const viaApi = await startReceiver();
    const env = { TAPWIRE_OPERATIONAL_WEBHOOK_URL: `${configured.url}/ops`, TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: SECRET };
    const first = await startTapwire(env);
    try {
      const listed = (await first.api('GET', '/api/v1/operational-webhook/endpoint')).body.data;
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ uid: OPERATIONAL_ENDPOINT_UID, url: `${configured.url}/ops` });
      const extra = (await first.api('POST', '/api/v1/operational-webhook/endpoint', { url: `${viaApi.url}/api`, filterTypes: ['endpoint.created'] })).body;
      // An operator's change to the configured endpoint's URL lasts until the next start.
      expect((await first.api('PUT', `/api/v1/operational-webhook/endpoint/${OPERATIONAL_ENDPOINT_UID}`, { url: `${viaApi.url}/moved` })).status).toBe(200);

      const app = (await first.api('POST', '/api/v1/app', { name: 'Customer' })).body;
      await first.api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/hook' });
      await viaApi.waitFor((r) => r.some((q) => q.path === '/api') && r.some((q) => q.path === '/moved'));
      expect(configured.requests).toHaveLength(0);

      // Restarting on the same database: the configured URL is imposed again, the API's endpoint stays.
      await first.server.close();
      const second = await startTapwire({ ...env, TAPWIRE_DATABASE_URL: first.config.databaseUrl });
      try {
        const after = (await second.api('GET', '/api/v1/operational-webhook/endpoint')).body.data;
        expect(after.map((e: { id: string }) => e.id).sort()).toEqual([extra.id, listed[0].id].sort());
        expect(after.find((e: { uid?: string }) => e.uid === OPERATIONAL_ENDPOINT_UID).url).toBe(`${configured.url}/ops`);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
      await configured.close();
      await viaApi.close();
    }
  });
});
