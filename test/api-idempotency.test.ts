// POST idempotency (Svix semantics): the first 2xx response for (token, idempotency-key, URL) is
// replayed; failures are not cached; concurrent duplicates wait for the first. This is what keeps
// the svix client's automatic retries (it sends `idempotency-key: auto_<uuid>`) from duplicating.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';
import { backends } from './helpers/postgres.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let receiver: Receiver;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await tw?.close();
    await receiver?.close();
  });
  afterEach(() => expectNo5xx());

  const key = (): string => `test_${randomUUID()}`;

  async function newAppWithReceiver(): Promise<{ appId: string; endpointId: string }> {
    const app = await api('POST', '/api/v1/app', { name: 'Idempotent' });
    expect(app.status).toBe(201);
    const ep = await api('POST', `/api/v1/app/${app.body.id}/endpoint`, { url: `${receiver.url}/${app.body.id}` });
    expect(ep.status).toBe(201);
    return { appId: app.body.id, endpointId: ep.body.id };
  }

  async function listMessageIds(appId: string): Promise<string[]> {
    const res = await api('GET', `/api/v1/app/${appId}/msg?limit=250`);
    expect(res.status).toBe(200);
    return res.body.data.map((m: any) => m.id);
  }

  const deliveriesOf = (msgId: string) => receiver.requests.filter((r) => r.headers['webhook-id'] === msgId);

  /**
   * Wait until the receiver got `sentinel`, which is sent after everything else, and every earlier
   * message's delivery has been recorded as an attempt, so a duplicate delivery would have shown up.
   */
  async function settle(appId: string, msgIds: string[]): Promise<void> {
    const sentinel = await api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'sentinel', payload: {} });
    expect(sentinel.status).toBe(202);
    await receiver.waitFor(() => deliveriesOf(sentinel.body.id).length > 0);
    for (const id of msgIds) {
      await receiver.waitFor(() => deliveriesOf(id).length > 0);
    }
  }

  describe('idempotency-key on POST', () => {
    it('replays the first 2xx response exactly: one message stored, one delivery', async () => {
      const { appId } = await newAppWithReceiver();
      const k = key();
      const body = { eventType: 'invoice.paid', payload: { amount: 10 } };
      const first = await api('POST', `/api/v1/app/${appId}/msg`, body, { headers: { 'idempotency-key': k } });
      expect(first.status).toBe(202);
      const second = await api('POST', `/api/v1/app/${appId}/msg`, body, { headers: { 'idempotency-key': k } });
      expect(second.status).toBe(202);
      expect(second.text).toBe(first.text);
      expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
      // Even a different body under the same key gets the first answer (Svix keys on token+key+URL).
      const third = await api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'other', payload: { amount: 99 } }, { headers: { 'idempotency-key': k } });
      expect(third.status).toBe(202);
      expect(third.body.id).toBe(first.body.id);

      expect(await listMessageIds(appId)).toEqual([first.body.id]);
      await settle(appId, [first.body.id]);
      expect(deliveriesOf(first.body.id)).toHaveLength(1);
      const msgs = await listMessageIds(appId);
      expect(msgs).toHaveLength(2); // the message and the sentinel
    });

    it('a different key makes a new message; no key at all never replays', async () => {
      const { appId } = await newAppWithReceiver();
      const body = { eventType: 'invoice.paid', payload: {} };
      const a = await api('POST', `/api/v1/app/${appId}/msg`, body, { headers: { 'idempotency-key': key() } });
      const b = await api('POST', `/api/v1/app/${appId}/msg`, body, { headers: { 'idempotency-key': key() } });
      const c = await api('POST', `/api/v1/app/${appId}/msg`, body);
      const d = await api('POST', `/api/v1/app/${appId}/msg`, body);
      const ids = [a, b, c, d].map((r) => r.body.id);
      expect(new Set(ids).size).toBe(4);
      expect((await listMessageIds(appId)).sort()).toEqual([...ids].sort());
    });

    it('the same key on a different URL is a different request', async () => {
      const one = await newAppWithReceiver();
      const two = await newAppWithReceiver();
      const k = key();
      const a = await api('POST', `/api/v1/app/${one.appId}/msg`, { eventType: 'e', payload: {} }, { headers: { 'idempotency-key': k } });
      const b = await api('POST', `/api/v1/app/${two.appId}/msg`, { eventType: 'e', payload: {} }, { headers: { 'idempotency-key': k } });
      expect(a.status).toBe(202);
      expect(b.status).toBe(202);
      expect(a.body.id).not.toBe(b.body.id);
      expect(await listMessageIds(two.appId)).toEqual([b.body.id]);
    });

    it('does not cache a failed (4xx) first request: a corrected retry with the same key succeeds', async () => {
      const { appId } = await newAppWithReceiver();
      const k = key();
      const bad = await api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'e', payload: 'not an object' }, { headers: { 'idempotency-key': k } });
      expect(bad.status).toBe(422);
      expect(await listMessageIds(appId)).toEqual([]);
      const good = await api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'e', payload: { ok: true } }, { headers: { 'idempotency-key': k } });
      expect(good.status).toBe(202);
      const again = await api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'e', payload: { ok: true } }, { headers: { 'idempotency-key': k } });
      expect(again.body.id).toBe(good.body.id);
      expect(await listMessageIds(appId)).toEqual([good.body.id]);

      // A 409 is not cached either: the same key later replays nothing stale.
      const uid = `idem-${randomUUID()}`;
      await api('POST', '/api/v1/app', { name: 'Taken', uid });
      const k2 = key();
      const conflict = await api('POST', '/api/v1/app', { name: 'Dup', uid }, { headers: { 'idempotency-key': k2 } });
      expect(conflict.status).toBe(409);
      const retried = await api('POST', '/api/v1/app', { name: 'Fresh', uid: `${uid}-2` }, { headers: { 'idempotency-key': k2 } });
      expect(retried.status).toBe(201);
      expect(retried.body.uid).toBe(`${uid}-2`);
    });

    it('concurrent duplicates wait for the first: one message, every caller gets its id', async () => {
      const { appId } = await newAppWithReceiver();
      const k = key();
      const results = await Promise.all(
        Array.from({ length: 5 }, () => api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'e', payload: { n: 1 } }, { headers: { 'idempotency-key': k } })),
      );
      expect(results.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
      const ids = new Set(results.map((r) => r.body.id));
      expect(ids.size).toBe(1);
      const [id] = [...ids];
      expect(await listMessageIds(appId)).toEqual([id]);
      await settle(appId, [id!]);
      expect(deliveriesOf(id!)).toHaveLength(1);
    });

    it('many concurrent duplicates, round after round, still make one message per key', async () => {
      // The store lookup is a network round trip on PostgreSQL: duplicates arriving during it must wait too.
      const { appId } = await newAppWithReceiver();
      const created: string[] = [];
      for (let round = 0; round < 3; round++) {
        const k = key();
        const results = await Promise.all(
          Array.from({ length: 10 }, () => api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'e', payload: { round } }, { headers: { 'idempotency-key': k } })),
        );
        expect(results.map((r) => r.status)).toEqual(Array(10).fill(202));
        const ids = new Set(results.map((r) => r.body.id));
        expect(ids.size).toBe(1);
        created.push(...ids);
      }
      expect((await listMessageIds(appId)).sort()).toEqual(created.sort());
    });

    it('keys are scoped per token: the same key under an app token is a different request', async () => {
      const { appId } = await newAppWithReceiver();
      const minted = await api('POST', `/api/v1/auth/app-portal-access/${appId}`, {});
      const appToken = minted.body.token as string;
      const k = key();
      const path = `/api/v1/app/${appId}/endpoint`;
      const asAdmin = await api('POST', path, { url: 'http://127.0.0.1:9/admin' }, { headers: { 'idempotency-key': k } });
      const asApp = await api('POST', path, { url: 'http://127.0.0.1:9/app' }, { headers: { 'idempotency-key': k }, token: appToken });
      expect(asAdmin.status).toBe(201);
      expect(asApp.status).toBe(201);
      expect(asApp.body.id).not.toBe(asAdmin.body.id);
      expect(asApp.body.url).toBe('http://127.0.0.1:9/app');
      // Each token replays its own first answer.
      const adminAgain = await api('POST', path, { url: 'http://127.0.0.1:9/x' }, { headers: { 'idempotency-key': k } });
      const appAgain = await api('POST', path, { url: 'http://127.0.0.1:9/y' }, { headers: { 'idempotency-key': k }, token: appToken });
      expect(adminAgain.body.id).toBe(asAdmin.body.id);
      expect(appAgain.body.id).toBe(asApp.body.id);
      const list = await api('GET', `${path}?limit=250`);
      expect(list.body.data).toHaveLength(3); // the receiver endpoint + one per token
    });

    it('a replayed 204 stays a 204 with no body', async () => {
      const { appId, endpointId } = await newAppWithReceiver();
      const k = key();
      const path = `/api/v1/app/${appId}/endpoint/${endpointId}/secret/rotate`;
      const before = (await api('GET', `/api/v1/app/${appId}/endpoint/${endpointId}/secret`)).body.key;
      const first = await api('POST', path, {}, { headers: { 'idempotency-key': k } });
      expect(first.status).toBe(204);
      const rotated = (await api('GET', `/api/v1/app/${appId}/endpoint/${endpointId}/secret`)).body.key;
      expect(rotated).not.toBe(before);
      const second = await api('POST', path, {}, { headers: { 'idempotency-key': k } });
      expect(second.status).toBe(204);
      expect(second.text).toBe('');
      // Replayed, not run again: the secret did not rotate a second time.
      expect((await api('GET', `/api/v1/app/${appId}/endpoint/${endpointId}/secret`)).body.key).toBe(rotated);
    });

    it('is ignored on non-POST methods', async () => {
      const { appId } = await newAppWithReceiver();
      const k = key();
      const a = await api('PATCH', `/api/v1/app/${appId}`, { name: 'one' }, { headers: { 'idempotency-key': k } });
      const b = await api('PATCH', `/api/v1/app/${appId}`, { name: 'two' }, { headers: { 'idempotency-key': k } });
      expect(a.body.name).toBe('one');
      expect(b.body.name).toBe('two');
    });
  });
});
