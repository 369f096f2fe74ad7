// What a receiver gets: the payload byte-for-byte as the sender wrote it, our headers, signatures that
// verify with our verifier and with the `svix` package's Webhook class, the endpoint's custom
// headers, the configured signature header set, and one signature per valid key during a rotation.
import { Webhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../src/signing/standard-webhooks.js';
import { VERSION } from '../src/version.js';
import type { ReceivedRequest, Receiver } from './helpers/receiver.js';
import { useBackend, type TestTapwire } from './helpers/tapwire.js';
import { createEndpoint, expectStatus, flatHeaders, sendMessage, useDeliveryFixtures } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';

const fixtures = useDeliveryFixtures();

async function setup(env: Record<string, string> = {}): Promise<{ tw: TestTapwire; receiver: Receiver; appId: string }> {
  const { tw, appId } = await fixtures.setup(env);
  return { tw, receiver: await fixtures.receiver(), appId };
}

/** Every `v1,` entry of a signature header. */
function v1Entries(header: string): string[] {
  return header.split(' ').filter((e) => e.startsWith('v1,'));
}

/** Checks one request against a secret with both verifiers, using the header set `prefix`. */
function verifiesWith(req: ReceivedRequest, secret: string, prefix: 'webhook' | 'svix' = 'webhook'): boolean {
  const h = flatHeaders(req.headers);
  const ours = verifySignature({
    msgId: h[`${prefix}-id`]!,
    timestampSeconds: h[`${prefix}-timestamp`]!,
    body: req.body,
    signatureHeader: h[`${prefix}-signature`]!,
    secrets: [secret],
  });
  let theirs = true;
  try {
    new Webhook(secret).verify(req.body.toString('utf8'), h);
  } catch {
    theirs = false;
  }
  expect(theirs, 'svix Webhook.verify agrees with verifySignature').toBe(ours);
  return ours;
}

// Odd spacing, key order, number forms, escapes next to raw non-ASCII, nesting and a big integer.
const PAYLOAD_TEXT =
  '{ "z" :1.0,"a": [1e3 , [ [ ], {"n":null} ], -0.5E-2 ],\n\t"esc":"\\u00e9\\n\\"q\\"", "raw":"é ☕ 𝄞",' +
  ' "big": 12345678901234567890 ,"nested" : {"b":true ,"a":false}, "empty":{} }';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('payload and headers', () => {
    it('delivers the payload byte-for-byte as submitted', async () => {
      const { tw, receiver, appId } = await setup();
      await createEndpoint(tw, appId, { url: `${receiver.url}/hook` });
      const raw = `{"eventType":"user.created",  "payload" :${PAYLOAD_TEXT} ,"eventId":"evt-bytes"}`;
      const msgId = await sendMessage(tw, appId, { raw });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      expect(req!.method).toBe('POST');
      expect(req!.path).toBe('/hook');
      expect(req!.body.equals(Buffer.from(PAYLOAD_TEXT, 'utf8'))).toBe(true);
      expect(req!.body.toString('utf8')).toBe(PAYLOAD_TEXT);
      expect(req!.headers['webhook-id']).toBe(msgId);
    });

    it('posts to the endpoint URL as registered, path and query included', async () => {
      const { tw, receiver, appId } = await setup();
      await createEndpoint(tw, appId, { url: `${receiver.url}/hooks/in?token=a%20b&x=1` });
      await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      expect(req!.method).toBe('POST');
      expect(req!.path).toBe('/hooks/in?token=a%20b&x=1');
    });

    it('delivers a payload given as the legacy `data` field byte-for-byte', async () => {
      const { tw, receiver, appId } = await setup();
      await createEndpoint(tw, appId, { url: receiver.url });
      const payload = '{"b" : 2,"a":1.50}';
      await sendMessage(tw, appId, { raw: `{"eventType":"x.y","data":${payload}}` });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      expect(req!.body.toString('utf8')).toBe(payload);
    });

    it('sends content-type, user-agent, webhook-* headers and verifiable signatures', async () => {
      const { tw, receiver, appId } = await setup();
      const ep = await createEndpoint(tw, appId, { url: receiver.url });
      const before = Math.floor(Date.now() / 1000);
      const msgId = await sendMessage(tw, appId, { eventType: 'user.created', payload: { hello: 'world' } });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      const h = req!.headers;
      expect(h['content-type']).toBe('application/json');
      expect(h['user-agent']).toBe(`Tapwire/${VERSION}`);
      expect(h['webhook-id']).toBe(msgId);
      const ts = Number(h['webhook-timestamp']);
      expect(ts).toBeGreaterThanOrEqual(before);
      expect(ts).toBeLessThanOrEqual(Math.ceil(req!.at / 1000));
      expect(v1Entries(String(h['webhook-signature']))).toHaveLength(1);
      expect(h['svix-id']).toBeUndefined();
      expect(verifiesWith(req!, ep.secret)).toBe(true);
      // A different secret must not verify: the check is real.
      const other = await createEndpoint(tw, appId, { url: `${receiver.url}/other`, disabled: true });
      expect(verifiesWith(req!, other.secret)).toBe(false);
    });

    it('keeps webhook-id across retries and signs each attempt with a fresh timestamp', async () => {
      // A first retry after at least 1.04 s (1300 ms less the 20 % jitter) puts the two attempts in different seconds.
      const { tw, receiver, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '1300ms' });
      const ep = await createEndpoint(tw, appId, { url: receiver.url });
      receiver.respond((_req, index) => (index === 0 ? { status: 500 } : { status: 200 }));
      const msgId = await sendMessage(tw, appId, { eventType: 'user.created', payload: { n: 1 } });
      const [first, second] = await receiver.waitFor((r) => r.length === 2);
      expect(first!.headers['webhook-id']).toBe(msgId);
      expect(second!.headers['webhook-id']).toBe(msgId);
      const t1 = Number(first!.headers['webhook-timestamp']);
      const t2 = Number(second!.headers['webhook-timestamp']);
      expect(t2).toBeGreaterThan(t1);
      for (const req of [first!, second!]) {
        expect(Math.abs(Number(req.headers['webhook-timestamp']) - req.at / 1000)).toBeLessThan(2);
        expect(verifiesWith(req, ep.secret)).toBe(true);
      }
      expect(first!.headers['webhook-signature']).not.toBe(second!.headers['webhook-signature']);
    });

    it("adds the endpoint's custom headers", async () => {
      const { tw, receiver, appId } = await setup();
      const ep = await createEndpoint(tw, appId, { url: receiver.url, headers: { 'X-Tenant': 'acme', authorization: 'Bearer s3cret' } });
      await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await receiver.waitFor((r) => r.length === 1);
      expect(receiver.requests[0]!.headers['x-tenant']).toBe('acme');
      expect(receiver.requests[0]!.headers['authorization']).toBe('Bearer s3cret');

      // Headers changed later apply to later deliveries.
      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}/headers`, { headers: { 'X-Tenant': null, 'x-extra': '1' } }), 204, 'patch headers');
      await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await receiver.waitFor((r) => r.length === 2);
      expect(receiver.requests[1]!.headers['x-tenant']).toBeUndefined();
      expect(receiver.requests[1]!.headers['x-extra']).toBe('1');
      expect(receiver.requests[1]!.headers['authorization']).toBe('Bearer s3cret');
    });

    it('refuses custom header values that cannot be sent, instead of failing every delivery', async () => {
      const { tw, appId } = await setup();
      for (const value of ['coffee ☕', 'line\nbreak', 'nul\u0000', 'bell\u0007']) {
        const res = await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'https://example.com/hook', headers: { 'x-mood': value } });
        expect(res.status, JSON.stringify(value)).toBe(422);
        expect(res.body.detail[0].loc).toEqual(['body', 'headers', 'x-mood']);
      }
      const ok = await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'https://example.com/hook', headers: { 'x-mood': 'café\tau lait' } });
      expect(ok.status).toBe(201);
    });

    it('sends only svix-* headers with TAPWIRE_SIGNATURE_HEADERS=svix', async () => {
      const { tw, receiver, appId } = await setup({ TAPWIRE_SIGNATURE_HEADERS: 'svix' });
      const ep = await createEndpoint(tw, appId, { url: receiver.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { x: 1 } });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      expect(req!.headers['svix-id']).toBe(msgId);
      expect(req!.headers['svix-timestamp']).toMatch(/^\d+$/);
      expect(req!.headers['webhook-id']).toBeUndefined();
      expect(req!.headers['webhook-timestamp']).toBeUndefined();
      expect(req!.headers['webhook-signature']).toBeUndefined();
      expect(verifiesWith(req!, ep.secret, 'svix')).toBe(true);
    });

    it('sends both header sets with TAPWIRE_SIGNATURE_HEADERS=both', async () => {
      const { tw, receiver, appId } = await setup({ TAPWIRE_SIGNATURE_HEADERS: 'both' });
      const ep = await createEndpoint(tw, appId, { url: receiver.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { x: 1 } });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      for (const prefix of ['webhook', 'svix'] as const) {
        expect(req!.headers[`${prefix}-id`]).toBe(msgId);
        expect(verifiesWith(req!, ep.secret, prefix)).toBe(true);
      }
      expect(req!.headers['svix-signature']).toBe(req!.headers['webhook-signature']);
      expect(req!.headers['svix-timestamp']).toBe(req!.headers['webhook-timestamp']);
    });
  });

  describe('secret rotation', () => {
    it('signs with the new and the old secret during the grace period, new first', async () => {
      const { tw, receiver, appId } = await setup();
      const ep = await createEndpoint(tw, appId, { url: receiver.url });
      const oldSecret = ep.secret;
      expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/secret/rotate`, {}), 204, 'rotate');
      const newSecret = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/secret`), 200, 'secret').body.key as string;
      expect(newSecret).not.toBe(oldSecret);

      await sendMessage(tw, appId, { eventType: 'a.b', payload: { rotated: true } });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      const h = flatHeaders(req!.headers);
      const entries = v1Entries(h['webhook-signature']!);
      expect(entries).toHaveLength(2);
      const verifyOne = (entry: string, secret: string) =>
        verifySignature({ msgId: h['webhook-id']!, timestampSeconds: h['webhook-timestamp']!, body: req!.body, signatureHeader: entry, secrets: [secret] });
      expect(verifyOne(entries[0]!, newSecret)).toBe(true);
      expect(verifyOne(entries[1]!, oldSecret)).toBe(true);
      expect(verifyOne(entries[0]!, oldSecret)).toBe(false);
      expect(verifiesWith(req!, newSecret)).toBe(true);
      expect(verifiesWith(req!, oldSecret)).toBe(true);
    });

    it('signs with the new secret only when gracePeriodSeconds is 0', async () => {
      const { tw, receiver, appId } = await setup();
      const ep = await createEndpoint(tw, appId, { url: receiver.url });
      const supplied = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
      expectStatus(
        await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/secret/rotate`, { key: supplied, gracePeriodSeconds: 0 }),
        204,
        'rotate',
      );
      await sendMessage(tw, appId, { eventType: 'a.b', payload: { rotated: true } });
      const [req] = await receiver.waitFor((r) => r.length === 1);
      expect(v1Entries(String(req!.headers['webhook-signature']))).toHaveLength(1);
      expect(verifiesWith(req!, supplied)).toBe(true);
      expect(verifiesWith(req!, ep.secret)).toBe(false);
    });
  });
});
