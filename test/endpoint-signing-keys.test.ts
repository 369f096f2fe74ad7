// Endpoint keys in every form Svix takes, end to end on a real server: a bare base64 HMAC secret
// (shown with `whsec_`, signing as that secret), ed25519 `whsk_` keys signing `v1a` (GET …/secret
// shows only the `whpk_` public key, which a real tapwire/receiver on 127.0.0.1 and node:crypto both
// verify with), rotation across kinds with every key still in its grace period signing, bad keys
// refused with a 422 naming the field, ed25519 keys sealed at rest, and operational webhooks signed
// with a `whsk_` key through the same path.
import { createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { ApiException, Svix, Webhook } from 'svix';
import { Svix as Svix2, Webhook as Webhook2 } from 'svix2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNodeHandler, standardWebhooks, type VerifiedWebhook } from '../src/receiver/index.js';
import { expectNo5xx, expectValidation, guardApi, guardedFetch, type ApiFn } from './helpers/api-guard.js';
import { eventually, flatHeaders } from './helpers/delivery.js';
import { backends, withClient } from './helpers/postgres.js';
import { startReceiver, type ReceivedRequest, type Receiver } from './helpers/receiver.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

/** A fresh ed25519 key pair as Svix writes it: `whsk_` + base64(seed ‖ public key), and `whpk_` + base64(public key). */
function ed25519Key(): { secret: string; publicKey: string; raw: { seed: Buffer; public: Buffer } } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { secret: `whsk_${Buffer.concat([seed, pub]).toString('base64')}`, publicKey: `whpk_${pub.toString('base64')}`, raw: { seed, public: pub } };
}

/** The ed25519 signature entries (`v1a,…`) of a request checked with node:crypto alone against a `whpk_` key. */
function v1aVerifiesWith(req: ReceivedRequest, whpk: string, header = 'webhook-signature'): boolean {
  const headers = flatHeaders(req.headers);
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(whpk.slice(5), 'base64').toString('base64url') }, format: 'jwk' });
  const content = Buffer.concat([Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.`), req.body]);
  return headers[header]!
    .split(' ')
    .filter((entry) => entry.startsWith('v1a,'))
    .some((entry) => cryptoVerify(null, content, key, Buffer.from(entry.slice(4), 'base64')));
}

/** Whether tapwire/receiver accepts the request with only this key configured. */
function receiverAccepts(req: ReceivedRequest, key: string): boolean {
  try {
    standardWebhooks({ secret: key }).verify({ body: req.body, headers: flatHeaders(req.headers) });
    return true;
  } catch {
    return false;
  }
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let receiver: Receiver;
  let svix: Svix;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
    receiver = await startReceiver();
    svix = new Svix(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
  });
  afterAll(async () => {
    await tw?.close();
    await receiver?.close();
  });
  afterEach(() => expectNo5xx());

  async function newApp(): Promise<string> {
    return (await svix.application.create({ name: `keys-${Math.random().toString(36).slice(2, 8)}` })).id;
  }

  /** Send a message and return the request that reached `path`. */
  async function deliver(appId: string, path: string, payload: Record<string, unknown> = { n: Math.random() }): Promise<ReceivedRequest> {
    const msg = await svix.message.create(appId, { eventType: 'key.test', payload });
    const requests = await receiver.waitFor((all) => all.some((r) => r.path === path && r.headers['webhook-id'] === msg.id));
    return requests.find((r) => r.path === path && r.headers['webhook-id'] === msg.id)!;
  }

  /** The endpoints table as stored (secret and old secrets columns as text). */
  async function storedSecrets(): Promise<string> {
    if (tw.backend === 'sqlite') {
      const db = new Database(tw.config.databaseUrl, { readonly: true });
      try {
        return JSON.stringify(db.prepare('SELECT secret, old_secrets FROM endpoints').all());
      } finally {
        db.close();
      }
    }
    return withClient(tw.config.databaseUrl, async (client) => JSON.stringify((await client.query('SELECT secret, old_secrets FROM endpoints')).rows));
  }

  it('takes a bare base64 secret (svix 1.x client), shows it with whsec_ and signs with it', async () => {
    const appId = await newApp();
    const bare = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x2a + i)).toString('base64');
    expect(bare).not.toMatch(/^whsec_/);
    const endpoint = await svix.endpoint.create(appId, { url: `${receiver.url}/bare`, secret: bare });
    expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).toBe(`whsec_${bare}`);

    const req = await deliver(appId, '/bare', { bare: true });
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(bare).verify(req.body.toString(), flatHeaders(req.headers))).toEqual({ bare: true });
    expect(new Webhook(`whsec_${bare}`).verify(req.body.toString(), flatHeaders(req.headers))).toEqual({ bare: true });
    expect(receiverAccepts(req, bare)).toBe(true);

    // The same through PATCH and a rotation, which take the bare form too.
    const other = Buffer.alloc(24, 7).toString('base64');
    await svix.endpoint.patch(appId, endpoint.id, { secret: other });
    expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).toBe(`whsec_${other}`);
    const third = Buffer.alloc(75, 9).toString('base64');
    await svix.endpoint.rotateSecret(appId, endpoint.id, { key: third });
    expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).toBe(`whsec_${third}`);
    const rotated = await deliver(appId, '/bare');
    expect((rotated.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    expect(receiverAccepts(rotated, third)).toBe(true);
    expect(receiverAccepts(rotated, other)).toBe(true);
  });

  it('signs a whsk_ endpoint with v1a that tapwire/receiver (given the whpk_ key) and node:crypto verify; GET secret never shows the secret key', async () => {
    const appId = await newApp();
    const key = ed25519Key();
    // A real receiver built with tapwire/receiver on 127.0.0.1, holding only the public key.
    const verified: VerifiedWebhook[] = [];
    const handler = createNodeHandler({ verifier: standardWebhooks({ secret: key.publicKey }), onWebhook: (webhook) => void verified.push(webhook) });
    const server: Server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      // The current official client (2.x) creates the endpoint and reads its key.
      const svix2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const endpoint = await svix2.endpoint.create(appId, { url, secret: key.secret });
      const shown = await svix2.endpoint.getSecret(appId, endpoint.id);
      expect(shown.key).toBe(key.publicKey);
      const raw = await api('GET', `/api/v1/app/${appId}/endpoint/${endpoint.id}/secret`);
      expect(raw.text).not.toContain(key.secret.slice(5, 30));
      expect(raw.text).not.toContain(key.raw.seed.toString('base64').slice(0, 20));

      const msg = await svix2.message.create(appId, { eventType: 'key.test', payload: { type: 'key.test', signed: 'ed25519' } });
      await eventually(async () => verified.length, (n) => n > 0, { what: 'the receiver verifying the delivery' });
      expect(verified[0]).toMatchObject({ id: msg.id, scheme: 'standard-webhooks', type: 'key.test' });
      const attempts = await eventually(
        async () => (await api('GET', `/api/v1/app/${appId}/attempt/endpoint/${endpoint.id}`)).body.data as any[],
        (data) => data.length > 0,
      );
      expect(attempts[0]).toMatchObject({ responseStatusCode: 200, status: 0 });

      // The same delivery to the recording receiver: one v1a entry, checked with node:crypto alone.
      await svix2.endpoint.patch(appId, endpoint.id, { url: `${receiver.url}/ed25519` });
      const req = await deliver(appId, '/ed25519', { check: 'crypto' });
      const signature = req.headers['webhook-signature'] as string;
      expect(signature).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
      expect(v1aVerifiesWith(req, key.publicKey)).toBe(true);
      expect(v1aVerifiesWith(req, ed25519Key().publicKey)).toBe(false);
      expect(receiverAccepts(req, ed25519Key().publicKey)).toBe(false);
      // svix's Webhook checks v1 HMAC entries only: a v1a-only request is not something it accepts.
      expect(() => new Webhook2(`whsec_${key.raw.public.toString('base64')}`).verify(req.body.toString(), flatHeaders(req.headers))).toThrow();
      // A tampered body fails.
      expect(receiverAccepts({ ...req, body: Buffer.from('{"check":"forged"}') }, key.publicKey)).toBe(false);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('keeps ed25519 keys sealed at rest, like HMAC secrets', async () => {
    const appId = await newApp();
    const current = ed25519Key();
    const previous = ed25519Key();
    const endpoint = await svix.endpoint.create(appId, { url: `${receiver.url}/sealed`, secret: previous.secret });
    await svix.endpoint.rotateSecret(appId, endpoint.id, { key: current.secret });
    const stored = await storedSecrets();
    for (const key of [current, previous]) {
      expect(stored).not.toContain(key.secret.slice(5, 40));
      expect(stored).not.toContain(key.raw.seed.toString('base64').slice(0, 24));
    }
    expect(stored).toContain('tw1:');
    const req = await deliver(appId, '/sealed');
    expect(v1aVerifiesWith(req, current.publicKey)).toBe(true);
    expect(v1aVerifiesWith(req, previous.publicKey)).toBe(true);
  });

  it('rotates across kinds: every key in its grace period signs, newest first; a rotation without a key makes an HMAC secret', async () => {
    const appId = await newApp();
    const endpoint = await svix.endpoint.create(appId, { url: `${receiver.url}/rotate` });
    const hmac = (await svix.endpoint.getSecret(appId, endpoint.id)).key;
    expect(hmac).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);

    // whsec → whsk: the new ed25519 key and the old HMAC secret both sign.
    const first = ed25519Key();
    await svix.endpoint.rotateSecret(appId, endpoint.id, { key: first.secret });
    expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).toBe(first.publicKey);
    let req = await deliver(appId, '/rotate');
    let entries = (req.headers['webhook-signature'] as string).split(' ');
    expect(entries.map((e) => e.split(',')[0])).toEqual(['v1a', 'v1']);
    expect(v1aVerifiesWith(req, first.publicKey)).toBe(true);
    expect(new Webhook(hmac).verify(req.body.toString(), flatHeaders(req.headers))).toBeTruthy();

    // whsk → whsk.
    const second = ed25519Key();
    await svix.endpoint.rotateSecret(appId, endpoint.id, { key: second.secret });
    expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).toBe(second.publicKey);
    req = await deliver(appId, '/rotate');
    entries = (req.headers['webhook-signature'] as string).split(' ');
    expect(entries.map((e) => e.split(',')[0])).toEqual(['v1a', 'v1a', 'v1']);
    for (const key of [second, first]) expect(receiverAccepts(req, key.publicKey)).toBe(true);
    expect(receiverAccepts(req, hmac)).toBe(true);

    // whsk → (generated): Svix's default kind, HMAC.
    await svix.endpoint.rotateSecret(appId, endpoint.id, {});
    const generated = (await svix.endpoint.getSecret(appId, endpoint.id)).key;
    expect(generated).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    req = await deliver(appId, '/rotate');
    entries = (req.headers['webhook-signature'] as string).split(' ');
    expect(entries.map((e) => e.split(',')[0])).toEqual(['v1', 'v1a', 'v1a', 'v1']);
    expect(new Webhook(generated).verify(req.body.toString(), flatHeaders(req.headers))).toBeTruthy();
    for (const key of [second.publicKey, first.publicKey, hmac]) expect(receiverAccepts(req, key)).toBe(true);

    // whsec → whsk with no grace: the generated secret stops signing at once, the others stay.
    const third = ed25519Key();
    await svix.endpoint.rotateSecret(appId, endpoint.id, { key: third.secret, gracePeriodSeconds: 0 });
    req = await deliver(appId, '/rotate');
    entries = (req.headers['webhook-signature'] as string).split(' ');
    expect(entries.map((e) => e.split(',')[0])).toEqual(['v1a', 'v1a', 'v1a', 'v1']);
    expect(receiverAccepts(req, generated)).toBe(false);
    for (const key of [third.publicKey, second.publicKey, first.publicKey, hmac]) expect(receiverAccepts(req, key)).toBe(true);

    // PATCH can switch kinds too (no grace period: the key is replaced).
    await svix.endpoint.patch(appId, endpoint.id, { secret: generated });
    expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).toBe(generated);
  });

  describe('refuses a bad key with a 422 naming the field', () => {
    // A key whose base64 has a character that URL-safe base64 writes differently (`+` or `/`).
    let good = ed25519Key();
    while (!/[+/]/.test(good.secret.slice(5))) good = ed25519Key();
    const seedAndPublic = Buffer.from(good.secret.slice(5), 'base64');
    const otherPublic = ed25519Key().raw.public;
    const cases: [string, string, RegExp][] = [
      ['a whsec_ secret of 23 bytes', `whsec_${Buffer.alloc(23, 1).toString('base64')}`, /24–75 bytes, got 23/],
      ['a whsec_ secret of 76 bytes', `whsec_${Buffer.alloc(76, 1).toString('base64')}`, /got 76/],
      ['a bare secret of 23 bytes', Buffer.alloc(23, 1).toString('base64'), /got 23/],
      ['text that is not base64', 'not-a-secret-at-all-0123456789-abcdef', /base64/],
      ['a whsk_ key of the seed alone', `whsk_${seedAndPublic.subarray(0, 32).toString('base64')}`, /64 bytes.*got 32/],
      ['a whsk_ key whose public half is another key', `whsk_${Buffer.concat([seedAndPublic.subarray(0, 32), otherPublic]).toString('base64')}`, /does not belong/],
      ['a whsk_ key with url-safe base64', `whsk_${seedAndPublic.toString('base64url')}`, /base64/],
      ['a whpk_ public key', good.publicKey, /only verifies/],
    ];

    it.each(cases)('%s', async (_name, key, message) => {
      const appId = await newApp();
      const create = await api('POST', `/api/v1/app/${appId}/endpoint`, { url: `${receiver.url}/bad`, secret: key });
      const [issue] = expectValidation(create, ['body', 'secret'], 'value_error.secret');
      expect(issue!.msg).toMatch(message);
      // The message says what is wrong without repeating the key.
      expect(create.text).not.toContain(key.slice(6, 30));

      const endpoint = await svix.endpoint.create(appId, { url: `${receiver.url}/bad` });
      const before = (await svix.endpoint.getSecret(appId, endpoint.id)).key;
      expectValidation(await api('PATCH', `/api/v1/app/${appId}/endpoint/${endpoint.id}`, { secret: key }), ['body', 'secret'], 'value_error.secret');
      expectValidation(await api('POST', `/api/v1/app/${appId}/endpoint/${endpoint.id}/secret/rotate`, { key }), ['body', 'key'], 'value_error.secret');
      expect((await svix.endpoint.getSecret(appId, endpoint.id)).key).toBe(before);
    });

    it('as an ApiException of the official client', async () => {
      const appId = await newApp();
      const error = await svix.endpoint.create(appId, { url: `${receiver.url}/bad`, secret: cases[5]![1] }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ApiException);
      expect((error as ApiException<any>).code).toBe(422);
      expect((error as ApiException<any>).body.detail[0]).toMatchObject({ loc: ['body', 'secret'], type: 'value_error.secret' });
    });
  });

  it('documents the key formats in the OpenAPI document', async () => {
    const schemas = (await api('GET', '/api/v1/openapi.json')).body.components.schemas;
    for (const [schema, field] of [['EndpointIn', 'secret'], ['EndpointPatch', 'secret'], ['EndpointSecretRotateIn', 'key']] as const) {
      const description: string = schemas[schema].properties[field].description;
      expect(description, `${schema}.${field}`).toMatch(/whsec_/);
      expect(description, `${schema}.${field}`).toMatch(/whsk_.*64 bytes/);
      expect(description, `${schema}.${field}`).toMatch(/base64 alone/);
    }
    expect(schemas.EndpointSecretOut.properties.key.description).toMatch(/whpk_/);
  });

  it('signs operational webhooks with a whsk_ key from TAPWIRE_OPERATIONAL_WEBHOOK_SECRET, through the same path', async () => {
    const ops = await startReceiver();
    const key = ed25519Key();
    const withOps = await startTapwire({ TAPWIRE_OPERATIONAL_WEBHOOK_URL: `${ops.url}/ops`, TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: key.secret });
    try {
      const opsApi = guardApi(withOps);
      const shown = await opsApi('GET', '/api/v1/app/tapwire-operational/endpoint/tapwire-operational/secret');
      expect(shown.body).toEqual({ key: key.publicKey });
      const app = (await opsApi('POST', '/api/v1/app', { name: 'Watched' })).body;
      expect((await opsApi('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/watched` })).status).toBe(201);
      const [event] = await ops.waitFor((requests) => requests.length > 0);
      expect(JSON.parse(event!.body.toString())).toMatchObject({ type: 'endpoint.created' });
      expect(event!.headers['webhook-signature']).toMatch(/^v1a,[^ ]+$/);
      expect(v1aVerifiesWith(event!, key.publicKey)).toBe(true);
      expect(receiverAccepts(event!, key.publicKey)).toBe(true);
    } finally {
      await withOps.close();
      await ops.close();
    }
  });

  it('reads a bare base64 TAPWIRE_OPERATIONAL_WEBHOOK_SECRET as its whsec_ form, and leaves the endpoint alone on the next start', async () => {
    const ops = await startReceiver();
    const bare = Buffer.alloc(24, 0x11).toString('base64');
    const env = { TAPWIRE_OPERATIONAL_WEBHOOK_URL: `${ops.url}/ops`, TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: bare };
    const first = await startTapwire(env);
    try {
      const path = '/api/v1/app/tapwire-operational/endpoint/tapwire-operational';
      expect((await guardApi(first)('GET', `${path}/secret`)).body).toEqual({ key: `whsec_${bare}` });
      const updatedAt = (await guardApi(first)('GET', path)).body.updatedAt;
      await first.server.close();
      const second = await startTapwire({ ...env, TAPWIRE_DATABASE_URL: first.config.databaseUrl });
      try {
        expect((await guardApi(second)('GET', path)).body.updatedAt).toBe(updatedAt);
        expect((await guardApi(second)('GET', `${path}/secret`)).body).toEqual({ key: `whsec_${bare}` });
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
      await ops.close();
    }
  });
});
