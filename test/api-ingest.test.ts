// Ingest sources (Svix's Ingest API) through both official client majors: sources and their ingest
// endpoints round-trip with Svix's shapes and status codes; a provider's signed POST to the ingest URL
// is verified from the raw bytes, stored once (a retry stores nothing new), answered at once and
// forwarded byte-for-byte to a real receiver, signed with the ingest endpoint's own secret; a forgery
// is refused with 401 and stores nothing, so the genuine event with its id is still accepted after it.
import { randomUUID } from 'node:crypto';
import { Svix as Svix1 } from 'svix';
import { Svix as Svix2 } from 'svix2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { github, shopify, slack, stripe, standardWebhooks } from '../src/receiver/index.js';
import { verifySignature } from '../src/signing/standard-webhooks.js';
import { expectError, expectNo5xx, expectValidation, guardApi, guardedFetch, type ApiFn } from './helpers/api-guard.js';
import { eventually, flatHeaders } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const STRIPE_SECRET = 'whsec_test_stripe_0123456789abcdef';
const GITHUB_SECRET = 'github-hook-secret';
const SVIX_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ENDPOINT_SECRET = 'whsec_QjOyIDhXu7yJB4B6sDfyZMZb8G1AyVJO';

/** A POST to an ingest URL, as the provider sends it. */
async function post(url: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  return { status: res.status, text: await res.text() };
}

/** Whether a forwarded request carries a valid Standard Webhooks signature of `secret`. */
function signedWith(req: { headers: Record<string, string | string[] | undefined>; body: Buffer }, secret: string): boolean {
  const h = flatHeaders(req.headers as never);
  return verifySignature({ msgId: h['webhook-id']!, timestampSeconds: h['webhook-timestamp']!, body: req.body, signatureHeader: h['webhook-signature']!, secrets: [secret] });
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    tw = await startTapwire({ TAPWIRE_MAX_PAYLOAD_BYTES: '4096' });
    api = guardApi(tw);
  });
  afterAll(async () => {
    await tw?.close();
    for (const rx of receivers) await rx.close();
  });
  afterEach(() => expectNo5xx());

  async function receiver(): Promise<Receiver> {
    const rx = await startReceiver();
    receivers.push(rx);
    return rx;
  }

  it('the 2.x client: every ingest.source and ingest.endpoint method, with Svix shapes', async () => {
    const svix = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
    const tag = randomUUID().slice(0, 8);
    const source = await svix.ingest.source.create({ name: 'Stripe live', uid: `stripe-${tag}`, type: 'stripe', config: { secret: STRIPE_SECRET }, metadata: { team: 'billing' } });
    expect(source.id).toMatch(/^src_[0-9A-Za-z]{27}$/);
    expect(source).toMatchObject({ name: 'Stripe live', uid: `stripe-${tag}`, type: 'stripe', config: {}, metadata: { team: 'billing' } });
    expect(source.ingestUrl).toMatch(new RegExp(`^${tw.config.publicUrl}/ingest/in/[A-Za-z0-9_-]{43}$`));
    expect(JSON.stringify(await api('GET', `/ingest/api/v1/source/${source.id}`))).not.toContain(STRIPE_SECRET);
    expect(await svix.ingest.source.get(source.id)).toEqual(source);
    expect((await svix.ingest.source.get(`stripe-${tag}`)).id).toBe(source.id);
    // The source's application is not among the applications.
    expect((await api('GET', '/api/v1/app?limit=250')).body.data.map((a: { uid: string }) => a.uid)).not.toContain(`ingest-${source.id}`);

    const replaced = await svix.ingest.source.upsert(source.id, { name: 'Stripe (renamed)', type: 'stripe', config: { secret: STRIPE_SECRET } });
    expect(replaced).toMatchObject({ id: source.id, name: 'Stripe (renamed)', ingestUrl: source.ingestUrl, metadata: {} });
    const created = await svix.ingest.source.upsert(`gh-${tag}`, { name: 'GitHub', type: 'github', config: { secret: GITHUB_SECRET } });
    expect(created).toMatchObject({ uid: `gh-${tag}`, type: 'github' });
    const listed = await svix.ingest.source.list({ limit: 250 });
    expect(listed.data.map((s) => s.id)).toEqual(expect.arrayContaining([source.id, created.id]));
    const page = await svix.ingest.source.list({ limit: 1 });
    expect(page.data).toHaveLength(1);
    expect((await svix.ingest.source.list({ limit: 1, iterator: page.iterator })).data[0]!.id).not.toBe(page.data[0]!.id);

    const { ingestUrl } = await svix.ingest.source.rotateToken(source.id);
    expect(ingestUrl).not.toBe(source.ingestUrl);
    expect((await svix.ingest.source.get(source.id)).ingestUrl).toBe(ingestUrl);

    const ep = await svix.ingest.endpoint.create(source.id, { url: 'http://127.0.0.1:9/in', description: 'Billing', uid: `ep-${tag}`, throttleRate: 5, metadata: { a: 'b' }, secret: ENDPOINT_SECRET });
    expect(ep).toMatchObject({ url: 'http://127.0.0.1:9/in', description: 'Billing', uid: `ep-${tag}`, throttleRate: 5, disabled: false, metadata: { a: 'b' } });
    expect(await svix.ingest.endpoint.get(source.id, ep.id)).toEqual(ep);
    expect((await svix.ingest.endpoint.list(source.id)).data.map((e) => e.id)).toEqual([ep.id]);
    expect((await svix.ingest.endpoint.getSecret(source.id, ep.id)).key).toBe(ENDPOINT_SECRET);
    await svix.ingest.endpoint.rotateSecret(source.id, ep.id, { key: SVIX_SECRET });
    expect((await svix.ingest.endpoint.getSecret(source.id, ep.id)).key).toBe(SVIX_SECRET);
    await svix.ingest.endpoint.setHeaders(source.id, ep.id, { headers: { 'X-Team': 'billing', Authorization: 'Bearer x' } });
    expect(await svix.ingest.endpoint.getHeaders(source.id, ep.id)).toEqual({ headers: { 'X-Team': 'billing' }, sensitive: ['Authorization'] });
    const up = await svix.ingest.endpoint.upsert(source.id, ep.id, { url: 'http://127.0.0.1:9/in2', disabled: true });
    expect(up).toMatchObject({ id: ep.id, url: 'http://127.0.0.1:9/in2', disabled: true, description: '' });
    // Other sources do not see it.
    expectError(await api('GET', `/ingest/api/v1/source/${created.id}/endpoint/${ep.id}`), 404, 'not_found');
    await svix.ingest.endpoint.delete(source.id, ep.id);
    expectError(await api('GET', `/ingest/api/v1/source/${source.id}/endpoint/${ep.id}`), 404, 'not_found');

    await svix.ingest.source.delete(source.id);
    await svix.ingest.source.delete(created.id);
    expectError(await api('GET', `/ingest/api/v1/source/${source.id}`), 404, 'not_found');
    expect((await post(ingestUrl, '{}', { 'content-type': 'application/json' })).status).toBe(404);
  });

  it('the 1.x client: every ingest.source and ingest.endpoint method', async () => {
    const svix = new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
    const source = await svix.ingest.source.create({ name: 'Hooks', type: 'svix', config: { secret: SVIX_SECRET } });
    expect(source).toMatchObject({ name: 'Hooks', type: 'svix' });
    expect((await svix.ingest.source.get(source.id)).id).toBe(source.id);
    expect((await svix.ingest.source.update(source.id, { name: 'Hooks 2', type: 'svix', config: { secret: SVIX_SECRET } })).name).toBe('Hooks 2');
    expect((await svix.ingest.source.list({ limit: 250 })).data.map((s) => s.id)).toContain(source.id);
    expect((await svix.ingest.source.rotateToken(source.id)).ingestUrl).toContain('/ingest/in/');
    const ep = await svix.ingest.endpoint.create(source.id, { url: 'http://127.0.0.1:9/x' });
    expect((await svix.ingest.endpoint.get(source.id, ep.id)).url).toBe('http://127.0.0.1:9/x');
    expect((await svix.ingest.endpoint.update(source.id, ep.id, { url: 'http://127.0.0.1:9/y' })).url).toBe('http://127.0.0.1:9/y');
    // 1.x sends the rate as rateLimit: it is the endpoint's throttleRate, not ignored.
    expect(await svix.ingest.endpoint.update(source.id, ep.id, { url: 'http://127.0.0.1:9/y', rateLimit: 7 })).toMatchObject({ rateLimit: 7, throttleRate: 7 });
    expect(await tw.api('GET', `/ingest/api/v1/source/${source.id}/endpoint/${ep.id}`).then((r) => r.body)).toMatchObject({ throttleRate: 7 });
    expect((await svix.ingest.endpoint.list(source.id)).data).toHaveLength(1);
    expect((await svix.ingest.endpoint.getSecret(source.id, ep.id)).key).toMatch(/^whsec_/);
    await svix.ingest.endpoint.rotateSecret(source.id, ep.id, {});
    await svix.ingest.endpoint.updateHeaders(source.id, ep.id, { headers: { 'X-A': '1' } });
    expect((await svix.ingest.endpoint.getHeaders(source.id, ep.id)).headers).toEqual({ 'X-A': '1' });
    await svix.ingest.endpoint.delete(source.id, ep.id);
    await svix.ingest.source.delete(source.id);
  });

  it('a portal link for a source (1.x ingest.dashboard, 2.x ingest.authentication.consumerPortalAccess) opens its application only', async () => {
    const source = (await api('POST', '/ingest/api/v1/source', { name: 'Portal', type: 'generic-webhook' })).body;
    const other = (await api('POST', '/api/v1/app', { name: 'Other' })).body;
    const v1 = await new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch }).ingest.dashboard(source.id, { expiry: 3600 });
    const v2 = await new Svix2(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch }).ingest.authentication.consumerPortalAccess(source.id, { readOnly: true });
    for (const access of [v1, v2]) {
      expect(access.url).toBe(`${tw.config.publicUrl}/portal#token=${access.token}`);
      expect((await api('GET', `/api/v1/app/ingest-${source.id}/msg`, undefined, { token: access.token })).status).toBe(200);
      // Another application does not exist for this token.
      expect((await api('GET', `/api/v1/app/${other.id}/msg`, undefined, { token: access.token })).status).toBe(404);
    }
    // Read-only: the portal may look, not change.
    expect((await api('POST', `/api/v1/app/ingest-${source.id}/endpoint`, { url: 'http://127.0.0.1:9/x' }, { token: v2.token })).status).toBe(403);
    expectValidation(await api('POST', `/ingest/api/v1/source/${source.id}/dashboard`, { expiry: 60 }), ['body', 'expiry']);
    expectError(await api('POST', '/ingest/api/v1/source/src_missing/dashboard', {}), 404, 'not_found');
  });

  it('refuses bad input: unsupported type, missing secret, unknown source, tokens other than the admin\'s', async () => {
    expectValidation(await api('POST', '/ingest/api/v1/source', { name: 'x', type: 'hubspot', config: { secret: 's' } }), ['body', 'type']);
    expectValidation(await api('POST', '/ingest/api/v1/source', { name: 'x', type: 'stripe' }), ['body', 'config', 'secret']);
    expectValidation(await api('POST', '/ingest/api/v1/source', { name: 'x', type: 'svix', config: { secret: 'not-base64!' } }), ['body', 'config', 'secret']);
    expectValidation(await api('POST', '/ingest/api/v1/source', { type: 'stripe', config: { secret: 's' } }));
    expectError(await api('GET', '/ingest/api/v1/source/src_missing'), 404, 'not_found');
    expectError(await api('GET', '/ingest/api/v1/source/src_missing/endpoint'), 404, 'not_found');
    expectError(await api('GET', '/ingest/api/v1/source', undefined, { token: null }), 401, 'authentication_failed');
    const app = await api('POST', '/api/v1/app', { name: 'tenant' });
    const appToken = (await api('POST', `/api/v1/auth/app-portal-access/${app.body.id}`, {})).body.token as string;
    expect((await api('GET', '/ingest/api/v1/source', undefined, { token: appToken })).status).toBe(403);
    const uid = `dup-${randomUUID().slice(0, 8)}`;
    expect((await api('POST', '/ingest/api/v1/source', { name: 'a', uid, type: 'generic-webhook' })).status).toBe(201);
    expectError(await api('POST', '/ingest/api/v1/source', { name: 'b', uid, type: 'generic-webhook' }), 409, 'conflict');
    expect((await post(`${tw.url}/ingest/in/no-such-token`, '{}', { 'content-type': 'application/json' })).status).toBe(404);
  });

  it('a Stripe-signed event is stored once, answered at once and forwarded byte-for-byte, signed with the endpoint secret; a forgery stores nothing', async () => {
    const rx = await receiver();
    const source = (await api('POST', '/ingest/api/v1/source', { name: 'Stripe', type: 'stripe', config: { secret: STRIPE_SECRET } })).body;
    await api('POST', `/ingest/api/v1/source/${source.id}/endpoint`, { url: `${rx.url}/stripe`, secret: ENDPOINT_SECRET });
    const eventId = `evt_${randomUUID().replace(/-/g, '')}`;
    // Spacing a JSON re-encoding would lose: the bytes must arrive as sent.
    const body = `{"id": "${eventId}",  "object": "event", "type": "invoice.paid", "data": {"object": {"amount": 4200}}}`;
    const signer = stripe({ secret: STRIPE_SECRET });

    // A forgery first (signed with another secret, same id): 401 without detail, nothing stored.
    const forged = stripe({ secret: 'whsec_wrong' }).sign({ body });
    const refused = await post(source.ingestUrl, forged.body, { ...forged.headers, 'content-type': 'application/json' });
    expect(refused.status).toBe(401);
    expect(refused.text).not.toMatch(/timestamp|v1|scheme|mismatch/i);
    const appUid = `ingest-${source.id}`;
    expect((await api('GET', `/api/v1/app/${appUid}/msg`)).body.data).toEqual([]);

    const signed = signer.sign({ body });
    const accepted = await post(source.ingestUrl, signed.body, { ...signed.headers, 'content-type': 'application/json' });
    expect(accepted.status).toBe(200);
    const msgId = JSON.parse(accepted.text).id as string;
    expect(msgId).toMatch(/^msg_/);
    const [delivered] = await rx.waitFor((r) => r.length >= 1);
    expect(delivered!.body.toString('utf8')).toBe(body);
    expect(delivered!.headers['content-type']).toBe('application/json');
    expect(delivered!.headers['stripe-signature']).toBeUndefined();
    expect(signedWith(delivered! as never, ENDPOINT_SECRET)).toBe(true);
    const msg = (await api('GET', `/api/v1/app/${appUid}/msg/${msgId}`)).body;
    expect(msg).toMatchObject({ id: msgId, eventId, eventType: 'invoice.paid' });

    // Stripe's retry of the same event: 200, the same message, nothing new stored or sent.
    const retry = signer.sign({ body });
    const again = await post(source.ingestUrl, retry.body, { ...retry.headers, 'content-type': 'application/json' });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.text).id).toBe(msgId);
    expect((await api('GET', `/api/v1/app/${appUid}/msg`)).body.data).toHaveLength(1);
    // Replay works as for any message: resend to the endpoint through the ordinary API.
    const attempts = await eventually(() => api('GET', `/api/v1/app/${appUid}/attempt/msg/${msgId}`), (r) => r.body.data?.length === 1);
    expect(attempts.body.data[0].responseStatusCode).toBe(200);
    expect(rx.requests).toHaveLength(1);
  });

  it('a GitHub-signed event is forwarded, its delivery id deduplicating; the previous token works after a rotation', async () => {
    const rx = await receiver();
    const source = (await api('POST', '/ingest/api/v1/source', { name: 'GitHub', type: 'github', config: { secret: GITHUB_SECRET } })).body;
    const ep = (await api('POST', `/ingest/api/v1/source/${source.id}/endpoint`, { url: `${rx.url}/gh` })).body;
    const endpointSecret = (await api('GET', `/ingest/api/v1/source/${source.id}/endpoint/${ep.id}/secret`)).body.key as string;
    const body = '{"action":"opened","number":7}';
    const delivery = randomUUID();
    const signed = github({ secret: GITHUB_SECRET }).sign({ body, id: delivery });
    const headers = { ...signed.headers, 'x-github-event': 'pull_request', 'content-type': 'application/json' };
    expect((await post(source.ingestUrl, signed.body, headers)).status).toBe(200);
    const [got] = await rx.waitFor((r) => r.length >= 1);
    expect(got!.body.toString()).toBe(body);
    expect(signedWith(got! as never, endpointSecret)).toBe(true);
    // The headers a GitHub handler reads come along under their own names; the provider's signature does not.
    expect(got!.headers['x-github-event']).toBe('pull_request');
    expect(got!.headers['x-github-delivery']).toBe(delivery);
    expect(got!.headers['x-hub-signature-256']).toBeUndefined();
    const msgs = (await api('GET', `/api/v1/app/ingest-${source.id}/msg`)).body.data;
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ eventId: delivery, eventType: 'pull_request' });

    // A forged redelivery (bad signature) is refused; the genuine redelivery is a duplicate.
    expect((await post(source.ingestUrl, signed.body, { ...headers, 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` })).status).toBe(401);
    const oldUrl = source.ingestUrl as string;
    await api('POST', `/ingest/api/v1/source/${source.id}/token/rotate`);
    expect((await post(oldUrl, signed.body, headers)).status).toBe(200);
    expect((await api('GET', `/api/v1/app/ingest-${source.id}/msg`)).body.data).toHaveLength(1);
  });

  it('a forgery stores nothing, so the genuine event with the same id is accepted afterwards (svix type)', async () => {
    const source = (await api('POST', '/ingest/api/v1/source', { name: 'Svix', type: 'svix', config: { secret: SVIX_SECRET } })).body;
    const id = `msg_${randomUUID().replace(/-/g, '')}`;
    const body = '{"type":"user.created","data":{}}';
    const forged = standardWebhooks({ secret: ENDPOINT_SECRET }).sign({ body, id });
    expect((await post(source.ingestUrl, forged.body, forged.headers)).status).toBe(401);
    const genuine = standardWebhooks({ secret: SVIX_SECRET }).sign({ body, id });
    const res = await post(source.ingestUrl, genuine.body, { ...genuine.headers, 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    const msgs = (await api('GET', `/api/v1/app/ingest-${source.id}/msg`)).body.data;
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ eventId: id, eventType: 'user.created' });
  });

  it('a GitHub source without a secret verifies nothing but still dedupes on X-GitHub-Delivery and keeps X-GitHub-Event', async () => {
    const source = (await api('POST', '/ingest/api/v1/source', { name: 'GitHub open', type: 'github', config: {} })).body;
    const headers = { 'x-github-delivery': randomUUID(), 'x-github-event': 'ping', 'content-type': 'application/json' };
    expect((await post(source.ingestUrl, '{"zen":"Keep it simple."}', headers)).status).toBe(200);
    expect((await post(source.ingestUrl, '{"zen":"Keep it simple."}', headers)).status).toBe(200);
    const msgs = (await api('GET', `/api/v1/app/ingest-${source.id}/msg`)).body.data;
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ eventId: headers['x-github-delivery'], eventType: 'ping' });
  });

  it('Shopify: verified, deduplicated by X-Shopify-Webhook-Id, forwarded with its topic and shop; Slack: the URL verification challenge is answered and nothing stored', async () => {
    const rx = await receiver();
    const shop = (await api('POST', '/ingest/api/v1/source', { name: 'Shop', type: 'shopify', config: { secret: 'shpss_secret' } })).body;
    await api('POST', `/ingest/api/v1/source/${shop.id}/endpoint`, { url: `${rx.url}/shop` });
    const body = '{"id":820982911946154500,"email":"jon@example.com"}';
    const webhookId = randomUUID();
    const signed = shopify({ secret: 'shpss_secret' }).sign({ body, id: webhookId });
    const headers = { ...signed.headers, 'x-shopify-topic': 'orders/create', 'x-shopify-shop-domain': 'example.myshopify.com', 'content-type': 'application/json' };
    expect((await post(shop.ingestUrl, signed.body, headers)).status).toBe(200);
    expect((await post(shop.ingestUrl, signed.body, headers)).status).toBe(200);
    const [got] = await rx.waitFor((r) => r.length >= 1);
    expect(got!.body.toString()).toBe(body);
    expect(got!.headers).toMatchObject({ 'x-shopify-topic': 'orders/create', 'x-shopify-shop-domain': 'example.myshopify.com', 'x-shopify-webhook-id': webhookId });
    expect(got!.headers['x-shopify-hmac-sha256']).toBeUndefined();
    const msgs = (await api('GET', `/api/v1/app/ingest-${shop.id}/msg`)).body.data;
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ eventId: webhookId, eventType: 'orders/create' });

    const slackSource = (await api('POST', '/ingest/api/v1/source', { name: 'Slack', type: 'slack', config: { secret: 'slack-signing-secret' } })).body;
    const signer = slack({ secret: 'slack-signing-secret' });
    const challenge = signer.sign({ body: '{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}' });
    const answered = await post(slackSource.ingestUrl, challenge.body, { ...challenge.headers, 'content-type': 'application/json' });
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.text)).toEqual({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
    const event = signer.sign({ body: '{"type":"event_callback","event_id":"Ev123","event":{"type":"app_mention"}}' });
    expect((await post(slackSource.ingestUrl, event.body, { ...event.headers, 'content-type': 'application/json' })).status).toBe(200);
    const slackMsgs = (await api('GET', `/api/v1/app/ingest-${slackSource.id}/msg`)).body.data;
    expect(slackMsgs).toHaveLength(1);
    expect(slackMsgs[0]).toMatchObject({ eventId: 'Ev123', eventType: 'app_mention' });
  });

  it('a body over TAPWIRE_MAX_PAYLOAD_BYTES is refused with 413; a generic source takes any bytes unverified', async () => {
    const source = (await api('POST', '/ingest/api/v1/source', { name: 'Any', type: 'generic-webhook' })).body;
    expect(source.config).toEqual({});
    const big = await post(source.ingestUrl, 'x'.repeat(5000), { 'content-type': 'text/plain' });
    expect(big.status).toBe(413);
    // Far over the limit: refused while reading, the same 413.
    const huge = await post(source.ingestUrl, 'x'.repeat(200_000), { 'content-type': 'text/plain' });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.text).code).toBe('payload_too_large');
    expect((await api('GET', `/api/v1/app/ingest-${source.id}/msg`)).body.data).toEqual([]);
    const form = 'a=1&b=two';
    const res = await post(source.ingestUrl, form, { 'content-type': 'application/x-www-form-urlencoded', 'webhook-id': 'gen-1' });
    expect(res.status).toBe(200);
    expect((await post(source.ingestUrl, form, { 'content-type': 'application/x-www-form-urlencoded', 'webhook-id': 'gen-1' })).status).toBe(200);
    const msgs = (await api('GET', `/api/v1/app/ingest-${source.id}/msg?with_content=true`)).body.data;
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ eventId: 'gen-1', eventType: 'generic-webhook' });
  });
});
