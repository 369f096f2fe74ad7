// Deliveries a person asks for: resending one message to one endpoint, and recovering every failed
// message of an endpoint since a time. Manual attempts carry triggerType 1 and are never retried.
import { describe, expect, it } from 'vitest';
import type { Receiver } from './helpers/receiver.js';
import { useBackend, type TestTapwire } from './helpers/tapwire.js';
import {
  attemptedMessageState,
  attemptsToEndpoint,
  createEndpoint,
  destinationState,
  eventually,
  expectStatus,
  sendMessage,
  waitForDestinationStatus,
  useDeliveryFixtures,
} from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';

const fixtures = useDeliveryFixtures();

const { setup, receiver } = fixtures;

/** Sends a message to a second, healthy endpoint and waits for it: proof the worker loop went round. */
async function workerWentRound(tw: TestTapwire, appId: string, witness: { id: string }, rx: Receiver): Promise<void> {
  const before = rx.requests.length;
  const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { witness: true }, channels: ['witness'] });
  await rx.waitFor((r) => r.length > before);
  await waitForDestinationStatus(tw, appId, msgId, witness.id, 0);
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('resend', () => {
    it('makes one new manual attempt with the same webhook-id', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 1 } });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);

      const res = await tw.api('POST', `/api/v1/app/${appId}/msg/${msgId}/endpoint/${ep.id}/resend`);
      expect(res.status).toBe(202);
      expect(res.body).toEqual({});
      await rx.waitFor((r) => r.length === 2);
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      expect(rx.requests.map((r) => r.headers['webhook-id'])).toEqual([msgId, msgId]);
      expect(rx.requests[1]!.body.toString()).toBe('{"n":1}');
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => [a.triggerType, a.status, a.responseStatusCode])).toEqual([
        [0, 0, 200],
        [1, 0, 200],
      ]);
    });

    it('does not retry a failed manual attempt', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const witnessRx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url, channels: ['main'] });
      const witness = await createEndpoint(tw, appId, { url: witnessRx.url, channels: ['witness'] });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {}, channels: ['main'] });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);

      rx.respond(() => ({ status: 500, body: 'not now' }));
      expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/${msgId}/endpoint/${ep.id}/resend`), 202, 'resend');
      const state = await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      expect(state.nextAttempt).toBeUndefined();
      expect((await attemptedMessageState(tw, appId, ep.id, msgId)).status).toBe(2);

      await workerWentRound(tw, appId, witness, witnessRx);
      expect(rx.requests).toHaveLength(2);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => [a.triggerType, a.status, a.responseStatusCode, a.response])).toEqual([
        [0, 0, 200, 'ok'],
        [1, 2, 500, 'not now'],
      ]);
    });
  });

  describe('resend while retries are pending', () => {
    it('a resend that gets through ends the scheduled retries of that message', async () => {
      // The retry is due 400 ms after the first failure; the resend goes first and succeeds.
      const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '400ms' }, { random: () => 0.5 });
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      rx.respond((_req, index) => (index === 0 ? { status: 503, body: 'down' } : { status: 200, body: 'ok' }));
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 1 } });
      const waiting = await waitForDestinationStatus(tw, appId, msgId, ep.id, 3);
      expect(waiting.nextAttempt).toBeDefined();

      expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/${msgId}/endpoint/${ep.id}/resend`), 202, 'resend');
      await rx.waitFor((r) => r.length === 2);
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => [a.triggerType, a.responseStatusCode])).toEqual([
        [0, 503],
        [1, 200],
      ]);
      // The scheduled delivery that was waiting to retry is over: nothing is left to claim, so the
      // receiver will not get the message a third time.
      const stored = await tw.server.store.listAttempts(appId, { limit: 10, msgId });
      const scheduledDeliveryId = stored.data.find((a) => a.triggerType === 'scheduled')!.deliveryId;
      expect(await tw.server.store.getDelivery(scheduledDeliveryId)).toMatchObject({ status: 'success', nextAttemptAt: null, attemptCount: 1 });
      expect(await tw.server.store.nextDueAt()).toBeNull();
      expect(rx.requests).toHaveLength(2);
    });
  });

  describe('recover', () => {
    it('resends every failed message since a time, and only those', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const since = new Date(Date.now() - 1_000).toISOString();

      const ok = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'ok' } });
      await waitForDestinationStatus(tw, appId, ok, ep.id, 0);

      rx.respond(() => ({ status: 503 }));
      const failed = [
        await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'f1' } }),
        await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'f2' } }),
      ];
      for (const msgId of failed) {
        await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
        expect((await attemptedMessageState(tw, appId, ep.id, msgId)).status).toBe(2);
      }
      expect(rx.requests).toHaveLength(1 + 2 * 3);

      rx.respond(() => ({ status: 200 }));
      const res = await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/recover`, { since });
      expect(res.status).toBe(202);
      // A background task: running when answered, finished with its count once the resends are queued.
      expect(res.body).toMatchObject({ task: 'endpoint.recover', status: 'running' });
      expect(res.body.id).toMatch(/^qtask_/);
      const task = await eventually(
        async () => expectStatus(await tw.api('GET', `/api/v1/background-task/${res.body.id}`), 200, 'get task').body,
        (t) => t.status !== 'running',
        { what: 'the recover task finishing' },
      );
      expect(task).toMatchObject({ status: 'finished', task: 'endpoint.recover', data: { endpointId: ep.id, since, recovered: 2 } });

      for (const msgId of failed) {
        await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
        expect((await attemptedMessageState(tw, appId, ep.id, msgId)).status).toBe(0);
      }
      const byId = (id: string) => rx.requests.filter((r) => r.headers['webhook-id'] === id);
      expect(byId(ok)).toHaveLength(1);
      for (const msgId of failed) expect(byId(msgId)).toHaveLength(4);
      expect((await destinationState(tw, appId, ok, ep.id)).status).toBe(0);

      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      const manual = attempts.filter((a) => a.triggerType === 1);
      expect(manual.map((a) => a.msgId).sort()).toEqual([...failed].sort());
      expect(manual.every((a) => a.status === 0 && a.responseStatusCode === 200)).toBe(true);
    });

    it('ignores failures before `since`', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      rx.respond(() => ({ status: 500 }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const old = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'old' } });
      await waitForDestinationStatus(tw, appId, old, ep.id, 2);
      rx.respond(() => ({ status: 200 }));
      // `since` after the failed message was created: nothing to recover.
      const since = new Date(Date.now() + 1).toISOString();
      const later = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'new' } });
      await waitForDestinationStatus(tw, appId, later, ep.id, 0);
      expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/recover`, { since }), 202, 'recover');
      // The worker has had its chance: a fresh message after the recover is delivered.
      const last = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'last' } });
      await waitForDestinationStatus(tw, appId, last, ep.id, 0);
      expect((await destinationState(tw, appId, old, ep.id)).status).toBe(2);
      expect(rx.requests.filter((r) => r.headers['webhook-id'] === old)).toHaveLength(3);
    });
  });
});
