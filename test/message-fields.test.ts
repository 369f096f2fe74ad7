// The MessageIn fields beyond the payload, end to end through the official svix clients (1.x and
// 2.x) and raw HTTP: scheduled delivery (deliverAt), tags and the `tag` filter of the message and
// attempt lists, `with_msg` on the attempt lists, and raw (non-JSON) payloads with their content type.
import { createHmac, randomUUID } from 'node:crypto';
import { Svix as Svix1, messageInRaw as messageInRaw1 } from 'svix';
import { Svix as Svix2, messageInRaw as messageInRaw2 } from 'svix2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNo5xx, expectValidation, guardedFetch } from './helpers/api-guard.js';
import { eventually } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startReceiver, type Receiver, type ReceivedRequest } from './helpers/receiver.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const MINUTE = 60_000;

/**
 * True when the request's `webhook-signature` is the Standard Webhooks HMAC of exactly the bytes
 * received (svix's own Webhook.verify would also parse them as JSON, which a raw payload is not).
 */
function signedBytesMatch(request: ReceivedRequest, secret: string): boolean {
  const id = String(request.headers['webhook-id']);
  const timestamp = String(request.headers['webhook-timestamp']);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), request.body])).digest('base64');
  return String(request.headers['webhook-signature']).split(' ').includes(`v1,${expected}`);
}

/** A clock the test moves by hand, starting at the real time (ids and leases look normal). */
function manualClock(): { now(): Date; advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => (offset += ms) };
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);
  afterEach(() => expectNo5xx());

  /** The server of the scheduling tests runs on a clock they move; the others on the real one (svix's Webhook checks timestamps). */
  let scheduler: TestTapwire;
  let tw: TestTapwire;
  let receiver: Receiver;
  const clock = manualClock();

  beforeAll(async () => {
    [scheduler, tw, receiver] = await Promise.all([startTapwire({}, { clock }), startTapwire(), startReceiver()]);
  });
  afterAll(async () => {
    await scheduler?.close();
    await tw?.close();
    await receiver?.close();
  });

  /** A fresh application with one endpoint on its own receiver path; returns ids, path and secret. */
  async function setUp(svix: Svix1 | Svix2): Promise<{ appId: string; endpointId: string; path: string; secret: string }> {
    const app = await svix.application.create({ name: `fields-${randomUUID().slice(0, 8)}` });
    const path = `/hook-${randomUUID().slice(0, 8)}`;
    const endpoint = await svix.endpoint.create(app.id, { url: `${receiver.url}${path}` });
    const { key } = await svix.endpoint.getSecret(app.id, endpoint.id);
    return { appId: app.id, endpointId: endpoint.id, path, secret: key };
  }
  /** A 422 naming the tag at `index` (the index as a number or a string). */
  function expectItemIssue(res: Awaited<ReturnType<TestTapwire['api']>>, index: number): void {
    const issues = expectValidation(res);
    expect(issues.map((i) => i.loc.map(String))).toContainEqual(['body', 'tags', String(index)]);
  }
  const on = (path: string) => (requests: ReceivedRequest[]) => requests.filter((r) => r.path === path);
  const idOf = (r: ReceivedRequest): string => String(r.headers['webhook-id']);

  it('documents the fields and parameters in the OpenAPI document', async () => {
    const doc = (await tw.api('GET', '/api/v1/openapi.json')).body;
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.MessageIn.properties)).toEqual(expect.arrayContaining(['tags', 'deliverAt', 'transformationsParams']));
    expect(schemas.MessageIn.properties.tags).toMatchObject({ maxItems: 5, uniqueItems: true });
    expect(Object.keys(schemas.MessageOut.properties)).toEqual(expect.arrayContaining(['tags', 'deliverAt', 'transformationsParams']));
    expect(schemas.MessageAttemptOut.properties.msg).toBeDefined();
    const paramsOf = (path: string) => (doc.paths[path].get.parameters as { name: string }[]).map((p) => p.name);
    for (const path of ['/api/v1/app/{app_id}/msg', '/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}', '/api/v1/app/{app_id}/attempt/msg/{msg_id}', '/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg']) {
      expect(paramsOf(path), path).toContain('tag');
    }
    expect(paramsOf('/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}')).toContain('with_msg');
  });

  describe('deliverAt: scheduled delivery', () => {
    it('accepts at once, delivers nothing before deliverAt, then delivers when the time comes (svix 2.x)', async () => {
      const svix = new Svix2(ADMIN_TOKEN, { serverUrl: scheduler.url, fetch: guardedFetch });
      const { appId, endpointId, path } = await setUp(svix);
      const deliverAt = new Date(clock.now().getTime() + 10 * MINUTE);
      const scheduled = await svix.message.create(appId, { eventType: 'invoice.paid', payload: { scheduled: true }, deliverAt }, { withContent: true });
      expect(scheduled.deliverAt).toEqual(deliverAt);
      expect(scheduled.payload).toEqual({ scheduled: true });
      // An ordinary message sent after it goes out at once; the scheduled one must not go with it.
      const now = await svix.message.create(appId, { eventType: 'invoice.paid', payload: { scheduled: false } });
      expect(now.deliverAt ?? null).toBeNull();
      const early = await receiver.waitFor((rs) => on(path)(rs).some((r) => idOf(r) === now.id));
      expect(on(path)(early).map(idOf)).toEqual([now.id]);

      // The API shows it waiting for its time: pending, next attempt = deliverAt, no attempt made.
      const raw = await scheduler.api('GET', `/api/v1/app/${appId}/msg/${scheduled.id}`);
      expect(raw.body.deliverAt).toBe(deliverAt.toISOString());
      const destinations = await svix.messageAttempt.listAttemptedDestinations(appId, scheduled.id);
      expect(destinations.data).toHaveLength(1);
      expect(destinations.data[0]).toMatchObject({ id: endpointId, status: 1, nextAttempt: deliverAt });
      expect((await svix.messageAttempt.listByMsg(appId, scheduled.id)).data).toEqual([]);
      const attempted = await svix.messageAttempt.listAttemptedMessages(appId, endpointId);
      expect(attempted.data.find((m) => m.id === scheduled.id)).toMatchObject({ status: 1, deliverAt, nextAttempt: deliverAt });

      // A minute before: still nothing.
      clock.advance(9 * MINUTE);
      await eventually(() => svix.messageAttempt.listByEndpoint(appId, endpointId), (page) => page.data.some((a) => a.msgId === now.id));
      expect(on(path)(receiver.requests).map(idOf)).toEqual([now.id]);
      // Its time: delivered, once.
      clock.advance(MINUTE + 1_000);
      const delivered = await receiver.waitFor((rs) => on(path)(rs).some((r) => idOf(r) === scheduled.id));
      expect(on(path)(delivered).filter((r) => idOf(r) === scheduled.id)).toHaveLength(1);
      expect(JSON.parse(on(path)(delivered).find((r) => idOf(r) === scheduled.id)!.body.toString())).toEqual({ scheduled: true });
      await eventually(() => svix.messageAttempt.listByMsg(appId, scheduled.id), (page) => page.data.length === 1 && page.data[0]!.status === 0);
    });

    it('the 1.x client sends deliverAt too, and MessageOut carries it back', async () => {
      const svix = new Svix1(ADMIN_TOKEN, { serverUrl: scheduler.url, fetch: guardedFetch });
      const { appId } = await setUp(svix);
      const deliverAt = new Date(clock.now().getTime() + 2 * 3_600_000);
      const created = await svix.message.create(appId, { eventType: 'invoice.paid', payload: {}, deliverAt });
      expect(created.deliverAt).toEqual(deliverAt);
      expect((await svix.message.get(appId, created.id)).deliverAt).toEqual(deliverAt);
      const listed = await svix.message.list(appId);
      expect(listed.data.find((m) => m.id === created.id)?.deliverAt).toEqual(deliverAt);
    });

    it('refuses a deliverAt less than a minute or more than 24 hours ahead, or not a time (422 naming deliverAt)', async () => {
      const svix = new Svix2(ADMIN_TOKEN, { serverUrl: scheduler.url, fetch: guardedFetch });
      const { appId } = await setUp(svix);
      const ahead = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
      for (const deliverAt of [ahead(-MINUTE), ahead(0), ahead(30_000), ahead(24 * 3_600_000 + MINUTE), ahead(3 * 86_400_000)]) {
        const res = await scheduler.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: {}, deliverAt });
        expectValidation(res, ['body', 'deliverAt']);
      }
      for (const deliverAt of ['tomorrow', '2030-06-30T23:59:60Z', 12345]) {
        expectValidation(await scheduler.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: {}, deliverAt }), ['body', 'deliverAt']);
      }
      // Nothing was stored by the refused calls.
      expect((await scheduler.api('GET', `/api/v1/app/${appId}/msg`)).body.data).toEqual([]);
      // The edges are accepted; null means "not scheduled".
      for (const deliverAt of [ahead(MINUTE), ahead(24 * 3_600_000)]) {
        expect((await scheduler.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: {}, deliverAt })).status).toBe(202);
      }
      const plain = await scheduler.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: {}, deliverAt: null });
      expect(plain.status).toBe(202);
      expect(plain.body.deliverAt).toBeUndefined();
    });
  });

  describe('tags and the tag filter', () => {
    it('stores tags, returns them, and filters the message list and the three attempt lists by tag (svix 1.x)', async () => {
      const svix = new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const { appId, endpointId, path } = await setUp(svix);
      const billing = await svix.message.create(appId, { eventType: 'invoice.paid', payload: { n: 1 }, tags: ['billing', 'eu/west#1'] });
      expect(billing.tags).toEqual(['billing', 'eu/west#1']);
      const other = await svix.message.create(appId, { eventType: 'invoice.paid', payload: { n: 2 }, tags: ['ops'] });
      const untagged = await svix.message.create(appId, { eventType: 'invoice.paid', payload: { n: 3 } });
      expect(untagged.tags ?? null).toBeNull();
      const billing2 = await svix.message.create(appId, { eventType: 'invoice.paid', payload: { n: 4 }, tags: ['billing'] });
      expect((await svix.message.get(appId, billing.id)).tags).toEqual(['billing', 'eu/west#1']);
      await receiver.waitFor((rs) => on(path)(rs).length >= 4);
      await eventually(() => svix.messageAttempt.listByEndpoint(appId, endpointId), (page) => page.data.length === 4);

      const ids = (page: { data: { id: string }[] }) => page.data.map((m) => m.id);
      expect(ids(await svix.message.list(appId, { tag: 'billing' }))).toEqual([billing2.id, billing.id]);
      expect(ids(await svix.message.list(appId, { tag: 'eu/west#1' }))).toEqual([billing.id]);
      expect(ids(await svix.message.list(appId, { tag: 'nobody' }))).toEqual([]);
      expect(ids(await svix.message.list(appId))).toEqual([billing2.id, untagged.id, other.id, billing.id]);
      // Pages of a tag follow each other with the iterator.
      const first = await svix.message.list(appId, { tag: 'billing', limit: 1 });
      expect(ids(first)).toEqual([billing2.id]);
      expect(first.done).toBe(false);
      const second = await svix.message.list(appId, { tag: 'billing', limit: 1, iterator: first.iterator });
      expect(ids(second)).toEqual([billing.id]);
      expect(second.done).toBe(true);

      const msgIds = (page: { data: { msgId: string }[] }) => page.data.map((a) => a.msgId);
      expect(msgIds(await svix.messageAttempt.listByEndpoint(appId, endpointId, { tag: 'billing' }))).toEqual([billing2.id, billing.id]);
      expect(msgIds(await svix.messageAttempt.listByEndpoint(appId, endpointId, { tag: 'ops' }))).toEqual([other.id]);
      expect(msgIds(await svix.messageAttempt.listByMsg(appId, billing.id, { tag: 'billing' }))).toEqual([billing.id]);
      expect(msgIds(await svix.messageAttempt.listByMsg(appId, billing.id, { tag: 'ops' }))).toEqual([]);
      const attempted = await svix.messageAttempt.listAttemptedMessages(appId, endpointId, { tag: 'billing' });
      expect(ids(attempted)).toEqual([billing2.id, billing.id]);
      expect(attempted.data[1]!.tags).toEqual(['billing', 'eu/west#1']);

      // The 2.x client sends the same parameter (and with_content=false by default).
      const svix2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const listed2 = await svix2.message.list(appId, { tag: 'billing' });
      expect(ids(listed2)).toEqual([billing2.id, billing.id]);
      expect(listed2.data[1]!.tags).toEqual(['billing', 'eu/west#1']);
      expect(msgIds(await svix2.messageAttempt.listByEndpoint(appId, endpointId, { tag: 'eu/west#1' }))).toEqual([billing.id]);
      expect(ids(await svix2.messageAttempt.listAttemptedMessages(appId, endpointId, { tag: 'ops' }))).toEqual([other.id]);
    });

    it('validates tags as Svix does: at most 5, unique, letters digits and -_./\\# up to 128 characters', async () => {
      const { appId } = await setUp(new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch }));
      const send = (tags: unknown) => tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: {}, tags });
      expectValidation(await send(['a', 'b', 'c', 'd', 'e', 'f']), ['body', 'tags']);
      expectValidation(await send(['a', 'a']), ['body', 'tags']);
      expectItemIssue(await send(['has space']), 0);
      expectItemIssue(await send(['ok', 'x'.repeat(129)]), 1);
      expectItemIssue(await send(['']), 0);
      expectValidation(await send('billing'), ['body', 'tags']);
      const fine = await send(['a', 'b', 'c', 'd', 'back\\slash', 'x'.repeat(128)].slice(1));
      expect(fine.status).toBe(202);
      expect(fine.body.tags).toEqual(['b', 'c', 'd', 'back\\slash', 'x'.repeat(128)]);
      expectValidation(await tw.api('GET', `/api/v1/app/${appId}/msg?tag=${encodeURIComponent('no space')}`), ['query', 'tag']);
    });
  });

  describe('with_msg on the attempt lists', () => {
    it("carries each attempt's message (without its payload) when asked, and nothing otherwise (svix 2.x)", async () => {
      const svix = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const { appId, endpointId } = await setUp(svix);
      const sent = await svix.message.create(appId, { eventType: 'invoice.paid', payload: { secret: 'x' }, tags: ['t1'], channels: ['c1'] });
      await eventually(() => svix.messageAttempt.listByEndpoint(appId, endpointId), (page) => page.data.length === 1);

      const withMsg = await svix.messageAttempt.listByEndpoint(appId, endpointId, { withMsg: true });
      expect(withMsg.data[0]!.msg).toMatchObject({ id: sent.id, eventType: 'invoice.paid', tags: ['t1'], channels: ['c1'], payload: {} });
      expect(withMsg.data[0]!.msg!.timestamp).toEqual(sent.timestamp);
      const without = await svix.messageAttempt.listByEndpoint(appId, endpointId);
      expect(without.data[0]!.msg ?? null).toBeNull();
      // The 1.x client's withMsg too.
      const svix1 = new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const withMsg1 = await svix1.messageAttempt.listByEndpoint(appId, endpointId, { withMsg: true });
      expect(withMsg1.data[0]!.msg).toMatchObject({ id: sent.id, eventType: 'invoice.paid', payload: {} });
      const raw = await tw.api('GET', `/api/v1/app/${appId}/attempt/msg/${sent.id}?with_msg=true`);
      expect(raw.body.data[0].msg).toMatchObject({ id: sent.id, payload: {} });
      expectValidation(await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/${endpointId}?with_msg=maybe`), ['query', 'with_msg']);
    });
  });

  describe('raw payloads with a content type', () => {
    it('delivers a non-JSON payload byte-for-byte with its content type, signed over those bytes (svix 1.x and 2.x messageInRaw)', async () => {
      const svix1 = new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const svix2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const { appId, path, secret } = await setUp(svix1);
      const xml = '<?xml version="1.0"?>\n<invoice id="7">  héllo ✓ </invoice>\n';
      const form = 'a=1&b=two%20words';
      const one = await svix1.message.create(appId, messageInRaw1('invoice.paid', xml, 'application/xml'));
      const two = await svix2.message.create(appId, messageInRaw2('invoice.paid', form, 'application/x-www-form-urlencoded'), { withContent: true });
      const json = await svix2.message.create(appId, { eventType: 'invoice.paid', payload: { plain: 'json' } }, { withContent: true });
      const requests = on(path)(await receiver.waitFor((rs) => on(path)(rs).length >= 3));
      const byId = new Map(requests.map((r) => [idOf(r), r]));

      for (const [msg, body, contentType] of [[one, xml, 'application/xml'], [two, form, 'application/x-www-form-urlencoded']] as const) {
        const request = byId.get(msg.id)!;
        expect(request.headers['content-type']).toBe(contentType);
        expect(request.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
        expect(signedBytesMatch(request, secret)).toBe(true);
      }
      // A JSON payload is untouched: application/json, and no transformationsParams in the API.
      expect(byId.get(json.id)!.headers['content-type']).toBe('application/json');
      expect(byId.get(json.id)!.body.toString()).toBe('{"plain":"json"}');
      const jsonOut = await tw.api('GET', `/api/v1/app/${appId}/msg/${json.id}`);
      expect(jsonOut.body.payload).toEqual({ plain: 'json' });
      expect(jsonOut.body.transformationsParams).toBeUndefined();

      // The API keeps `payload` an object and gives the raw text exactly as sent, in MessageIn's shape.
      expect(two.payload).toEqual({});
      const out = await tw.api('GET', `/api/v1/app/${appId}/msg/${one.id}`);
      expect(out.body.payload).toEqual({});
      expect(out.body.transformationsParams).toEqual({ rawPayload: xml, headers: { 'content-type': 'application/xml' } });
      const listed = await tw.api('GET', `/api/v1/app/${appId}/msg?with_content=false`);
      expect(listed.body.data.find((m: any) => m.id === one.id).transformationsParams).toEqual({ headers: { 'content-type': 'application/xml' } });
    });

    it('a raw payload that is JSON reads as its object, and keeps its exact text', async () => {
      const { appId, path } = await setUp(new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch }));
      const text = '{ "b": 1,   "a": [1.0, 2] }';
      const res = await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: {}, transformationsParams: { rawPayload: text } });
      expect(res.status).toBe(202);
      expect(res.body.payload).toEqual({ b: 1, a: [1, 2] });
      expect(res.body.transformationsParams).toEqual({ rawPayload: text, headers: { 'content-type': 'application/json' } });
      const request = on(path)(await receiver.waitFor((rs) => on(path)(rs).length >= 1))[0]!;
      expect(request.body.toString()).toBe(text);
      expect(request.headers['content-type']).toBe('application/json');
    });

    it('refuses headers it cannot send, a malformed content type and a lone surrogate (422)', async () => {
      const { appId } = await setUp(new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch }));
      const send = (transformationsParams: unknown) => tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: {}, transformationsParams });
      expectValidation(await send({ rawPayload: 'x', headers: { 'x-custom': 'y' } }), ['body', 'transformationsParams', 'headers', 'x-custom']);
      expectValidation(await send({ rawPayload: 'x', headers: { 'content-type': 'not a type' } }), ['body', 'transformationsParams', 'headers', 'content-type']);
      expectValidation(await send({ rawPayload: 'x', headers: { 'Content-Type': 'text/plain\r\nx-evil: 1' } }), ['body', 'transformationsParams', 'headers', 'Content-Type']);
      expectValidation(
        await tw.api('POST', `/api/v1/app/${appId}/msg`, undefined, {
          raw: '{"eventType":"invoice.paid","payload":{},"transformationsParams":{"rawPayload":"a\\ud800b"}}',
        }),
        ['body', 'transformationsParams', 'rawPayload'],
      );
      // A content type with an ordinary JSON payload: that payload, sent with that type.
      const typed = await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'invoice.paid', payload: { a: 1 }, transformationsParams: { headers: { 'content-type': 'application/vnd.api+json' } } });
      expect(typed.status).toBe(202);
      expect(typed.body.payload).toEqual({ a: 1 });
      expect(typed.body.transformationsParams).toEqual({ rawPayload: '{"a":1}', headers: { 'content-type': 'application/vnd.api+json' } });
      const ok = await send({ rawPayload: 'plain words', headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
      expect(ok.status).toBe(202);
      expect(ok.body.transformationsParams.headers).toEqual({ 'content-type': 'text/plain; charset=utf-8' });
    });
  });
});
