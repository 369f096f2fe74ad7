// Fields and limits of Svix's API that Tapwire once dropped or narrowed, through the official
// clients and raw HTTP on both backends: event-type featureFlags and groupName, string `loc`s in
// 422 bodies, Svix's channel limits and names, a one-day payload retention, `throttleRate: 0`, and
// send-example's exampleIndex.
import { Svix as Svix1 } from 'svix';
import { Svix as Svix2 } from 'svix2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let svix1: Svix1;
  let svix2: Svix2;
  let appId: string;

  beforeAll(async () => {
    tw = await startTapwire({ TAPWIRE_HTTPS_ONLY: 'false' });
    svix1 = new Svix1(ADMIN_TOKEN, { serverUrl: tw.url });
    svix2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url });
    appId = (await svix2.application.create({ name: 'Parity' })).id;
  });
  afterAll(async () => {
    await tw?.close();
  });

  async function portalToken(featureFlags: string[]): Promise<string> {
    const res = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, featureFlags.length > 0 ? { featureFlags } : {}), 200, 'mint');
    return res.body.token as string;
  }

  describe('event types', () => {
    it('keeps featureFlags and groupName (2.x client), and reads featureFlag as their first', async () => {
      const created = await svix2.eventType.create({ name: 'parity.flags', description: 'flags', featureFlags: ['beta', 'early'], groupName: 'parity' });
      expect(created).toMatchObject({ featureFlags: ['beta', 'early'], groupName: 'parity', featureFlag: 'beta' });
      expect(await svix2.eventType.get('parity.flags')).toMatchObject({ featureFlags: ['beta', 'early'], groupName: 'parity' });

      const patched = await svix2.eventType.patch('parity.flags', { featureFlags: ['gamma'], groupName: 'other' });
      expect(patched).toMatchObject({ featureFlags: ['gamma'], featureFlag: 'gamma', groupName: 'other' });
      const cleared = await svix2.eventType.patch('parity.flags', { featureFlags: null, groupName: null });
      expect(cleared.featureFlags).toBeUndefined();
      expect(cleared.featureFlag).toBeUndefined();
      expect(cleared.groupName).toBeUndefined();

      const upserted = await svix2.eventType.upsert('parity.flags', { description: 'again', featureFlags: ['delta'], groupName: 'g' });
      expect(upserted).toMatchObject({ description: 'again', featureFlags: ['delta'], groupName: 'g' });
    });

    it('reads the old singular featureFlag (1.x client) as a one-element list', async () => {
      await svix1.eventType.create({ name: 'parity.single', description: 'single', featureFlag: 'solo' });
      const read = expectStatus(await tw.api('GET', '/api/v1/event-type/parity.single'), 200, 'get').body;
      expect(read).toMatchObject({ featureFlags: ['solo'], featureFlag: 'solo' });
      // featureFlags wins over featureFlag when both are given.
      const both = expectStatus(await tw.api('PATCH', '/api/v1/event-type/parity.single', { featureFlag: 'x', featureFlags: ['y', 'z'] }), 200, 'patch').body;
      expect(both).toMatchObject({ featureFlags: ['y', 'z'], featureFlag: 'y' });
    });

    it('shows a type behind several flags to portal tokens holding any one of them', async () => {
      await svix2.eventType.create({ name: 'parity.gated', description: 'gated', featureFlags: ['alpha', 'omega'] });
      await svix2.eventType.create({ name: 'parity.open', description: 'open' });
      const listed = async (token: string): Promise<string[]> =>
        (expectStatus(await tw.api('GET', '/api/v1/event-type?limit=250', undefined, { token }), 200, 'list').body.data as { name: string }[])
          .map((t) => t.name)
          .filter((name) => name === 'parity.gated' || name === 'parity.open');
      const omega = await portalToken(['omega']);
      const other = await portalToken(['other']);
      const none = await portalToken([]);
      expect(await listed(omega)).toEqual(['parity.gated', 'parity.open']);
      expect(await listed(other)).toEqual(['parity.open']);
      expect(await listed(none)).toEqual(['parity.open']);
      expect((await tw.api('GET', '/api/v1/event-type/parity.gated', undefined, { token: omega })).status).toBe(200);
      expect((await tw.api('GET', '/api/v1/event-type/parity.gated', undefined, { token: other })).status).toBe(404);
      // Subscribing follows the same rule.
      const subscribe = (token: string) =>
        tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'http://127.0.0.1:9/hook', filterTypes: ['parity.gated'] }, { token });
      expect((await subscribe(omega)).status).toBe(201);
      expect((await subscribe(other)).status).toBe(422);
    });

    it('refuses flags and group names that are not names', async () => {
      for (const body of [{ featureFlags: ['bad flag'] }, { featureFlags: [''] }, { groupName: 'a/b' }, { featureFlags: 'beta' }]) {
        const res = await tw.api('POST', '/api/v1/event-type', { name: 'parity.bad', description: 'bad', ...body });
        expect(res.status, JSON.stringify(body)).toBe(422);
      }
    });
  });

  describe('validation errors', () => {
    it('name every location as strings, array indices included', async () => {
      const res = await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'parity.open', payload: {}, channels: ['ok', 'not ok'] });
      expect(res.status).toBe(422);
      expect(res.body.detail[0].loc).toEqual(['body', 'channels', '1']);
      for (const issue of res.body.detail) for (const part of issue.loc) expect(typeof part).toBe('string');

      const endpoint = await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'http://127.0.0.1:9/hook', filterTypes: ['parity.open', 'no.such.type'] });
      expect(endpoint.status).toBe(422);
      expect(endpoint.body.detail[0].loc).toEqual(['body', 'filterTypes', '1']);
    });

    it('declare loc as a list of strings in the OpenAPI document', async () => {
      const doc = expectStatus(await tw.api('GET', '/api/v1/openapi.json'), 200, 'openapi').body;
      const schemas = doc.components.schemas;
      const validation = schemas.HTTPValidationError;
      const item = validation.properties.detail.items.$ref ? schemas[validation.properties.detail.items.$ref.split('/').pop()] : validation.properties.detail.items;
      expect(item.properties.loc.items).toMatchObject({ type: 'string' });
    });
  });

  describe("Svix's limits", () => {
    it('takes up to 10 channels with : and + in their names, and matches them exactly', async () => {
      const ep = (await svix2.endpoint.create(appId, { url: 'http://127.0.0.1:9/hook', channels: ['project:42', 'team+ops'] })).id;
      expect((await svix2.endpoint.get(appId, ep)).channels?.sort()).toEqual(['project:42', 'team+ops']);
      const channels = ['project:42', ...Array.from({ length: 9 }, (_, i) => `c:${i}+x`)];
      const hit = await svix2.message.create(appId, { eventType: 'parity.open', payload: { n: 1 }, channels });
      expect(hit.channels).toEqual(channels);
      const miss = await svix2.message.create(appId, { eventType: 'parity.open', payload: { n: 2 }, channels: ['project:4'] });
      const destinations = async (msgId: string) =>
        (expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${msgId}/endpoint`), 200, 'destinations').body.data as { id: string }[]).map((d) => d.id);
      expect(await destinations(hit.id)).toContain(ep);
      expect(await destinations(miss.id)).not.toContain(ep);
      const team = await svix2.message.create(appId, { eventType: 'parity.open', payload: { n: 3 }, channels: ['team+ops'] });
      expect(await destinations(team.id)).toContain(ep);

      // The channel filter of the message list takes such names too.
      const listed = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg?channel=${encodeURIComponent('project:42')}`), 200, 'list').body.data as { id: string }[];
      expect(listed.map((m) => m.id)).toEqual([hit.id]);

      // 11 is one too many; other characters are still refused.
      const eleven = await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'parity.open', payload: {}, channels: [...channels, 'eleven'] });
      expect(eleven.status).toBe(422);
      expect(eleven.body.detail[0].loc).toEqual(['body', 'channels']);
      expect((await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'parity.open', payload: {}, channels: ['a/b'] })).status).toBe(422);
      expect((await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep}`, { channels: ['a b'] })).status).toBe(422);
    });

    it('keeps a payload for as little as one day', async () => {
      const res = await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'parity.open', payload: { short: true }, payloadRetentionPeriod: 1 });
      expect(res.status, res.text).toBe(202);
      expect((await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'parity.open', payload: {}, payloadRetentionPeriod: 0 })).status).toBe(422);
    });

    it('reads throttleRate 0 as no limit on applications and endpoints', async () => {
      const app = await svix2.application.create({ name: 'Zero', throttleRate: 5 });
      expect(app.throttleRate).toBe(5);
      const patched = await svix2.application.patch(app.id, { throttleRate: 0 });
      expect(patched.throttleRate).toBeUndefined();
      expect((await svix2.application.get(app.id)).throttleRate).toBeUndefined();
      const created = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Zero too', throttleRate: 0 }), 201, 'create app').body;
      expect(created.throttleRate).toBeUndefined();
      expect(created.rateLimit).toBeUndefined();
      expect(expectStatus(await tw.api('PUT', `/api/v1/app/${app.id}`, { name: 'Zero', rateLimit: 0 }), 200, 'put app').body.throttleRate).toBeUndefined();

      const ep = await svix2.endpoint.create(app.id, { url: 'http://127.0.0.1:9/hook', throttleRate: 7 });
      expect(ep.throttleRate).toBe(7);
      expect((await svix2.endpoint.patch(app.id, ep.id, { throttleRate: 0 })).throttleRate).toBeUndefined();
      expect((await svix2.endpoint.get(app.id, ep.id)).throttleRate).toBeUndefined();
      const ep0 = expectStatus(await tw.api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/hook', throttleRate: 0 }), 201, 'create endpoint').body;
      expect(ep0.throttleRate).toBeUndefined();
      expect((await tw.api('POST', '/api/v1/app', { name: 'Negative', throttleRate: -1 })).status).toBe(422);
    });
  });

  describe('fields the 2.x client sends', () => {
    it('takes null where Svix does: endpoint headers, a rotation grace period', async () => {
      const ep = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'http://127.0.0.1:9/hook', headers: null }), 201, 'create').body;
      expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/headers`), 200, 'headers').body.headers).toEqual({});
      expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/secret/rotate`, { gracePeriodSeconds: null }), 204, 'rotate');
      await svix2.endpoint.rotateSecret(appId, ep.id, { gracePeriodSeconds: null });
    });

    it('honours headers given on an endpoint PATCH instead of dropping them', async () => {
      const ep = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'http://127.0.0.1:9/hook', headers: { 'X-Old': '1' } }), 201, 'create').body;
      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { headers: { 'X-New': '2' } }), 200, 'patch');
      expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/headers`), 200, 'headers').body.headers).toEqual({ 'X-New': '2' });
      const refused = await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { headers: { 'Content-Type': 'text/plain' } });
      expect(refused.status).toBe(422);
      expect(refused.body.detail[0].loc).toEqual(['body', 'headers', 'Content-Type']);
    });

    it('refuses both payload retentions at once, naming payloadRetentionHours, as they exclude each other', async () => {
      const res = await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'parity.open', payload: {}, payloadRetentionPeriod: 2, payloadRetentionHours: 5 });
      expect(res.status).toBe(422);
      expect(res.body.detail[0].loc).toEqual(['body', 'payloadRetentionHours']);
      expect((await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'parity.open', payload: {}, payloadRetentionPeriod: null, payloadRetentionHours: 5 })).status).toBe(202);
    });
  });

  describe('send-example', () => {
    it('sends the example exampleIndex picks, and refuses an index past the last', async () => {
      await svix2.eventType.create({
        name: 'parity.example',
        description: 'examples',
        schemas: { '1': { type: 'object', examples: [{ n: 0 }, { n: 1 }, { n: 2 }] } },
      });
      const ep = (await svix2.endpoint.create(appId, { url: 'http://127.0.0.1:9/hook' })).id;
      const sent = async (body: object) => tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep}/send-example`, body);
      expect(expectStatus(await sent({ eventType: 'parity.example' }), 200, 'default').body.payload).toEqual({ n: 0 });
      expect(expectStatus(await sent({ eventType: 'parity.example', exampleIndex: 2 }), 200, 'index 2').body.payload).toEqual({ n: 2 });
      const viaClient = await svix2.endpoint.sendExample(appId, ep, { eventType: 'parity.example', exampleIndex: 1 });
      const stored = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${viaClient.id}`), 200, 'get').body;
      expect(stored.payload).toEqual({ n: 1 });

      const past = await sent({ eventType: 'parity.example', exampleIndex: 3 });
      expect(past.status).toBe(422);
      expect(past.body.detail[0].loc).toEqual(['body', 'exampleIndex']);
      expect((await sent({ eventType: 'parity.example', exampleIndex: -1 })).status).toBe(422);

      // A single `example` has no index to pick: it is sent whatever the index, as Svix ignores it.
      await svix2.eventType.create({ name: 'parity.single-example', description: 'one', schemas: { '1': { type: 'object', example: { only: true } } } });
      expect(expectStatus(await sent({ eventType: 'parity.single-example', exampleIndex: 5 }), 200, 'single').body.payload).toEqual({ only: true });
    });
  });
});
