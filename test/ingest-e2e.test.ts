// Inbound sources end to end: the official svix client (2.x) creates a Stripe source and an ingest
// endpoint pointing at a real receiver on loopback; Stripe's own library signs test events that are
// POSTed to the source's ingestUrl. What arrives at the endpoint must be the provider's bytes,
// unchanged, signed with the endpoint's own Standard Webhooks secret; a forgery, an unknown token and
// an oversized body are refused and leave no row behind; a provider's retry delivers nothing new.
import { createHmac, randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import * as svix2 from 'svix2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNo5xx, guardedFetch } from './helpers/api-guard.js';
import { eventually } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startReceiver, type Receiver, type ReceivedRequest } from './helpers/receiver.js';
import { countRows, settledRowCounts } from './helpers/row-counts.js';
import { SVIX_MAJORS } from './helpers/svix-majors.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const MAX_PAYLOAD_BYTES = 8192;
const stripeLib = new Stripe('sk_test_unused_by_these_tests');

/** A Stripe-like event as Stripe sends it: pretty-printed, with a float and non-ASCII text, so any re-serialisation shows. */
function stripeEvent(id: string, type = 'payment_intent.succeeded', pad = 0): string {
  return (
    `{\n  "id": "${id}",\n  "object": "event",\n  "api_version": "2024-06-20",\n  "created": 1733312000,\n` +
    `  "type": "${type}",\n  "data": {\n    "object": { "id": "pi_3Q", "amount": 1.50, "note": "caf\\u00e9 \u2615 ${'x'.repeat(pad)}" }\n  },\n` +
    `  "livemode": false\n}`
  );
}

/** The Stripe-Signature header Stripe's own library makes for `payload` (timestamp: now, or `timestamp` seconds). */
function stripeSignature(payload: string, secret: string, timestamp?: number): string {
  return stripeLib.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp !== undefined ? { timestamp } : {}) });
}

const headersOf = (req: ReceivedRequest): Record<string, string> =>
  Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));

/** POST a provider's request to an ingest URL. */
async function postToIngest(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, text: await res.text() };
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let receiver: Receiver;
  let svix: any;

  beforeAll(async () => {
    tw = await startTapwire({ TAPWIRE_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) });
    receiver = await startReceiver();
    svix = new svix2.Svix(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
  });
  afterAll(async () => {
    await tw?.close();
    await receiver?.close();
  });
  afterEach(() => expectNo5xx());

  /** A Stripe source and one ingest endpoint on the receiver under `path`, both made with the svix client. */
  async function stripeSourceWithEndpoint(path: string): Promise<{ source: any; stripeSecret: string; endpoint: any; endpointSecret: string }> {
    const stripeSecret = `whsec_${randomBytes(24).toString('hex')}`;
    const source = await svix.ingest.source.create({ name: `Stripe ${path}`, type: 'stripe', config: { secret: stripeSecret } });
    const endpoint = await svix.ingest.endpoint.create(source.id, { url: `${receiver.url}${path}`, description: 'billing service' });
    const { key } = await svix.ingest.endpoint.getSecret(source.id, endpoint.id);
    return { source, stripeSecret, endpoint, endpointSecret: key };
  }

  const requestsTo = (path: string): ReceivedRequest[] => receiver.requests.filter((r) => r.path === path);

  /** The accepted events of a source: the messages of its application (`ingest-<source id>`), newest first. */
  async function eventsOf(sourceId: string): Promise<any[]> {
    const res = await tw.api('GET', `/api/v1/app/ingest-${sourceId}/msg?limit=250`);
    expect(res.status, res.text).toBe(200);
    return res.body.data;
  }

  it('the svix client creates a Stripe source whose ingestUrl carries an unguessable token, without echoing the signing secret', async () => {
    const stripeSecret = `whsec_${randomBytes(24).toString('hex')}`;
    const source = await svix.ingest.source.create({ name: 'Stripe live', uid: `stripe-${backend}`, type: 'stripe', config: { secret: stripeSecret }, metadata: { team: 'billing' } });
    expect(source).toMatchObject({ name: 'Stripe live', uid: `stripe-${backend}`, type: 'stripe', metadata: { team: 'billing' } });
    expect(source.id).toMatch(/^src_/);
    expect(source.createdAt).toBeInstanceOf(Date);
    expect(Number.isNaN(source.createdAt.getTime())).toBe(false);
    // Built from TAPWIRE_PUBLIC_URL, whose default is this server's own address.
    expect(source.ingestUrl).toEqual(expect.stringMatching(new RegExp(`^${tw.url.replace(/[.]/g, '\\.')}/`)));
    const token = new URL(source.ingestUrl).pathname.split('/').filter(Boolean).pop()!;
    expect(token.length).toBeGreaterThanOrEqual(22); // at least ~128 bits of base64url/hex
    expect(source.ingestUrl).not.toContain(source.id); // the id is not a secret; the URL must not be guessable from it

    const other = await svix.ingest.source.create({ name: 'Another', type: 'stripe', config: { secret: stripeSecret } });
    expect(other.ingestUrl).not.toBe(source.ingestUrl);

    // Readable by id and by uid, and listed; the secret never comes back.
    expect((await svix.ingest.source.get(source.id)).ingestUrl).toBe(source.ingestUrl);
    expect((await svix.ingest.source.get(`stripe-${backend}`)).id).toBe(source.id);
    const list = await svix.ingest.source.list({ limit: 250 });
    expect(list.data.map((s: any) => s.id)).toEqual(expect.arrayContaining([source.id, other.id]));
    for (const path of [`/ingest/api/v1/source/${source.id}`, '/ingest/api/v1/source?limit=250']) {
      const raw = await tw.api('GET', path);
      expect(raw.status).toBe(200);
      expect(raw.text).not.toContain(stripeSecret);
    }

    // Rotation hands out a new URL.
    const rotated = await svix.ingest.source.rotateToken(source.id);
    expect(rotated.ingestUrl).not.toBe(source.ingestUrl);
    expect((await svix.ingest.source.get(source.id)).ingestUrl).toBe(rotated.ingestUrl);
  });

  describe.each(SVIX_MAJORS)('$label', (major) => {
    it('runs every call of ingest.source and ingest.endpoint unmodified', async () => {
      const c = new major.lib.Svix(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const uid = `gh-${major.major}-${backend}`;
      const source = await c.ingest.source.create({ name: 'GitHub', uid, type: 'github', config: { secret: 'gh-secret-1' } });
      expect(source).toMatchObject({ name: 'GitHub', uid, type: 'github' });
      expect((await c.ingest.source.get(uid)).id).toBe(source.id);
      const renamed = await c.ingest.source[major.put](source.id, { name: 'GitHub org', uid, type: 'github', config: { secret: 'gh-secret-2' } });
      expect(renamed).toMatchObject({ id: source.id, name: 'GitHub org', type: 'github' });
      const page = await c.ingest.source.list({ limit: 1 });
      expect(page.data).toHaveLength(1);
      expect(typeof page.done).toBe('boolean');
      const { ingestUrl } = await c.ingest.source.rotateToken(source.id);
      expect(ingestUrl).not.toBe(source.ingestUrl);

      const endpoint = await c.ingest.endpoint.create(source.id, { url: `${receiver.url}/crud`, uid: 'crud-ep', metadata: { k: 'v' } });
      expect(endpoint).toMatchObject({ url: `${receiver.url}/crud`, uid: 'crud-ep', metadata: { k: 'v' } });
      expect(endpoint.id).toMatch(/^ep_/);
      expect((await c.ingest.endpoint.get(source.id, endpoint.id)).url).toBe(`${receiver.url}/crud`);
      expect((await c.ingest.endpoint.list(source.id)).data.map((e: any) => e.id)).toEqual([endpoint.id]);
      const updated = await c.ingest.endpoint[major.put](source.id, endpoint.id, { url: `${receiver.url}/crud2`, description: 'moved' });
      expect(updated).toMatchObject({ id: endpoint.id, url: `${receiver.url}/crud2`, description: 'moved' });
      const { key } = await c.ingest.endpoint.getSecret(source.id, endpoint.id);
      expect(key).toMatch(/^whsec_/);
      await c.ingest.endpoint.rotateSecret(source.id, endpoint.id, {});
      expect((await c.ingest.endpoint.getSecret(source.id, endpoint.id)).key).not.toBe(key);
      await c.ingest.endpoint[major.setHeaders](source.id, endpoint.id, { headers: { 'x-team': 'billing' } });
      expect((await c.ingest.endpoint.getHeaders(source.id, endpoint.id)).headers).toEqual({ 'x-team': 'billing' });

      await c.ingest.endpoint.delete(source.id, endpoint.id);
      await expect(c.ingest.endpoint.get(source.id, endpoint.id)).rejects.toMatchObject({ code: 404 });
      await c.ingest.source.delete(source.id);
      await expect(c.ingest.source.get(source.id)).rejects.toMatchObject({ code: 404 });
      await expect(c.ingest.endpoint.list(source.id)).rejects.toMatchObject({ code: 404 });
    });
  });

  it('keeps the previous ingestUrl working for 48 hours after a token rotation, then answers 404', async () => {
    // A server of its own whose clock the test moves; Stripe's signatures are made at that time.
    let offsetMs = 0;
    const now = (): number => Date.now() + offsetMs;
    const timed = await startTapwire({}, { clock: { now: () => new Date(now()) } });
    try {
      const client = new svix2.Svix(ADMIN_TOKEN, { serverUrl: timed.url, fetch: guardedFetch }) as any;
      const stripeSecret = `whsec_${randomBytes(24).toString('hex')}`;
      const source = await client.ingest.source.create({ name: 'Rotated', type: 'stripe', config: { secret: stripeSecret } });
      const post = (url: string, id: string) => {
        const payload = stripeEvent(id);
        return postToIngest(url, payload, { 'stripe-signature': stripeSignature(payload, stripeSecret, Math.floor(now() / 1000)) });
      };
      const { ingestUrl } = await client.ingest.source.rotateToken(source.id);
      expect((await post(ingestUrl, 'evt_1Qrot1')).status).toBe(200);
      expect((await post(source.ingestUrl, 'evt_1Qrot2')).status).toBe(200);
      offsetMs = 47 * 3_600_000;
      expect((await post(source.ingestUrl, 'evt_1Qrot3')).status).toBe(200);
      offsetMs = 48 * 3_600_000 + 60_000;
      expect((await post(source.ingestUrl, 'evt_1Qrot4')).status).toBe(404);
      expect((await post(ingestUrl, 'evt_1Qrot5')).status).toBe(200);
    } finally {
      await timed.close();
    }
  });

  it('builds ingestUrl from TAPWIRE_PUBLIC_URL when it is set', async () => {
    const pub = await startTapwire({ TAPWIRE_PUBLIC_URL: 'https://hooks.example.test' });
    try {
      const client = new svix2.Svix(ADMIN_TOKEN, { serverUrl: pub.url, fetch: guardedFetch }) as any;
      const source = await client.ingest.source.create({ name: 'Public', type: 'generic-webhook', config: {} });
      expect(source.ingestUrl).toMatch(/^https:\/\/hooks\.example\.test\//);
      // The path under the public base is this server's own: the same path reaches it directly.
      const res = await postToIngest(`${pub.url}${new URL(source.ingestUrl).pathname}`, '{"hello":"world"}', {});
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(300);
    } finally {
      await pub.close();
    }
  });

  it("forwards a Stripe-signed event to the ingest endpoint with Stripe's bytes unchanged and the endpoint's own signature, after answering Stripe", async () => {
    const path = '/billing';
    const { source, stripeSecret, endpointSecret } = await stripeSourceWithEndpoint(path);
    expect(endpointSecret).toMatch(/^whsec_/);
    // The endpoint holds the forward until Stripe has had its answer: the 2xx must not wait on it.
    let answered!: () => void;
    const stripeAnswered = new Promise<void>((resolve) => (answered = resolve));
    receiver.respond((req) => (req.path === path ? { status: 200, body: 'ok', after: stripeAnswered } : { status: 200 }));

    const payload = stripeEvent('evt_1QforwardA');
    const res = await postToIngest(source.ingestUrl, payload, { 'stripe-signature': stripeSignature(payload, stripeSecret) });
    answered();
    expect(res.status, res.text).toBeGreaterThanOrEqual(200);
    expect(res.status, res.text).toBeLessThan(300);

    const [req] = (await receiver.waitFor(() => requestsTo(path).length >= 1)).filter((r) => r.path === path);
    expect(req!.method).toBe('POST');
    expect(req!.body.equals(Buffer.from(payload))).toBe(true);
    expect(req!.headers['content-type']).toMatch(/^application\/json/);
    const headers = headersOf(req!);
    expect(headers['webhook-id']).toBeTruthy();
    expect(headers['webhook-signature']).toMatch(/^v1,/);
    // svix's own verifier and Tapwire's receiver library both accept it with the endpoint's secret...
    expect(() => new svix2.Webhook(endpointSecret).verify(req!.body.toString('utf8'), headers)).not.toThrow();
    const { standardWebhooks } = await import('../src/receiver/index.js');
    expect(standardWebhooks({ secret: endpointSecret }).verify({ body: req!.body, headers: req!.headers }).id).toBe(headers['webhook-id']);
    // ...and not with Stripe's secret, nor with another endpoint's.
    const stranger = await stripeSourceWithEndpoint('/stranger');
    expect(() => new svix2.Webhook(stranger.endpointSecret).verify(req!.body.toString('utf8'), headers)).toThrow();
    // The held forward was answered once Stripe had its 2xx, and that one attempt is the success: a
    // server that waited on the forward before answering Stripe would have timed it out and retried.
    const [message] = await eventsOf(source.id);
    const attempts = await eventually(
      () => tw.api('GET', `/api/v1/app/ingest-${source.id}/attempt/msg/${message.id}`),
      (r) => r.status === 200 && r.body.data.some((a: any) => a.status === 0),
    );
    expect(attempts.body.data.map((a: any) => a.responseStatusCode)).toEqual([200]);
    expect(requestsTo(path)).toHaveLength(1);
    receiver.respond(() => ({ status: 200 }));
  });

  it('keeps the event as a message with an attempt log, and resends it like an outgoing message', async () => {
    const path = '/logged';
    const { source, stripeSecret, endpoint, endpointSecret } = await stripeSourceWithEndpoint(path);
    const payload = stripeEvent('evt_1QlogAndResend', 'charge.refunded');
    const res = await postToIngest(source.ingestUrl, payload, { 'stripe-signature': stripeSignature(payload, stripeSecret) });
    expect(res.status, res.text).toBeLessThan(300);
    await receiver.waitFor(() => requestsTo(path).length >= 1);

    const [message] = await eventsOf(source.id);
    expect(message).toMatchObject({ eventId: 'evt_1QlogAndResend', eventType: 'charge.refunded' });
    expect(requestsTo(path)[0]!.headers['webhook-id']).toBe(message.id);
    const app = `ingest-${source.id}`;
    const attempts = await eventually(
      () => tw.api('GET', `/api/v1/app/${app}/attempt/msg/${message.id}`),
      (r) => r.status === 200 && r.body.data.length === 1 && r.body.data[0].status === 0,
    );
    expect(attempts.body.data[0]).toMatchObject({ endpointId: endpoint.id, responseStatusCode: 200, triggerType: 0 });

    const resend = await tw.api('POST', `/api/v1/app/${app}/msg/${message.id}/endpoint/${endpoint.id}/resend`);
    expect(resend.status, resend.text).toBe(202);
    await receiver.waitFor(() => requestsTo(path).length >= 2);
    const again = requestsTo(path)[1]!;
    expect(again.body.toString('utf8')).toBe(payload);
    expect(again.headers['webhook-id']).toBe(message.id);
    expect(() => new svix2.Webhook(endpointSecret).verify(again.body.toString('utf8'), headersOf(again))).not.toThrow();
  });

  it('delivers one event to every ingest endpoint of the source, each signed with its own secret', async () => {
    const { source, stripeSecret, endpointSecret } = await stripeSourceWithEndpoint('/fan-a');
    const second = await svix.ingest.endpoint.create(source.id, { url: `${receiver.url}/fan-b` });
    const secondSecret = (await svix.ingest.endpoint.getSecret(source.id, second.id)).key;
    expect(secondSecret).not.toBe(endpointSecret);
    const listed = await svix.ingest.endpoint.list(source.id);
    expect(listed.data).toHaveLength(2);

    const payload = stripeEvent('evt_1QfanOut');
    const res = await postToIngest(source.ingestUrl, payload, { 'stripe-signature': stripeSignature(payload, stripeSecret) });
    expect(res.status, res.text).toBeLessThan(300);
    await receiver.waitFor(() => requestsTo('/fan-a').length >= 1 && requestsTo('/fan-b').length >= 1);
    const [a] = requestsTo('/fan-a');
    const [b] = requestsTo('/fan-b');
    expect(a!.body.equals(Buffer.from(payload))).toBe(true);
    expect(b!.body.equals(Buffer.from(payload))).toBe(true);
    expect(() => new svix2.Webhook(endpointSecret).verify(a!.body.toString('utf8'), headersOf(a!))).not.toThrow();
    expect(() => new svix2.Webhook(secondSecret).verify(b!.body.toString('utf8'), headersOf(b!))).not.toThrow();
    expect(() => new svix2.Webhook(endpointSecret).verify(b!.body.toString('utf8'), headersOf(b!))).toThrow();
  });

  it("forwards the provider's headers a handler needs (GitHub's event and delivery id) under their own names, never its signature", async () => {
    const path = '/github';
    const ghSecret = `gh_${randomBytes(16).toString('hex')}`;
    const source = await svix.ingest.source.create({ name: 'GitHub', type: 'github', config: { secret: ghSecret } });
    const endpoint = await svix.ingest.endpoint.create(source.id, { url: `${receiver.url}${path}` });
    const { key } = await svix.ingest.endpoint.getSecret(source.id, endpoint.id);
    const body = '{"action":"opened","number":7,"pull_request":{"title":"Fix \\u00e9"}}';
    const signed = (payload: string): string => `sha256=${createHmac('sha256', ghSecret).update(payload).digest('hex')}`;
    const github = { 'x-github-event': 'pull_request', 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', 'x-github-hook-id': '292430182' };
    const res = await postToIngest(source.ingestUrl, body, { ...github, 'x-hub-signature-256': signed(body), 'user-agent': 'GitHub-Hookshot/044aadd' });
    expect(res.status, res.text).toBeLessThan(300);
    const [req] = (await receiver.waitFor(() => requestsTo(path).length >= 1)).filter((r) => r.path === path);
    expect(req!.body.toString('utf8')).toBe(body);
    expect(req!.headers).toMatchObject(github);
    expect(req!.headers['x-hub-signature-256']).toBeUndefined();
    expect(req!.headers['x-hub-signature']).toBeUndefined();
    expect(() => new svix2.Webhook(key).verify(req!.body.toString('utf8'), headersOf(req!))).not.toThrow();
    const [message] = await eventsOf(source.id);
    expect(message).toMatchObject({ eventId: github['x-github-delivery'], eventType: 'pull_request' });

    // GitHub's redelivery of the same delivery id is recognised as a retry.
    const again = await postToIngest(source.ingestUrl, body, { ...github, 'x-hub-signature-256': signed(body) });
    expect(again.status, again.text).toBeLessThan(300);
    expect(await eventsOf(source.id)).toHaveLength(1);
  });

  it('refuses forgeries with a bare 401 and stores nothing, so the genuine event with the same id is still accepted and delivered once', async () => {
    const path = '/forgery';
    const { source, stripeSecret, endpointSecret } = await stripeSourceWithEndpoint(path);
    const genuine = stripeEvent('evt_1QforgedTarget');
    const tampered = genuine.replace('1.50', '9999.00');
    const before = await settledRowCounts(tw.config.databaseUrl);

    const forgeries: Array<[string, string, Record<string, string>]> = [
      ['signed with another secret', genuine, { 'stripe-signature': stripeSignature(genuine, `whsec_${randomBytes(24).toString('hex')}`) }],
      ["the genuine signature on a changed body", tampered, { 'stripe-signature': stripeSignature(genuine, stripeSecret) }],
      ['no signature at all', genuine, {}],
      ['a signature from too long ago', genuine, { 'stripe-signature': stripeSignature(genuine, stripeSecret, Math.floor(Date.now() / 1000) - 3600) }],
      ['a garbled header', genuine, { 'stripe-signature': 'garbage' }],
    ];
    const answers = new Set<string>();
    for (const [what, body, headers] of forgeries) {
      const res = await postToIngest(source.ingestUrl, body, headers);
      expect(res.status, `${what}: ${res.text}`).toBe(401);
      expect(res.text, what).not.toMatch(/timestamp|tolerance|secret|expected|hmac|header|missing|v1=/i);
      answers.add(res.text);
    }
    // No detail: every forgery gets the same answer, so a forger learns nothing about which check failed.
    expect([...answers]).toHaveLength(1);
    expect(await countRows(tw.config.databaseUrl)).toEqual(before);
    expect(await eventsOf(source.id)).toEqual([]);

    const res = await postToIngest(source.ingestUrl, genuine, { 'stripe-signature': stripeSignature(genuine, stripeSecret) });
    expect(res.status, res.text).toBeLessThan(300);
    const [req] = (await receiver.waitFor(() => requestsTo(path).length >= 1)).filter((r) => r.path === path);
    expect(req!.body.toString('utf8')).toBe(genuine);
    expect(() => new svix2.Webhook(endpointSecret).verify(req!.body.toString('utf8'), headersOf(req!))).not.toThrow();
    await settledRowCounts(tw.config.databaseUrl);
    expect(requestsTo(path)).toHaveLength(1);
  });

  it("answers a provider's retry of an accepted event with 2xx and stores and delivers nothing new", async () => {
    const path = '/retry';
    const { source, stripeSecret } = await stripeSourceWithEndpoint(path);
    const payload = stripeEvent('evt_1QretriedByStripe');
    const first = await postToIngest(source.ingestUrl, payload, { 'stripe-signature': stripeSignature(payload, stripeSecret) });
    expect(first.status, first.text).toBeLessThan(300);
    await receiver.waitFor(() => requestsTo(path).length >= 1);
    const settled = await settledRowCounts(tw.config.databaseUrl);

    // Stripe retries with a fresh timestamp, so a fresh signature over the same event.
    for (const later of [5, 60]) {
      const retry = await postToIngest(source.ingestUrl, payload, { 'stripe-signature': stripeSignature(payload, stripeSecret, Math.floor(Date.now() / 1000) + later) });
      expect(retry.status, retry.text).toBeGreaterThanOrEqual(200);
      expect(retry.status, retry.text).toBeLessThan(300);
    }
    expect(await countRows(tw.config.databaseUrl)).toEqual(settled);
    // A new event after the retries is delivered; by then a duplicate would have been too.
    const marker = stripeEvent('evt_1QafterTheRetries');
    const res = await postToIngest(source.ingestUrl, marker, { 'stripe-signature': stripeSignature(marker, stripeSecret) });
    expect(res.status, res.text).toBeLessThan(300);
    await receiver.waitFor(() => requestsTo(path).some((r) => r.body.toString('utf8') === marker));
    await settledRowCounts(tw.config.databaseUrl);
    expect(requestsTo(path).filter((r) => r.body.toString('utf8') === payload)).toHaveLength(1);
    expect((await eventsOf(source.id)).map((m) => m.eventId).sort()).toEqual(['evt_1QafterTheRetries', 'evt_1QretriedByStripe']);
  });

  it('answers 404 to an unknown token and to the URL of a deleted source', async () => {
    const { source, stripeSecret } = await stripeSourceWithEndpoint('/unknown');
    const payload = stripeEvent('evt_1Qunknown');
    const headers = { 'stripe-signature': stripeSignature(payload, stripeSecret) };
    const url = new URL(source.ingestUrl);
    const token = url.pathname.split('/').filter(Boolean).pop()!;
    const wrong = source.ingestUrl.replace(token, token.replace(/^./, (c: string) => (c === 'A' ? 'B' : 'A')));
    const before = await settledRowCounts(tw.config.databaseUrl);
    expect((await postToIngest(wrong, payload, headers)).status).toBe(404);
    expect((await postToIngest(source.ingestUrl.replace(token, 'not-a-token'), payload, headers)).status).toBe(404);
    expect(await countRows(tw.config.databaseUrl)).toEqual(before);

    await svix.ingest.source.delete(source.id);
    expect((await postToIngest(source.ingestUrl, payload, headers)).status).toBe(404);
    expect(requestsTo('/unknown')).toHaveLength(0);
  });

  it('answers 413 to a body over TAPWIRE_MAX_PAYLOAD_BYTES and stores nothing; a body of exactly that size is accepted', async () => {
    const path = '/size';
    const { source, stripeSecret } = await stripeSourceWithEndpoint(path);
    const sized = (id: string, bytes: number): string => stripeEvent(id, 'payment_intent.succeeded', bytes - Buffer.byteLength(stripeEvent(id)));
    const exact = sized('evt_1QsizeExact', MAX_PAYLOAD_BYTES);
    const over = sized('evt_1QsizeOver', MAX_PAYLOAD_BYTES + 1);
    expect(Buffer.byteLength(exact)).toBe(MAX_PAYLOAD_BYTES);
    expect(Buffer.byteLength(over)).toBe(MAX_PAYLOAD_BYTES + 1);

    const before = await settledRowCounts(tw.config.databaseUrl);
    const res = await postToIngest(source.ingestUrl, over, { 'stripe-signature': stripeSignature(over, stripeSecret) });
    expect(res.status, res.text).toBe(413);
    expect(await countRows(tw.config.databaseUrl)).toEqual(before);

    const ok = await postToIngest(source.ingestUrl, exact, { 'stripe-signature': stripeSignature(exact, stripeSecret) });
    expect(ok.status, ok.text).toBeLessThan(300);
    const [req] = (await receiver.waitFor(() => requestsTo(path).length >= 1)).filter((r) => r.path === path);
    expect(req!.body.equals(Buffer.from(exact))).toBe(true);
    expect(requestsTo(path)).toHaveLength(1);
  });
});
