// Endpoint health: operational webhooks (endpoint.*, message.attempt.*) arrive signed at the
// configured URL with Svix's payload shapes; endpoints failing for TAPWIRE_AUTO_DISABLE_AFTER are
// disabled (not before), 410 disables at once, re-enabling is an API call that starts afresh, and
// `webhook-delivery: abort-message` stops a message's retries. Time moves by an injected clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newId } from '../src/domain/ids.js';
import type { Application, Attempt, Delivery, Endpoint, Message } from '../src/domain/types.js';
import { OPERATIONAL_APP_UID, OPERATIONAL_ENDPOINT_UID } from '../src/operational/operational-events.js';
import { setUpOperationalWebhooks } from '../src/operational/set-up-operational-webhooks.js';
import { verifySignature } from '../src/signing/standard-webhooks.js';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';
import {
  attemptsToEndpoint,
  createEndpoint,
  expectStatus,
  flatHeaders,
  sendMessage,
  useDeliveryFixtures,
  waitForDestinationStatus,
} from './helpers/delivery.js';
import { backends, dropSchema, freshSchemaUrl } from './helpers/postgres.js';
import type { ReceivedRequest, Receiver } from './helpers/receiver.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const fixtures = useDeliveryFixtures();
const DAY = 86_400_000;
const MINUTE = 60_000;
const OPS_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** A clock the test moves by hand; it starts at the real time so ids and leases look normal. */
function manualClock(): { now(): Date; advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => (offset += ms) };
}

interface OpsEvent {
  type: string;
  timestamp: string;
  data: Record<string, any>;
  /** The webhook-id it arrived with. */
  msgId: string;
}

/** A Tapwire server whose operational webhooks go to a loopback receiver of their own. */
async function setupWithOps(env: Record<string, string> = {}, options: Parameters<typeof fixtures.setup>[1] = {}) {
  const ops = await fixtures.receiver();
  const { tw, appId } = await fixtures.setup(
    { TAPWIRE_OPERATIONAL_WEBHOOK_URL: `${ops.url}/ops`, TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: OPS_SECRET, ...env },
    options,
  );
  return { tw, appId, ops };
}

/** How to check the signature of operational webhooks: the secret, and the signer's clock per request. */
interface VerifyOptions {
  secret?: string;
  /** The server's time when the request arrived (default: real arrival time). */
  nowMsOf?: (req: ReceivedRequest) => number;
}

/**
 * The operational events received so far, each checked to be a POST to the configured path with a
 * valid signature, once per webhook-id (delivery is at least once).
 */
function opsEvents(requests: ReceivedRequest[], options: VerifyOptions = {}): OpsEvent[] {
  const seen = new Map<string, OpsEvent>();
  for (const req of requests) {
    const headers = flatHeaders(req.headers);
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/ops');
    const valid = verifySignature({
      msgId: headers['webhook-id']!,
      timestampSeconds: headers['webhook-timestamp']!,
      body: req.body,
      signatureHeader: headers['webhook-signature']!,
      secrets: [options.secret ?? OPS_SECRET],
      nowSeconds: Math.floor((options.nowMsOf?.(req) ?? req.at) / 1000),
    });
    expect(valid, `signature of operational webhook ${headers['webhook-id']}`).toBe(true);
    const body = JSON.parse(req.body.toString('utf8')) as Omit<OpsEvent, 'msgId'>;
    expect(Object.keys(body)).toEqual(['type', 'timestamp', 'data']);
    seen.set(headers['webhook-id']!, { ...body, msgId: headers['webhook-id']! });
  }
  return [...seen.values()];
}

/** Wait until an operational event of `type` (matching `where`) has arrived; returns it. */
async function waitForEvent(ops: Receiver, type: string, where: (e: OpsEvent) => boolean = () => true, options: VerifyOptions = {}): Promise<OpsEvent> {
  const match = (requests: ReceivedRequest[]) => opsEvents(requests, options).find((e) => e.type === type && where(e));
  await ops.waitFor((requests) => match(requests) !== undefined);
  return match(ops.requests)!;
}

/**
 * The types of every operational event stored so far, sorted. Events are stored in the same
 * transaction as what they report, so this is exact the moment that change is visible.
 */
async function storedEventTypes(tw: TestTapwire): Promise<string[]> {
  const res = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/msg?limit=250`), 200, 'operational messages');
  return (res.body.data as any[]).map((m) => m.eventType).sort();
}

async function getEndpointOut(tw: TestTapwire, appId: string, endpointId: string): Promise<any> {
  return expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${endpointId}`), 200, 'get endpoint').body;
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('operational webhooks', () => {
    it('sends endpoint.created, updated and deleted, signed with the configured secret', async () => {
      const { tw, ops } = await setupWithOps();
      const app = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' }), 201, 'create app').body;
      const rx = await fixtures.receiver();
      const ep = expectStatus(await tw.api('POST', `/api/v1/app/acme/endpoint`, { url: rx.url, uid: 'hook' }), 201, 'create endpoint').body;
      const expected = { appId: app.id, appUid: 'acme', endpointId: ep.id, endpointUid: 'hook' };

      const created = await waitForEvent(ops, 'endpoint.created');
      expect(created.data).toEqual(expected);
      expect(created.msgId).toMatch(/^msg_/);
      expect(Math.abs(Date.parse(created.timestamp) - Date.now())).toBeLessThan(MINUTE);

      expectStatus(await tw.api('PATCH', `/api/v1/app/acme/endpoint/hook`, { description: 'new' }), 200, 'patch');
      expect((await waitForEvent(ops, 'endpoint.updated')).data).toEqual(expected);
      expectStatus(await tw.api('POST', `/api/v1/app/acme/endpoint/hook/secret/rotate`, {}), 204, 'rotate');
      await ops.waitFor((r) => opsEvents(r).filter((e) => e.type === 'endpoint.updated').length === 2);
      expectStatus(await tw.api('DELETE', `/api/v1/app/acme/endpoint/hook`), 204, 'delete');
      expect((await waitForEvent(ops, 'endpoint.deleted')).data).toEqual(expected);
      expect(opsEvents(ops.requests).map((e) => e.type)).toEqual(['endpoint.created', 'endpoint.updated', 'endpoint.updated', 'endpoint.deleted']);
      expect(await storedEventTypes(tw)).toEqual(['endpoint.created', 'endpoint.deleted', 'endpoint.updated', 'endpoint.updated']);
      expect(flatHeaders(ops.requests[0]!.headers)['user-agent']).toMatch(/^Tapwire\//);
    });

    it('keeps its target in a reserved application whose secret is the configured one', async () => {
      const { tw } = await setupWithOps();
      const app = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}`), 200, 'operational app').body;
      expect(app.uid).toBe(OPERATIONAL_APP_UID);
      const secret = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/endpoint/${OPERATIONAL_ENDPOINT_UID}/secret`), 200, 'secret');
      expect(secret.body.key).toBe(OPS_SECRET);
      // Setting up again (another process starting) changes nothing.
      const ep = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/endpoint/${OPERATIONAL_ENDPOINT_UID}`), 200, 'endpoint').body;
      const again = await setUpOperationalWebhooks(tw.server.context);
      expect(again?.appId).toBe(app.id);
      const list = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/endpoint`), 200, 'endpoints').body;
      expect(list.data.map((e: any) => e.id)).toEqual([ep.id]);
    });

    it('generates a secret when none is configured, keeps it, and restores URL and enabled state on start', async () => {
      const ops = await fixtures.receiver();
      const { tw, appId } = await fixtures.setup({ TAPWIRE_OPERATIONAL_WEBHOOK_URL: `${ops.url}/ops` });
      const path = `/api/v1/app/${OPERATIONAL_APP_UID}/endpoint/${OPERATIONAL_ENDPOINT_UID}`;
      const secret = expectStatus(await tw.api('GET', `${path}/secret`), 200, 'secret').body.key as string;
      expect(secret).toMatch(/^whsec_/);
      const rx = await fixtures.receiver();
      await createEndpoint(tw, appId, { url: rx.url });
      expect((await waitForEvent(ops, 'endpoint.created', () => true, { secret })).type).toBe('endpoint.created');

      // An operator disables it and points it elsewhere; the configuration wins at the next start.
      expectStatus(await tw.api('PATCH', path, { disabled: true, url: 'http://127.0.0.1:9/elsewhere' }), 200, 'patch');
      await setUpOperationalWebhooks(tw.server.context);
      const ep = expectStatus(await tw.api('GET', path), 200, 'endpoint').body;
      expect(ep).toMatchObject({ url: `${ops.url}/ops`, disabled: false });
      expect(expectStatus(await tw.api('GET', `${path}/secret`), 200, 'secret').body.key).toBe(secret);
    });

    it('refuses to start when the operational URL is not allowed, naming the variable', async () => {
      await expect(
        startTapwire({ TAPWIRE_OPERATIONAL_WEBHOOK_URL: 'http://127.0.0.1:9/ops', TAPWIRE_HTTPS_ONLY: 'true' }),
      ).rejects.toThrow(/^TAPWIRE_OPERATIONAL_WEBHOOK_URL: .*https/);
      await expect(
        startTapwire({ TAPWIRE_OPERATIONAL_WEBHOOK_URL: 'http://10.1.2.3/ops', TAPWIRE_ALLOWED_NETWORKS: '' }),
      ).rejects.toThrow(/^TAPWIRE_OPERATIONAL_WEBHOOK_URL: /);
    });

    it('sends message.attempt.failing on the 4th failure and message.attempt.recovered on the success after it', async () => {
      const { tw, appId, ops } = await setupWithOps({ TAPWIRE_RETRY_SCHEDULE: '10ms,10ms,10ms,10ms,10ms' }, { random: () => 0.5 });
      const rx = await fixtures.receiver();
      rx.respond((_req, i) => (i < 4 ? { status: 500 } : { status: 200 }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const res = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'a.b', payload: {}, eventId: 'evt-1' }), 202, 'send');
      const msgId = res.body.id as string;
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => a.responseStatusCode)).toEqual([500, 500, 500, 500, 200]);

      const failing = await waitForEvent(ops, 'message.attempt.failing');
      expect(failing.data).toEqual({
        appId,
        appUid: null,
        msgId,
        msgEventId: 'evt-1',
        endpointId: ep.id,
        lastAttempt: { id: attempts[3].id, responseStatusCode: 500, timestamp: attempts[3].timestamp },
      });
      const recovered = await waitForEvent(ops, 'message.attempt.recovered');
      expect(recovered.data.lastAttempt).toEqual({ id: attempts[4].id, responseStatusCode: 200, timestamp: attempts[4].timestamp });
      expect(recovered.data.msgId).toBe(msgId);
      expect(await storedEventTypes(tw)).toEqual(['endpoint.created', 'message.attempt.failing', 'message.attempt.recovered']);
    });

    it('sends message.attempt.exhausted when the schedule runs out (and no failing before the 4th failure)', async () => {
      const { tw, appId, ops } = await setupWithOps({ TAPWIRE_RETRY_SCHEDULE: '10ms' });
      const rx = await fixtures.receiver();
      rx.respond(() => ({ status: 503, body: 'down' }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts).toHaveLength(2);
      const exhausted = await waitForEvent(ops, 'message.attempt.exhausted');
      expect(exhausted.data).toEqual({
        appId,
        appUid: null,
        msgId,
        msgEventId: null,
        endpointId: ep.id,
        lastAttempt: { id: attempts[1].id, responseStatusCode: 503, timestamp: attempts[1].timestamp },
      });
      expect(await storedEventTypes(tw)).toEqual(['endpoint.created', 'message.attempt.exhausted']);
      // One failed message is not a disabled endpoint.
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(false);
    });

    it('raises no events about its own deliveries, even when they fail (no loops)', async () => {
      const { tw, appId, ops } = await setupWithOps({ TAPWIRE_RETRY_SCHEDULE: '10ms' });
      ops.respond(() => ({ status: 410 }));
      const rx = await fixtures.receiver();
      await createEndpoint(tw, appId, { url: rx.url });
      const opsApp = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}`), 200, 'ops app').body;
      const listed = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/msg`), 200, 'ops messages').body;
      expect(listed.data.map((m: any) => m.eventType)).toEqual(['endpoint.created']);
      const opsEp = expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/endpoint/${OPERATIONAL_ENDPOINT_UID}`), 200, 'ops ep').body;
      await waitForDestinationStatus(tw, opsApp.id, listed.data[0].id, opsEp.id, 2);
      // The 410 disabled the operational endpoint without announcing it to itself.
      expect((await getEndpointOut(tw, opsApp.id, opsEp.id)).disabled).toBe(true);
      expect(expectStatus(await tw.api('GET', `/api/v1/app/${OPERATIONAL_APP_UID}/msg`), 200, 'ops messages').body.data).toHaveLength(1);
    });

    it('sends endpoint.disabled (manual) and endpoint.enabled when the API flips disabled', async () => {
      const { tw, appId, ops } = await setupWithOps();
      const rx = await fixtures.receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: true }), 200, 'disable');
      const disabled = await waitForEvent(ops, 'endpoint.disabled');
      expect(disabled.data).toEqual({ appId, appUid: null, endpointId: ep.id, endpointUid: null, failSince: null, trigger: 'manual' });
      // PUT without `disabled` means enabled.
      expectStatus(await tw.api('PUT', `/api/v1/app/${appId}/endpoint/${ep.id}`, { url: rx.url }), 200, 'enable');
      expect((await waitForEvent(ops, 'endpoint.enabled')).data).toEqual({ appId, appUid: null, endpointId: ep.id, endpointUid: null });
      await ops.waitFor((r) => opsEvents(r).length === 5);
      expect(opsEvents(ops.requests).map((e) => e.type).sort()).toEqual(await storedEventTypes(tw));
      expect(await storedEventTypes(tw)).toEqual(['endpoint.created', 'endpoint.disabled', 'endpoint.enabled', 'endpoint.updated', 'endpoint.updated']);
    });
  });

  describe('disabling failing endpoints', () => {
    it('disables an endpoint at once when it answers 410, announcing it', async () => {
      const { tw, appId, ops } = await setupWithOps();
      const rx = await fixtures.receiver();
      rx.respond(() => ({ status: 410, body: 'gone' }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const before = Date.now();
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      expect(rx.requests).toHaveLength(1);
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(true);
      const disabled = await waitForEvent(ops, 'endpoint.disabled');
      expect(disabled.data).toMatchObject({ appId, endpointId: ep.id, trigger: 'automatic' });
      expect(Date.parse(disabled.data.failSince)).toBeGreaterThanOrEqual(before - 1000);
      expect(await storedEventTypes(tw)).toEqual(['endpoint.created', 'endpoint.disabled']);
    });

    it('disables an endpoint failing for TAPWIRE_AUTO_DISABLE_AFTER, not before; re-enabling starts afresh and deliveries resume', async () => {
      const clock = manualClock();
      const { tw, appId, ops } = await setupWithOps({ TAPWIRE_RETRY_SCHEDULE: 'none' }, { clock });
      // Requests are signed at the server's (moved) time: remember it per request to verify them.
      const serverTimeAt = new WeakMap<ReceivedRequest, number>();
      ops.respond((req) => {
        serverTimeAt.set(req, clock.now().getTime());
        return { status: 204 };
      });
      const verify: VerifyOptions = { nowMsOf: (req) => serverTimeAt.get(req) ?? req.at };
      const rx = await fixtures.receiver();
      let healthy = false;
      rx.respond(() => (healthy ? { status: 200 } : { status: 500 }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const failOnce = async (): Promise<string> => {
        const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
        await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
        // Its operational event must arrive before the test moves the clock: it is signed at the
        // server's time when sent, and checked against the time it arrives.
        await waitForEvent(ops, 'message.attempt.exhausted', (e) => e.data.msgId === msgId, verify);
        return msgId;
      };

      const streakStart = clock.now();
      await failOnce();
      clock.advance(5 * DAY - MINUTE);
      await failOnce();
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(false);

      clock.advance(MINUTE);
      const last = await failOnce();
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(true);
      expect(await storedEventTypes(tw)).toEqual(['endpoint.created', 'endpoint.disabled', ...Array(3).fill('message.attempt.exhausted')]);
      const disabled = await waitForEvent(ops, 'endpoint.disabled', () => true, verify);
      expect(disabled.data).toMatchObject({ appId, endpointId: ep.id, trigger: 'automatic' });
      // failSince is when the streak began.
      expect(Math.abs(Date.parse(disabled.data.failSince) - streakStart.getTime())).toBeLessThan(5_000);
      await waitForEvent(ops, 'message.attempt.exhausted', (e) => e.data.msgId === last, verify);

      // While disabled it gets nothing: new messages are not even queued for it.
      const whileDisabled = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${whileDisabled}/endpoint`), 200, 'destinations').body.data).toEqual([]);

      // Re-enabling is an API call; it clears the streak, so the next failure does not disable again.
      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: false }), 200, 'enable');
      expect((await waitForEvent(ops, 'endpoint.enabled', () => true, verify)).data).toMatchObject({ endpointId: ep.id });
      clock.advance(MINUTE);
      await failOnce();
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(false);

      healthy = true;
      const delivered = await sendMessage(tw, appId, { eventType: 'a.b', payload: { ok: true } });
      await waitForDestinationStatus(tw, appId, delivered, ep.id, 0);
      expect(rx.requests.at(-1)!.body.toString()).toBe('{"ok":true}');
      expect((await storedEventTypes(tw)).filter((t) => t === 'endpoint.disabled')).toHaveLength(1);
    });

    it('forgets a failure streak after a success', async () => {
      const clock = manualClock();
      const { tw, appId } = await fixtures.setup({ TAPWIRE_RETRY_SCHEDULE: 'none', TAPWIRE_AUTO_DISABLE_AFTER: '2d' }, { clock });
      const rx = await fixtures.receiver();
      let healthy = false;
      rx.respond(() => (healthy ? { status: 204 } : { status: 500 }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const send = async (status: number): Promise<void> => {
        const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
        await waitForDestinationStatus(tw, appId, msgId, ep.id, status);
      };
      await send(2);
      clock.advance(DAY);
      healthy = true;
      await send(0);
      healthy = false;
      clock.advance(1.5 * DAY);
      await send(2);
      clock.advance(1.5 * DAY);
      await send(2);
      // 3 days after the first failure, but only 1.5 days into the current streak.
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(false);
      clock.advance(DAY);
      await send(2);
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(true);
    });

    it('never disables automatically with TAPWIRE_AUTO_DISABLE_AFTER=never', async () => {
      const clock = manualClock();
      const { tw, appId } = await fixtures.setup({ TAPWIRE_RETRY_SCHEDULE: 'none', TAPWIRE_AUTO_DISABLE_AFTER: 'never' }, { clock });
      const rx = await fixtures.receiver();
      rx.respond(() => ({ status: 500 }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      for (let i = 0; i < 3; i++) {
        const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
        await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
        clock.advance(30 * DAY);
      }
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(false);
    });
  });

  describe('abort-message', () => {
    it('stops retrying a message whose receiver answers webhook-delivery: abort-message, after recording the attempt', async () => {
      const { tw, appId, ops } = await setupWithOps({ TAPWIRE_RETRY_SCHEDULE: '10ms,10ms,10ms' });
      const rx = await fixtures.receiver();
      rx.respond((req) =>
        req.body.toString().includes('"poison"') ? { status: 422, headers: { 'webhook-delivery': 'Abort-Message' }, body: 'cannot use this' } : { status: 200 },
      );
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const poison = await sendMessage(tw, appId, { eventType: 'a.b', payload: { poison: true } });
      const state = await waitForDestinationStatus(tw, appId, poison, ep.id, 2);
      expect(state.nextAttempt).toBeUndefined();
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => [a.responseStatusCode, a.response])).toEqual([[422, 'cannot use this']]);
      expect(rx.requests).toHaveLength(1);
      // Other messages to the same endpoint go on, and the endpoint is neither failing nor disabled.
      const fine = await sendMessage(tw, appId, { eventType: 'a.b', payload: { fine: true } });
      await waitForDestinationStatus(tw, appId, fine, ep.id, 0);
      expect((await getEndpointOut(tw, appId, ep.id)).disabled).toBe(false);
      // No message.attempt.exhausted either: the receiver chose to drop it.
      expect(await storedEventTypes(tw)).toEqual(['endpoint.created']);
      await waitForEvent(ops, 'endpoint.created');
    });

    it('ignores the header on a success and on an answer without it', async () => {
      const { tw, appId } = await fixtures.setup({ TAPWIRE_RETRY_SCHEDULE: '10ms' });
      const rx = await fixtures.receiver();
      rx.respond((_req, i) => (i === 0 ? { status: 500, headers: { 'webhook-delivery': 'keep-going' } } : { status: 200, headers: { 'webhook-delivery': 'abort-message' } }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      expect(rx.requests).toHaveLength(2);
    });
  });

  describe('store: endpoint health tracking', () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    afterEach(async () => {
      await cleanup?.();
    });

    async function openFresh(): Promise<void> {
      if (backend === 'postgres') {
        const url = freshSchemaUrl('health');
        store = await openStore(url, { migrate: true });
        cleanup = async () => {
          await store.close();
          await dropSchema(url);
        };
      } else {
        const dir = mkdtempSync(join(tmpdir(), 'tapwire-health-'));
        store = await openStore(join(dir, 'tapwire.db'), { migrate: true });
        cleanup = async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        };
      }
    }

    const T0 = Date.parse('2024-03-01T00:00:00.000Z');
    const at = (ms: number) => new Date(T0 + ms);

    async function seed(): Promise<{ app: Application; endpoint: Endpoint; opsApp: Application; opsEndpoint: Endpoint }> {
      const mkApp = (uid: string): Application => ({ id: newId('app', T0), uid, name: uid, throttleRate: null, metadata: {}, createdAt: at(0), updatedAt: at(0) });
      const mkEndpoint = (appId: string): Endpoint => ({
        id: newId('ep', T0), appId, uid: null, url: 'https://receiver.example/hook', description: '', disabled: false, eventTypes: null, channels: null,
        throttleRate: null, version: 1, metadata: {}, secret: OPS_SECRET, oldSecrets: [], headers: {}, createdAt: at(0), updatedAt: at(0),
      });
      const app = await store.createApplication(mkApp('customer'));
      const opsApp = await store.createApplication(mkApp('ops'));
      const endpoint = await store.createEndpoint(mkEndpoint(app.id));
      const opsEndpoint = await store.createEndpoint(mkEndpoint(opsApp.id));
      return { app, endpoint, opsApp, opsEndpoint };
    }

    function event(appId: string, type: string, now: Date): Message {
      return { id: newId('msg', now.getTime()), appId, eventId: null, eventType: type, payload: `{"type":"${type}"}`, channels: null, createdAt: now, payloadExpiresAt: at(DAY * 90) };
    }

    /** Queue `count` messages to the application's endpoint at `now` and claim them (jobs in due order). */
    async function claim(app: Application, count: number, now: Date): Promise<{ delivery: Delivery; endpoint: Endpoint | null }[]> {
      for (let i = 0; i < count; i++) await store.createMessage(event(app.id, 'a.b', now), now);
      const jobs = await store.claimDueDeliveries({ now, limit: 50, leaseMs: 60_000 });
      return jobs.filter((j) => j.delivery.appId === app.id);
    }

    function attemptOf(delivery: Delivery, now: Date, ok: boolean): Attempt {
      return {
        id: newId('atmpt', now.getTime()), deliveryId: delivery.id, msgId: delivery.msgId, appId: delivery.appId, endpointId: delivery.endpointId,
        url: 'https://receiver.example/hook', responseStatusCode: ok ? 200 : 500, response: '', responseDurationMs: 1,
        status: ok ? 'success' : 'fail', triggerType: 'scheduled', timestamp: now,
      };
    }

    type CompleteInput = Parameters<Store['completeAttempt']>[0];

    /** Record an attempt of `delivery` at `now` with this health signal. */
    function complete(delivery: Delivery, now: Date, health: 'success' | 'failure' | 'none', extra: Partial<CompleteInput> = {}) {
      return store.completeAttempt({
        attempt: attemptOf(delivery, now, health === 'success'),
        outcome: { status: health === 'success' ? 'success' : 'fail' },
        disableEndpoint: false,
        now,
        health,
        ...extra,
      });
    }

    async function failingSince(app: Application, endpoint: Endpoint): Promise<Date | undefined> {
      return (await store.getEndpoint(app.id, endpoint.id))!.failingSince;
    }

    it('sets failingSince on the first failure, keeps it on the next, clears it on a success; none leaves it', async () => {
      await openFresh();
      const { app, endpoint } = await seed();
      await complete((await claim(app, 1, at(1000)))[0]!.delivery, at(1000), 'failure');
      expect(await failingSince(app, endpoint)).toEqual(at(1000));
      await complete((await claim(app, 1, at(2000)))[0]!.delivery, at(2000), 'failure');
      await complete((await claim(app, 1, at(3000)))[0]!.delivery, at(3000), 'none');
      const [job] = await claim(app, 1, at(4000));
      // The worker sees the streak in the endpoint it claims with.
      expect(job!.endpoint!.failingSince).toEqual(at(1000));
      await complete(job!.delivery, at(4000), 'failure');
      expect(await failingSince(app, endpoint)).toEqual(at(1000));
      await complete((await claim(app, 1, at(5000)))[0]!.delivery, at(5000), 'success');
      expect(await failingSince(app, endpoint)).toBeUndefined();
    });

    it('auto-disables only while the streak the worker saw is still the current one, queuing its messages then', async () => {
      await openFresh();
      const { app, endpoint, opsApp } = await seed();
      const jobs = await claim(app, 4, at(500));
      await complete(jobs[0]!.delivery, at(1000), 'failure');
      // A streak that is no longer the current one: no disable, and the conditional event is dropped.
      const stale = await complete(jobs[1]!.delivery, at(9000), 'failure', {
        autoDisableFailingSince: at(500),
        messagesIfEndpointDisabled: [event(opsApp.id, 'endpoint.disabled', at(9000))],
      });
      expect(stale).toEqual({ endpointDisabled: false });
      expect((await store.getEndpoint(app.id, endpoint.id))!.disabled).toBe(false);
      expect((await store.listMessages(opsApp.id, { limit: 10 })).data).toEqual([]);

      const current = await complete(jobs[2]!.delivery, at(10_000), 'failure', {
        autoDisableFailingSince: at(1000),
        messages: [event(opsApp.id, 'message.attempt.exhausted', at(10_000))],
        messagesIfEndpointDisabled: [event(opsApp.id, 'endpoint.disabled', at(10_000))],
      });
      expect(current).toEqual({ endpointDisabled: true });
      expect(await store.getEndpoint(app.id, endpoint.id)).toMatchObject({ disabled: true, failingSince: at(1000), updatedAt: at(10_000) });
      const queued = (await store.claimDueDeliveries({ now: at(DAY), limit: 10, leaseMs: 1 })).filter((j) => j.delivery.appId === opsApp.id);
      expect(queued.map((j) => j.message.eventType).sort()).toEqual(['endpoint.disabled', 'message.attempt.exhausted']);
      expect(queued.every((j) => j.delivery.status === 'pending' && j.delivery.createdAt.getTime() === at(10_000).getTime())).toBe(true);

      // Already disabled: a 410 now changes nothing and queues nothing conditional.
      const again = await complete(jobs[3]!.delivery, at(11_000), 'failure', {
        disableEndpoint: true,
        messagesIfEndpointDisabled: [event(opsApp.id, 'endpoint.disabled', at(11_000))],
      });
      expect(again).toEqual({ endpointDisabled: false });
      expect((await store.listMessages(opsApp.id, { limit: 10 })).data).toHaveLength(2);
    });

    it('disables on 410, leaves a disabled endpoint alone, and clears failingSince when an update re-enables it', async () => {
      await openFresh();
      const { app, endpoint } = await seed();
      const jobs = await claim(app, 2, at(500));
      expect(await complete(jobs[0]!.delivery, at(1000), 'failure', { disableEndpoint: true })).toEqual({ endpointDisabled: true });
      let current = (await store.getEndpoint(app.id, endpoint.id))!;
      expect(current).toMatchObject({ disabled: true, failingSince: at(1000) });
      // An attempt that finishes after the disable does not touch it.
      await complete(jobs[1]!.delivery, at(2000), 'success');
      expect(await failingSince(app, endpoint)).toEqual(at(1000));
      // An update that keeps it disabled keeps the streak; enabling clears it.
      current = await store.updateEndpoint({ ...current, description: 'still off', updatedAt: at(3000) });
      expect(current.failingSince).toEqual(at(1000));
      current = await store.updateEndpoint({ ...current, disabled: false, updatedAt: at(4000) });
      expect(current.failingSince).toBeUndefined();
      expect(current.disabled).toBe(false);
    });

    it('queues messages with endpoint changes atomically, and drops those of a deleted application', async () => {
      await openFresh();
      const { app, endpoint, opsApp } = await seed();
      await store.updateEndpoint({ ...endpoint, description: 'x' }, { messages: [event(opsApp.id, 'endpoint.updated', at(1))] });
      // A uid conflict rolls the event back with the change.
      const other = await store.createEndpoint({ ...endpoint, id: newId('ep', T0), uid: 'taken' });
      await expect(
        store.updateEndpoint({ ...endpoint, uid: 'taken' }, { messages: [event(opsApp.id, 'endpoint.updated', at(2))] }),
      ).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.deleteEndpoint(app.id, other.id, at(3), { messages: [event(opsApp.id, 'endpoint.deleted', at(3))] })).toBe(true);
      expect(await store.deleteEndpoint(app.id, other.id, at(4), { messages: [event(opsApp.id, 'endpoint.deleted', at(4))] })).toBe(false);
      const listed = await store.listMessages(opsApp.id, { limit: 10 });
      expect(listed.data.map((m) => m.eventType).sort()).toEqual(['endpoint.deleted', 'endpoint.updated']);

      await store.deleteApplication(opsApp.id);
      const created = await store.createEndpoint(
        { ...endpoint, id: newId('ep', T0), uid: 'late' },
        { messages: [event(opsApp.id, 'endpoint.created', at(5))] },
      );
      expect(created.uid).toBe('late');
    });
  });
});
