// End-to-end tests of the v1 resources (applications, endpoints, event types, messages) over real
// HTTP against a real server on a fresh SQLite file: shapes, status codes, aliases, pagination.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectNo5xx, expectValidation, guardApi, type ApiFn } from './helpers/api-guard.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';
import { backends } from './helpers/postgres.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  /** Unique names per test so tests never see each other's rows. */
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

  async function createApp(body: Record<string, unknown> = {}): Promise<any> {
    const res = await api('POST', '/api/v1/app', { name: unique('app'), ...body });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  async function createEventType(name: string, extra: Record<string, unknown> = {}): Promise<any> {
    const res = await api('POST', '/api/v1/event-type', { name, description: `${name} happened`, ...extra });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  async function createEndpoint(appId: string, body: Record<string, unknown> = {}): Promise<any> {
    const res = await api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'http://127.0.0.1:9/hook', ...body });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  async function sendMessage(appId: string, body: Record<string, unknown>, query = ''): Promise<any> {
    const res = await api('POST', `/api/v1/app/${appId}/msg${query}`, body);
    expect(res.status, res.text).toBe(202);
    return res.body;
  }

  // Applications ------------------------------------------------------------------------------------

  describe('applications', () => {
    it('creates an application (201) with the Svix ApplicationOut shape', async () => {
      const res = await api('POST', '/api/v1/app', { name: 'Acme', uid: unique('acme'), metadata: { plan: 'pro' } });
      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^app_[0-9A-Za-z]{27}$/),
        name: 'Acme',
        uid: expect.any(String),
        metadata: { plan: 'pro' },
        createdAt: expect.stringMatching(ISO),
        updatedAt: expect.stringMatching(ISO),
      });
    });

    it('answers 409 conflict when the uid is taken, and get_if_exists=true returns the existing one with 200', async () => {
      const uid = unique('dup');
      const first = await createApp({ uid });
      const dup = await api('POST', '/api/v1/app', { name: 'Other', uid });
      expectError(dup, 409, 'conflict');

      const again = await api('POST', '/api/v1/app?get_if_exists=true', { name: 'Other', uid });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first);

      // Without a uid, get_if_exists just creates.
      const fresh = await api('POST', '/api/v1/app?get_if_exists=true', { name: 'No uid' });
      expect(fresh.status).toBe(201);
    });

    it('gets an application by id and by uid', async () => {
      const app = await createApp({ uid: unique('byuid') });
      const byId = await api('GET', `/api/v1/app/${app.id}`);
      const byUid = await api('GET', `/api/v1/app/${app.uid}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toEqual(app);
      expect(byUid.status).toBe(200);
      expect(byUid.body).toEqual(app);
    });

    it('PUT creates a missing application (201, path uid kept) and then replaces it (200)', async () => {
      const uid = unique('put');
      const created = await api('PUT', `/api/v1/app/${uid}`, { name: 'First', throttleRate: 10 });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ uid, name: 'First', throttleRate: 10, rateLimit: 10 });

      const replaced = await api('PUT', `/api/v1/app/${uid}`, { name: 'Second' });
      expect(replaced.status).toBe(200);
      expect(replaced.body.id).toBe(created.body.id);
      expect(replaced.body.name).toBe('Second');
      // PUT replaces: throttleRate not given → cleared.
      expect(replaced.body).not.toHaveProperty('throttleRate');
      expect(new Date(replaced.body.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(created.body.updatedAt).getTime());
    });

    it('PATCH changes only the given fields and null clears uid and throttleRate', async () => {
      const app = await createApp({ uid: unique('patch'), rateLimit: 5, metadata: { a: 'b' } });
      expect(app).toMatchObject({ throttleRate: 5, rateLimit: 5 });

      const renamed = await api('PATCH', `/api/v1/app/${app.id}`, { name: 'Renamed' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ name: 'Renamed', uid: app.uid, throttleRate: 5, metadata: { a: 'b' } });

      const cleared = await api('PATCH', `/api/v1/app/${app.id}`, { uid: null, throttleRate: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body).not.toHaveProperty('uid');
      expect(cleared.body).not.toHaveProperty('throttleRate');
      expect(cleared.body).not.toHaveProperty('rateLimit');
      expect(cleared.body.name).toBe('Renamed');
      expectError(await api('GET', `/api/v1/app/${app.uid}`), 404, 'not_found');
    });

    it('DELETE answers 204 and the application is gone (404)', async () => {
      const app = await createApp({ uid: unique('del') });
      const del = await api('DELETE', `/api/v1/app/${app.uid}`);
      expect(del.status).toBe(204);
      expect(del.text).toBe('');
      expectError(await api('GET', `/api/v1/app/${app.id}`), 404, 'not_found');
      expectError(await api('DELETE', `/api/v1/app/${app.id}`), 404, 'not_found');
    });

    describe('listing', () => {
      let ids: string[] = [];
      let fresh: TestTapwire;
      let freshApi: ApiFn;

      beforeAll(async () => {
        // A server of its own, so the list holds exactly the applications made here.
        fresh = await startTapwire();
        freshApi = guardApi(fresh);
        ids = [];
        for (let i = 0; i < 55; i++) {
          const res = await freshApi('POST', '/api/v1/app', { name: `list-${i}` });
          expect(res.status).toBe(201);
          ids.push(res.body.id);
        }
      });
      afterAll(async () => {
        await fresh?.close();
      });

      it('pages forward with iterator (ascending by default) and back with prevIterator', async () => {
        const p1 = await freshApi('GET', '/api/v1/app?limit=20');
        expect(p1.status).toBe(200);
        expect(p1.body.data.map((a: any) => a.id)).toEqual(ids.slice(0, 20));
        expect(p1.body.done).toBe(false);
        expect(p1.body.iterator).toBe(ids[19]);
        expect(p1.body.prevIterator).toBe(`-${ids[0]}`);

        const p2 = await freshApi('GET', `/api/v1/app?limit=20&iterator=${p1.body.iterator}`);
        expect(p2.body.data.map((a: any) => a.id)).toEqual(ids.slice(20, 40));
        expect(p2.body.done).toBe(false);

        const p3 = await freshApi('GET', `/api/v1/app?limit=20&iterator=${p2.body.iterator}`);
        expect(p3.body.data.map((a: any) => a.id)).toEqual(ids.slice(40, 55));
        expect(p3.body.done).toBe(true);

        const back = await freshApi('GET', `/api/v1/app?limit=20&iterator=${encodeURIComponent(p3.body.prevIterator)}`);
        expect(back.body.data.map((a: any) => a.id)).toEqual(ids.slice(20, 40));
        const back2 = await freshApi('GET', `/api/v1/app?limit=20&iterator=${encodeURIComponent(back.body.prevIterator)}`);
        expect(back2.body.data.map((a: any) => a.id)).toEqual(ids.slice(0, 20));

        // Past the end: empty page, done, no prevIterator.
        const end = await freshApi('GET', `/api/v1/app?limit=20&iterator=${ids[54]}`);
        expect(end.body).toEqual({ data: [], iterator: null, done: true });
      });

      it('defaults limit to 50 and accepts up to 250', async () => {
        const def = await freshApi('GET', '/api/v1/app');
        expect(def.body.data).toHaveLength(50);
        expect(def.body.done).toBe(false);
        const max = await freshApi('GET', '/api/v1/app?limit=250');
        expect(max.body.data).toHaveLength(55);
        expect(max.body.done).toBe(true);
      });

      it('rejects limit=251 and limit=0 with 422 at ["query","limit"], and a malformed iterator', async () => {
        expectValidation(await freshApi('GET', '/api/v1/app?limit=251'), ['query', 'limit']);
        expectValidation(await freshApi('GET', '/api/v1/app?limit=0'), ['query', 'limit']);
        expectValidation(await freshApi('GET', '/api/v1/app?limit=ten'), ['query', 'limit']);
        expectValidation(await freshApi('GET', '/api/v1/app?iterator=not-an-id'), ['query', 'iterator']);
        expectValidation(await freshApi('GET', '/api/v1/app?iterator=ep_2Nq0000000000000000000000000'), ['query', 'iterator']);
      });

      it('honours order=descending', async () => {
        const desc = await freshApi('GET', '/api/v1/app?limit=5&order=descending');
        expect(desc.body.data.map((a: any) => a.id)).toEqual(ids.slice(-5).reverse());
        const next = await freshApi('GET', `/api/v1/app?limit=5&order=descending&iterator=${desc.body.iterator}`);
        expect(next.body.data.map((a: any) => a.id)).toEqual(ids.slice(-10, -5).reverse());
        expectValidation(await freshApi('GET', '/api/v1/app?order=sideways'), ['query', 'order']);
      });
    });
  });

  // Endpoints ---------------------------------------------------------------------------------------

  describe('endpoints', () => {
    let app: any;
    beforeAll(async () => {
      app = await createApp({ uid: unique('ep-app') });
      await createEventType('invoice.paid');
      await createEventType('invoice.voided');
      await createEventType('user.created');
    });

    it('creates an endpoint (201); filterTypes comes back as both filterTypes and eventTypes', async () => {
      const res = await api('POST', `/api/v1/app/${app.id}/endpoint`, {
        url: 'http://127.0.0.1:9/a',
        description: 'billing',
        filterTypes: ['invoice.paid', 'invoice.voided'],
        metadata: { team: 'billing' },
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^ep_[0-9A-Za-z]{27}$/),
        url: 'http://127.0.0.1:9/a',
        description: 'billing',
        disabled: false,
        eventTypes: ['invoice.paid', 'invoice.voided'],
        filterTypes: ['invoice.paid', 'invoice.voided'],
        fifo: false,
        version: 1,
        metadata: { team: 'billing' },
        createdAt: expect.stringMatching(ISO),
        updatedAt: expect.stringMatching(ISO),
      });

      const viaNew = await createEndpoint(app.id, { eventTypes: ['user.created'] });
      expect(viaNew.eventTypes).toEqual(['user.created']);
      expect(viaNew.filterTypes).toEqual(['user.created']);
    });

    it('accepts rateLimit and throttleRate as aliases and returns both', async () => {
      const a = await createEndpoint(app.id, { rateLimit: 7 });
      expect(a).toMatchObject({ rateLimit: 7, throttleRate: 7 });
      const b = await createEndpoint(app.id, { throttleRate: 9 });
      expect(b).toMatchObject({ rateLimit: 9, throttleRate: 9 });
      const patched = await api('PATCH', `/api/v1/app/${app.id}/endpoint/${b.id}`, { rateLimit: 3 });
      expect(patched.body).toMatchObject({ rateLimit: 3, throttleRate: 3 });
      const cleared = await api('PATCH', `/api/v1/app/${app.id}/endpoint/${b.id}`, { throttleRate: null });
      expect(cleared.body).not.toHaveProperty('throttleRate');
      expect(cleared.body).not.toHaveProperty('rateLimit');
    });

    it('rejects a filter naming an unknown event type with 422 and creates nothing', async () => {
      const before = await api('GET', `/api/v1/app/${app.id}/endpoint?limit=250`);
      const res = await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/x', filterTypes: ['invoice.paid', 'no.such.type'] });
      const issues = expectValidation(res);
      expect(issues[0]!.loc.slice(0, 2)).toEqual(['body', 'filterTypes']);
      expect(issues[0]!.msg).toContain('no.such.type');
      const viaEventTypes = await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/x', eventTypes: ['no.such.type'] });
      expect(viaEventTypes.status).toBe(422);
      const after = await api('GET', `/api/v1/app/${app.id}/endpoint?limit=250`);
      expect(after.body.data).toHaveLength(before.body.data.length);
    });

    it('treats an empty filter list as "every event type"', async () => {
      const ep = await createEndpoint(app.id, { filterTypes: [] });
      expect(ep).not.toHaveProperty('filterTypes');
      expect(ep).not.toHaveProperty('eventTypes');
      const msg = await sendMessage(app.id, { eventType: 'user.created', payload: { n: 1 } });
      const dests = await api('GET', `/api/v1/app/${app.id}/msg/${msg.id}/endpoint?limit=250`);
      expect(dests.body.data.map((d: any) => d.id)).toContain(ep.id);
      await api('DELETE', `/api/v1/app/${app.id}/endpoint/${ep.id}`);
    });

    it('stores channels and only fans out messages on an overlapping channel', async () => {
      const own = await createApp();
      const ep = await createEndpoint(own.id, { channels: ['project-1', 'project-2'] });
      expect(ep.channels).toEqual(['project-1', 'project-2']);
      const hit = await sendMessage(own.id, { eventType: 'user.created', payload: {}, channels: ['project-2'] });
      const miss = await sendMessage(own.id, { eventType: 'user.created', payload: {}, channels: ['project-3'] });
      const none = await sendMessage(own.id, { eventType: 'user.created', payload: {} });
      const destsOf = async (id: string) => (await api('GET', `/api/v1/app/${own.id}/msg/${id}/endpoint`)).body.data.map((d: any) => d.id);
      expect(await destsOf(hit.id)).toEqual([ep.id]);
      expect(await destsOf(miss.id)).toEqual([]);
      expect(await destsOf(none.id)).toEqual([]);
    });

    it('takes the uid (of app and endpoint) in the path', async () => {
      const uid = unique('ep');
      const ep = await createEndpoint(app.id, { uid });
      const res = await api('GET', `/api/v1/app/${app.uid}/endpoint/${uid}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(ep);
      const dup = await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/b', uid });
      expectError(dup, 409, 'conflict');
    });

    it('PUT creates (201) then replaces (200); PATCH changes only given fields', async () => {
      const uid = unique('put-ep');
      const created = await api('PUT', `/api/v1/app/${app.id}/endpoint/${uid}`, { url: 'http://127.0.0.1:9/put', filterTypes: ['invoice.paid'] });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ uid, url: 'http://127.0.0.1:9/put', filterTypes: ['invoice.paid'] });
      const secret = (await api('GET', `/api/v1/app/${app.id}/endpoint/${uid}/secret`)).body.key;

      const replaced = await api('PUT', `/api/v1/app/${app.id}/endpoint/${uid}`, { url: 'http://127.0.0.1:9/put2', description: 'v2' });
      expect(replaced.status).toBe(200);
      expect(replaced.body.id).toBe(created.body.id);
      expect(replaced.body).toMatchObject({ url: 'http://127.0.0.1:9/put2', description: 'v2' });
      expect(replaced.body).not.toHaveProperty('filterTypes');
      // The secret survives a PUT.
      expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${uid}/secret`)).body.key).toBe(secret);

      const patched = await api('PATCH', `/api/v1/app/${app.id}/endpoint/${uid}`, { disabled: true });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ url: 'http://127.0.0.1:9/put2', description: 'v2', disabled: true, uid });
      const unfiltered = await api('PATCH', `/api/v1/app/${app.id}/endpoint/${uid}`, { filterTypes: ['user.created'], channels: ['c1'] });
      expect(unfiltered.body).toMatchObject({ eventTypes: ['user.created'], filterTypes: ['user.created'], channels: ['c1'] });
      const nulls = await api('PATCH', `/api/v1/app/${app.id}/endpoint/${uid}`, { filterTypes: null, channels: null, uid: null });
      expect(nulls.body).not.toHaveProperty('filterTypes');
      expect(nulls.body).not.toHaveProperty('channels');
      expect(nulls.body).not.toHaveProperty('uid');
    });

    it('returns a generated whsec_ secret and accepts a custom one, rejecting an invalid one', async () => {
      const ep = await createEndpoint(app.id);
      const secret = await api('GET', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret`);
      expect(secret.status).toBe(200);
      expect(secret.body).toEqual({ key: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/) });
      expect(Buffer.from(secret.body.key.slice(6), 'base64')).toHaveLength(24);

      const custom = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
      const withCustom = await createEndpoint(app.id, { secret: custom });
      expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${withCustom.id}/secret`)).body.key).toBe(custom);

      // Bare base64 is the same secret (Svix takes it too), shown with the prefix.
      const bare = Buffer.alloc(32, 5).toString('base64');
      const withBare = await createEndpoint(app.id, { secret: bare });
      expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${withBare.id}/secret`)).body.key).toBe(`whsec_${bare}`);

      for (const bad of ['not-a-secret', 'whsec_', 'whsec_!!!!', `whsec_${Buffer.alloc(8).toString('base64')}`, Buffer.alloc(8).toString('base64'), `whsk_${Buffer.alloc(64).toString('base64')}`]) {
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/s', secret: bad }), ['body', 'secret']);
      }
    });

    it('rotates the secret (204) to a different key, generated or given', async () => {
      const ep = await createEndpoint(app.id);
      const before = (await api('GET', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret`)).body.key;
      const rotated = await api('POST', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret/rotate`, {});
      expect(rotated.status).toBe(204);
      expect(rotated.text).toBe('');
      const after = (await api('GET', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret`)).body.key;
      expect(after).toMatch(/^whsec_/);
      expect(after).not.toBe(before);

      const given = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
      expect((await api('POST', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret/rotate`, { key: given })).status).toBe(204);
      expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret`)).body.key).toBe(given);
      expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret/rotate`, { key: 'whsec_bad' }), ['body', 'key']);
      expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret`)).body.key).toBe(given);

      // Every field is optional, so no body at all (curl -X POST) rotates too.
      expect((await api('POST', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret/rotate`)).status).toBe(204);
      expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${ep.id}/secret`)).body.key).not.toBe(given);
    });

    it('gets, replaces and patches custom headers, hiding sensitive values', async () => {
      const ep = await createEndpoint(app.id);
      const path = `/api/v1/app/${app.id}/endpoint/${ep.id}/headers`;
      expect((await api('GET', path)).body).toEqual({ headers: {}, sensitive: [] });

      const put = await api('PUT', path, { headers: { 'X-Team': 'billing', Authorization: 'Bearer s3cret', 'x-api-key': 'k' } });
      expect(put.status).toBe(204);
      const got = await api('GET', path);
      expect(got.status).toBe(200);
      expect(got.body.headers).toEqual({ 'X-Team': 'billing' });
      expect([...got.body.sensitive].sort()).toEqual(['Authorization', 'x-api-key']);
      expect(got.text).not.toContain('s3cret');

      const patch = await api('PATCH', path, { headers: { 'X-Team': null, 'X-Env': 'prod' } });
      expect(patch.status).toBe(204);
      const patched = await api('GET', path);
      expect(patched.body.headers).toEqual({ 'X-Env': 'prod' });
      expect(patched.body.sensitive).toHaveLength(2);

      // Newer svix clients send removals as `deleteHeaders`.
      expect((await api('PATCH', path, { headers: { 'X-New': 'n' }, deleteHeaders: ['x-env', 'Authorization'] })).status).toBe(204);
      expect((await api('GET', path)).body).toEqual({ headers: { 'X-New': 'n' }, sensitive: ['x-api-key'] });

      // PUT replaces everything.
      expect((await api('PUT', path, { headers: { 'X-Only': '1' } })).status).toBe(204);
      expect((await api('GET', path)).body).toEqual({ headers: { 'X-Only': '1' }, sensitive: [] });
    });

    it('hides the values of cookies and of any header named like a credential, listing their names under sensitive', async () => {
      const ep = await createEndpoint(app.id);
      const path = `/api/v1/app/${app.id}/endpoint/${ep.id}/headers`;
      const hidden: Record<string, string> = {
        Authorization: 'Bearer hidden-1',
        Cookie: 'session=hidden-2',
        'X-Webhook-Secret': 'hidden-3',
        'X-Access-Token': 'hidden-4',
        'X-Customer-Key': 'hidden-5',
        'X-AUTH-Scheme': 'hidden-6',
        'X-Db-Password': 'hidden-7',
        'X-Partner-Signature': 'hidden-8',
      };
      expect((await api('PUT', path, { headers: { ...hidden, 'X-Team': 'billing', 'X-Region': 'eu' } })).status).toBe(204);
      const got = await api('GET', path);
      expect(got.status).toBe(200);
      expect(Object.keys(got.body)).toEqual(['headers', 'sensitive']);
      expect(got.body.headers).toEqual({ 'X-Team': 'billing', 'X-Region': 'eu' });
      expect([...got.body.sensitive].sort()).toEqual(Object.keys(hidden).sort());
      expect(got.text).not.toMatch(/hidden-\d/);
    });

    it('refuses Content-Encoding, X-Real-IP and X-Forwarded-* as custom headers (422 naming the header)', async () => {
      const ep = await createEndpoint(app.id);
      const path = `/api/v1/app/${app.id}/endpoint/${ep.id}/headers`;
      await api('PUT', path, { headers: { 'X-Keep': 'yes' } });
      for (const name of ['Content-Encoding', 'x-real-ip', 'X-Forwarded-For', 'x-forwarded-host', 'X-Forwarded-Proto', 'X-Forwarded-Port', 'X-Forwarded-Client-Cert', 'Forwarded']) {
        for (const method of ['PUT', 'PATCH']) {
          const detail = expectValidation(await api(method, path, { headers: { [name]: 'x' } }), ['body', 'headers', name]);
          expect(detail[0]!.msg, `${method} ${name}`).toContain(`'${name}'`);
        }
      }
      expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/h', headers: { 'X-Real-IP': '10.0.0.1' } }));
      expect((await api('GET', path)).body).toEqual({ headers: { 'X-Keep': 'yes' }, sensitive: [] });
    });

    it('refuses headers Tapwire sets itself (422) and keeps the old ones', async () => {
      const ep = await createEndpoint(app.id);
      const path = `/api/v1/app/${app.id}/endpoint/${ep.id}/headers`;
      await api('PUT', path, { headers: { 'X-Keep': 'yes' } });
      for (const name of ['content-length', 'Content-Type', 'webhook-id', 'webhook-signature', 'svix-id', 'Host', 'transfer-encoding', 'user-agent']) {
        expectValidation(await api('PUT', path, { headers: { [name]: 'x' } }));
        expectValidation(await api('PATCH', path, { headers: { [name]: 'x' } }));
      }
      expectValidation(await api('PUT', path, { headers: { 'bad name': 'x' } }));
      expectValidation(await api('PUT', path, { headers: { 'X-Inject': 'a\r\nX-Evil: 1' } }));
      expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/h', headers: { 'webhook-id': 'forged' } }));
      expect((await api('GET', path)).body).toEqual({ headers: { 'X-Keep': 'yes' }, sensitive: [] });
    });

    it('returns stats with the EndpointStats shape', async () => {
      const own = await createApp();
      const ep = await createEndpoint(own.id);
      const stats = await api('GET', `/api/v1/app/${own.id}/endpoint/${ep.id}/stats`);
      expect(stats.status).toBe(200);
      expect(stats.body).toEqual({
        success: 0,
        pending: 0,
        sending: 0,
        fail: 0,
        canceled: 0,
        // Tapwire's addition: where the adaptive limit of an endpoint not delivered to yet starts.
        concurrency: { limit: 4, ceiling: 64, adaptive: true, inFlight: 0, buffered: 0, pausedUntil: null },
      });
      const since = new Date(Date.now() - 3600_000).toISOString();
      const windowed = await api('GET', `/api/v1/app/${own.id}/endpoint/${ep.id}/stats?since=${since}`);
      expect(windowed.status).toBe(200);
      expectValidation(await api('GET', `/api/v1/app/${own.id}/endpoint/${ep.id}/stats?since=yesterday`), ['query', 'since']);
    });

    it('soft-deletes (204): the endpoint is gone (404) and its uid can be reused', async () => {
      const uid = unique('gone');
      const ep = await createEndpoint(app.id, { uid });
      expect((await api('DELETE', `/api/v1/app/${app.id}/endpoint/${uid}`)).status).toBe(204);
      expectError(await api('GET', `/api/v1/app/${app.id}/endpoint/${ep.id}`), 404, 'not_found');
      expectError(await api('GET', `/api/v1/app/${app.id}/endpoint/${uid}`), 404, 'not_found');
      expectError(await api('DELETE', `/api/v1/app/${app.id}/endpoint/${ep.id}`), 404, 'not_found');
      const list = await api('GET', `/api/v1/app/${app.id}/endpoint?limit=250`);
      expect(list.body.data.map((e: any) => e.id)).not.toContain(ep.id);
      const reused = await createEndpoint(app.id, { uid });
      expect(reused.id).not.toBe(ep.id);
      expect(reused.uid).toBe(uid);
    });

    it('lists endpoints newest first by default', async () => {
      const own = await createApp();
      const a = await createEndpoint(own.id);
      const b = await createEndpoint(own.id);
      const c = await createEndpoint(own.id);
      const list = await api('GET', `/api/v1/app/${own.id}/endpoint`);
      expect(list.body.data.map((e: any) => e.id)).toEqual([c.id, b.id, a.id]);
      expect(list.body.done).toBe(true);
      const asc = await api('GET', `/api/v1/app/${own.id}/endpoint?order=ascending&limit=2`);
      expect(asc.body.data.map((e: any) => e.id)).toEqual([a.id, b.id]);
      expect(asc.body.done).toBe(false);
    });
  });

  // Event types -------------------------------------------------------------------------------------

  describe('event types', () => {
    const prefix = `et${Date.now().toString(36)}`;
    const name = (s: string): string => `${prefix}.${s}`;

    it('creates (201) with the EventTypeOut shape; a duplicate is 409', async () => {
      const res = await api('POST', '/api/v1/event-type', { name: name('created'), description: 'Created', schemas: { '1': { type: 'object' } } });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        name: name('created'),
        description: 'Created',
        archived: false,
        deprecated: false,
        schemas: { '1': { type: 'object' } },
        createdAt: expect.stringMatching(ISO),
        updatedAt: expect.stringMatching(ISO),
      });
      expectError(await api('POST', '/api/v1/event-type', { name: name('created'), description: 'again' }), 409, 'conflict');
      expect((await api('GET', `/api/v1/event-type/${name('created')}`)).body.description).toBe('Created');
    });

    it('re-creating an archived name un-archives it', async () => {
      await createEventType(name('phoenix'));
      expect((await api('DELETE', `/api/v1/event-type/${name('phoenix')}`)).status).toBe(204);
      expect((await api('GET', `/api/v1/event-type/${name('phoenix')}`)).body.archived).toBe(true);
      const again = await api('POST', '/api/v1/event-type', { name: name('phoenix'), description: 'Reborn' });
      expect(again.status).toBe(201);
      expect(again.body).toMatchObject({ archived: false, description: 'Reborn' });
    });

    it('lists by name ascending, hides archived unless include_archived, and shows schemas only with with_content', async () => {
      const fresh = await startTapwire();
      const fapi = guardApi(fresh);
      try {
        for (const n of ['c.type', 'a.type', 'b.type']) {
          expect((await fapi('POST', '/api/v1/event-type', { name: n, description: n, schemas: { '1': { title: n } } })).status).toBe(201);
        }
        expect((await fapi('DELETE', '/api/v1/event-type/b.type')).status).toBe(204);
        const list = await fapi('GET', '/api/v1/event-type');
        expect(list.status).toBe(200);
        expect(list.body.data.map((t: any) => t.name)).toEqual(['a.type', 'c.type']);
        expect(list.body.data.every((t: any) => t.schemas === null)).toBe(true);
        expect(list.body.done).toBe(true);

        const all = await fapi('GET', '/api/v1/event-type?include_archived=true&with_content=true');
        expect(all.body.data.map((t: any) => [t.name, t.archived])).toEqual([['a.type', false], ['b.type', true], ['c.type', false]]);
        expect(all.body.data[0].schemas).toEqual({ '1': { title: 'a.type' } });

        const page = await fapi('GET', '/api/v1/event-type?include_archived=true&limit=2');
        expect(page.body.data.map((t: any) => t.name)).toEqual(['a.type', 'b.type']);
        expect(page.body.iterator).toBe('b.type');
        expect(page.body.done).toBe(false);
        const next = await fapi('GET', `/api/v1/event-type?include_archived=true&limit=2&iterator=${page.body.iterator}`);
        expect(next.body.data.map((t: any) => t.name)).toEqual(['c.type']);
        expect(next.body.done).toBe(true);
      } finally {
        await fresh.close();
      }
    });

    it('PUT creates (201) then replaces (200); PATCH changes only given fields', async () => {
      const n = name('put');
      const created = await api('PUT', `/api/v1/event-type/${n}`, { description: 'one', schemas: { '1': { type: 'object' } } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: n, description: 'one', archived: false });
      const replaced = await api('PUT', `/api/v1/event-type/${n}`, { description: 'two' });
      expect(replaced.status).toBe(200);
      expect(replaced.body).toMatchObject({ name: n, description: 'two', schemas: null });
      expect(replaced.body.createdAt).toBe(created.body.createdAt);

      const patched = await api('PATCH', `/api/v1/event-type/${n}`, { deprecated: true });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ description: 'two', deprecated: true, archived: false });
      const flagged = await api('PATCH', `/api/v1/event-type/${n}`, { featureFlag: 'beta', schemas: { '2': { type: 'object' } } });
      expect(flagged.body).toMatchObject({ featureFlag: 'beta', schemas: { '2': { type: 'object' } }, deprecated: true });
      expectError(await api('PATCH', `/api/v1/event-type/${name('missing')}`, { deprecated: true }), 404, 'not_found');
    });

    it('DELETE archives by default and ?expunge=true deletes for good', async () => {
      const n = name('del');
      await createEventType(n);
      expect((await api('DELETE', `/api/v1/event-type/${n}`)).status).toBe(204);
      expect((await api('GET', `/api/v1/event-type/${n}`)).body).toMatchObject({ name: n, archived: true });
      // An archived type can no longer be used in an endpoint filter.
      const app = await createApp();
      expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/', filterTypes: [n] }));

      expect((await api('DELETE', `/api/v1/event-type/${n}?expunge=true`)).status).toBe(204);
      expectError(await api('GET', `/api/v1/event-type/${n}`), 404, 'not_found');
      expectError(await api('DELETE', `/api/v1/event-type/${n}`), 404, 'not_found');
    });

    it('rejects names with characters outside [a-zA-Z0-9-_.] (422)', async () => {
      for (const bad of ['has space', 'slash/inside', 'emoji😀', 'semi;colon', '']) {
        expectValidation(await api('POST', '/api/v1/event-type', { name: bad, description: 'x' }), ['body', 'name']);
      }
      expectValidation(await api('PUT', `/api/v1/event-type/${encodeURIComponent('has space')}`, { description: 'x' }), ['path', 'event_type_name']);
      expectValidation(await api('POST', '/api/v1/event-type', { name: 'x'.repeat(257), description: 'x' }), ['body', 'name']);
    });
  });

  // Messages ----------------------------------------------------------------------------------------

  describe('messages', () => {
    let app: any;
    beforeAll(async () => {
      app = await createApp({ uid: unique('msg-app') });
    });

    it('accepts a message (202) and echoes the payload exactly as sent', async () => {
      const res = await api('POST', `/api/v1/app/${app.id}/msg`, undefined, {
        raw: '{"eventType":"order.placed","payload":{"b":1.50,"a":[1,2],"nested":{"z":null}},"eventId":"evt-echo-1","channels":["eu"]}',
      });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^msg_[0-9A-Za-z]{27}$/),
        eventType: 'order.placed',
        payload: { b: 1.5, a: [1, 2], nested: { z: null } },
        eventId: 'evt-echo-1',
        channels: ['eu'],
        timestamp: expect.stringMatching(ISO),
      });
    });

    it('with_content=false answers payload {} on create, get and list', async () => {
      const created = await sendMessage(app.id, { eventType: 'order.placed', payload: { secret: 1 } }, '?with_content=false');
      expect(created.payload).toEqual({});
      const got = await api('GET', `/api/v1/app/${app.id}/msg/${created.id}?with_content=false`);
      expect(got.body.payload).toEqual({});
      const full = await api('GET', `/api/v1/app/${app.id}/msg/${created.id}`);
      expect(full.body.payload).toEqual({ secret: 1 });
      const list = await api('GET', `/api/v1/app/${app.id}/msg?with_content=false&limit=1`);
      expect(list.body.data[0]).toMatchObject({ id: created.id, payload: {} });
    });

    it('gets a message by id and by eventId; a reused eventId is 409 and stores nothing', async () => {
      const eventId = unique('evt');
      const msg = await sendMessage(app.id, { eventType: 'order.placed', payload: { n: 1 }, eventId });
      expect((await api('GET', `/api/v1/app/${app.id}/msg/${msg.id}`)).body).toEqual(msg);
      expect((await api('GET', `/api/v1/app/${app.uid}/msg/${eventId}`)).body).toEqual(msg);
      const dup = await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'order.placed', payload: { n: 2 }, eventId });
      expectError(dup, 409, 'conflict');
      expect((await api('GET', `/api/v1/app/${app.id}/msg/${eventId}`)).body.payload).toEqual({ n: 1 });
      // The same eventId in another application is fine.
      const other = await createApp();
      await sendMessage(other.id, { eventType: 'order.placed', payload: {}, eventId });
      expectError(await api('GET', `/api/v1/app/${app.id}/msg/msg_0000000000000000000000000000`), 404, 'not_found');
    });

    it('lists newest first, filtered by event_types, channel, before and after', async () => {
      const own = await createApp();
      const m1 = await sendMessage(own.id, { eventType: 'a.one', payload: { i: 1 }, channels: ['x'] });
      const m2 = await sendMessage(own.id, { eventType: 'b.two', payload: { i: 2 } });
      const m3 = await sendMessage(own.id, { eventType: 'a.one', payload: { i: 3 }, channels: ['y'] });
      const ids = async (query: string) => {
        const res = await api('GET', `/api/v1/app/${own.id}/msg${query}`);
        expect(res.status, res.text).toBe(200);
        return res.body.data.map((m: any) => m.id);
      };
      expect(await ids('')).toEqual([m3.id, m2.id, m1.id]);
      expect(await ids('?event_types=a.one')).toEqual([m3.id, m1.id]);
      expect(await ids('?event_types=a.one,b.two')).toEqual([m3.id, m2.id, m1.id]);
      expect(await ids('?event_types=a.one&event_types=b.two')).toEqual([m3.id, m2.id, m1.id]);
      expect(await ids('?event_types[]=b.two')).toEqual([m2.id]);
      expect(await ids('?channel=x')).toEqual([m1.id]);
      expect(await ids('?channel=nope')).toEqual([]);

      // before/after are strict and compare creation times.
      expect(await ids(`?before=${encodeURIComponent(new Date(Date.parse(m1.timestamp) + 0).toISOString())}`)).toEqual([]);
      expect(await ids(`?after=${encodeURIComponent(new Date(Date.parse(m1.timestamp) - 1).toISOString())}`)).toEqual([m3.id, m2.id, m1.id]);
      expect(await ids(`?before=${encodeURIComponent(new Date(Date.parse(m3.timestamp) + 1).toISOString())}`)).toEqual([m3.id, m2.id, m1.id]);
      expect(await ids(`?after=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);
      expectValidation(await api('GET', `/api/v1/app/${own.id}/msg?before=tomorrow`), ['query', 'before']);
      expectValidation(await api('GET', `/api/v1/app/${own.id}/msg?event_types=bad%20type`), ['query', 'event_types']);

      const page = await api('GET', `/api/v1/app/${own.id}/msg?limit=2`);
      expect(page.body.data.map((m: any) => m.id)).toEqual([m3.id, m2.id]);
      expect(page.body.done).toBe(false);
      const next = await api('GET', `/api/v1/app/${own.id}/msg?limit=2&iterator=${page.body.iterator}`);
      expect(next.body.data.map((m: any) => m.id)).toEqual([m1.id]);
      expect(next.body.done).toBe(true);
      // Back from the second page (newest-first order): the first page again, in the same order.
      const back = await api('GET', `/api/v1/app/${own.id}/msg?limit=2&iterator=${encodeURIComponent(next.body.prevIterator)}`);
      expect(back.body.data.map((m: any) => m.id)).toEqual([m3.id, m2.id]);
    });

    it('expunging the content (204) makes the payload read {"expired": true}', async () => {
      const msg = await sendMessage(app.id, { eventType: 'order.placed', payload: { card: '4242' } });
      const del = await api('DELETE', `/api/v1/app/${app.id}/msg/${msg.id}/content`);
      expect(del.status).toBe(204);
      const got = await api('GET', `/api/v1/app/${app.id}/msg/${msg.id}`);
      expect(got.body.payload).toEqual({ expired: true });
      expect(got.text).not.toContain('4242');
      expectError(await api('DELETE', `/api/v1/app/${app.id}/msg/msg_0000000000000000000000000000/content`), 404, 'not_found');
    });

    it('creates the application on the fly from `application` when the path holds a new uid', async () => {
      const uid = unique('auto');
      const res = await api('POST', `/api/v1/app/${uid}/msg`, { eventType: 'order.placed', payload: { x: 1 }, application: { name: 'Auto', uid } });
      expect(res.status, res.text).toBe(202);
      const created = await api('GET', `/api/v1/app/${uid}`);
      expect(created.status).toBe(200);
      expect(created.body).toMatchObject({ uid, name: 'Auto' });
      // Body uid may be left out; the path's uid is used.
      const uid2 = unique('auto');
      expect((await api('POST', `/api/v1/app/${uid2}/msg`, { eventType: 'e', payload: {}, application: { name: 'Auto2' } })).status).toBe(202);
      expect((await api('GET', `/api/v1/app/${uid2}`)).body.uid).toBe(uid2);
      // A different body uid is refused and nothing is created.
      const uid3 = unique('auto');
      expectValidation(await api('POST', `/api/v1/app/${uid3}/msg`, { eventType: 'e', payload: {}, application: { name: 'X', uid: 'something-else' } }));
      expectError(await api('GET', `/api/v1/app/${uid3}`), 404, 'not_found');
      // Without `application`, an unknown uid is 404.
      expectError(await api('POST', `/api/v1/app/${unique('nope')}/msg`, { eventType: 'e', payload: {} }), 404, 'not_found');
    });

    it('does not auto-create when the path holds an app_ id (404)', async () => {
      const fakeId = 'app_2NqXn3JYzg6M0A1l8d6h7nZf3Qp';
      const before = await api('GET', '/api/v1/app?limit=250');
      const res = await api('POST', `/api/v1/app/${fakeId}/msg`, { eventType: 'e', payload: {}, application: { name: 'Nope' } });
      expectError(res, 404, 'not_found');
      const after = await api('GET', '/api/v1/app?limit=250');
      expect(after.body.data).toHaveLength(before.body.data.length);
    });

    it('rejects a payload that is an array, a string, a number or null, and a missing payload (422)', async () => {
      const before = (await api('GET', `/api/v1/app/${app.id}/msg?limit=250`)).body.data.length;
      for (const payload of [[1, 2], 'text', 42, null, true]) {
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'e', payload }), ['body', 'payload']);
      }
      expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'e' }), ['body', 'payload']);
      expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { payload: {} }), ['body', 'eventType']);
      expect((await api('GET', `/api/v1/app/${app.id}/msg?limit=250`)).body.data).toHaveLength(before);
    });

    it('accepts `data` as an alias of payload', async () => {
      const msg = await sendMessage(app.id, { eventType: 'order.placed', data: { via: 'data' } });
      expect(msg.payload).toEqual({ via: 'data' });
      expect((await api('GET', `/api/v1/app/${app.id}/msg/${msg.id}`)).body.payload).toEqual({ via: 'data' });
    });
  });
});
