// The Store contract, completing attempts: what an attempt's outcome does to its delivery, to the
// endpoint's health and to older retries, alone or recorded together with others.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Delivery, Endpoint } from '../../src/domain/types.js';
import { store, at, makeMessage, makeAttempt, seedApp, attempt } from './fixtures.js';

/** The attempt-completion cases, registered inside runStoreContract's describe (index.ts). */
export function describeCompletion(): void {
  describe('completing attempts', () => {
    it('records a successful attempt: final status, count, lease and due time cleared', async () => {
      const { app } = await seedApp();
      const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
      const record = await attempt(job!.delivery, { status: 'success' }, at(2));
      expect(await store.getDelivery(deliveries[0]!.id)).toMatchObject({
        status: 'success',
        attemptCount: 1,
        nextAttemptAt: null,
        lockedUntil: null,
        updatedAt: at(2),
      });
      expect(await store.getAttempt(app.id, record.msgId, record.id)).toEqual(record);
      expect(await store.nextDueAt()).toBeNull();
      expect(await store.claimDueDeliveries({ now: at(1000), limit: 10, leaseMs: 1 })).toEqual([]);
    });

    it('reschedules a retry and makes it claimable only when due', async () => {
      const { app } = await seedApp();
      const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
      await attempt(job!.delivery, { status: 'sending', nextAttemptAt: at(300) }, at(2));
      expect(await store.getDelivery(deliveries[0]!.id)).toMatchObject({
        status: 'sending',
        attemptCount: 1,
        nextAttemptAt: at(300),
        lockedUntil: null,
      });
      expect(await store.nextDueAt()).toEqual(at(300));
      expect(await store.claimDueDeliveries({ now: at(299), limit: 10, leaseMs: 1000 })).toEqual([]);
      const [retry] = await store.claimDueDeliveries({ now: at(300), limit: 10, leaseMs: 1000 });
      expect(retry!.delivery).toMatchObject({ id: deliveries[0]!.id, status: 'sending', attemptCount: 1 });
    });

    it('fails a delivery for good and disables the endpoint in the same step when asked', async () => {
      const { app, endpoints } = await seedApp();
      const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
      await store.completeAttempt({
        attempt: makeAttempt(job!.delivery, { status: 'fail', responseStatusCode: 410, timestamp: at(2) }),
        outcome: { status: 'fail' },
        disableEndpoint: true,
        now: at(2),
      });
      expect(await store.getDelivery(deliveries[0]!.id)).toMatchObject({ status: 'fail', attemptCount: 1, nextAttemptAt: null });
      expect(await store.getEndpoint(app.id, endpoints[0]!.id)).toMatchObject({ disabled: true, updatedAt: at(2) });
      // A disabled endpoint gets no new deliveries.
      expect((await store.createMessage(makeMessage(app.id), at(3))).deliveries).toEqual([]);
    });

    it('ends older waiting retries of the same message and endpoint when a later delivery succeeds', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const { message, deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      const scheduled = deliveries.find((d) => d.endpointId === endpoints[0]!.id)!;
      const other = deliveries.find((d) => d.endpointId === endpoints[1]!.id)!;
      // Both scheduled deliveries fail once and wait to retry at 300.
      const claimed = await store.claimDueDeliveries({ now: at(1), limit: 10, leaseMs: 1000 });
      for (const job of claimed) await attempt(job.delivery, { status: 'sending', nextAttemptAt: at(300) }, at(2));
      // A resend to the first endpoint gets through.
      await store.createManualDelivery({ deliveryId: newId('msgep', at(10).getTime()), appId: app.id, msgId: message.id, endpointId: endpoints[0]!.id, now: at(10) });
      const [manual] = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 1000 });
      expect(manual!.delivery.triggerType).toBe('manual');
      await attempt(manual!.delivery, { status: 'success' }, at(11));
      expect(await store.getDelivery(scheduled.id)).toMatchObject({ status: 'success', nextAttemptAt: null, attemptCount: 1 });
      // The other endpoint's retry is untouched and still runs.
      expect(await store.getDelivery(other.id)).toMatchObject({ status: 'sending', nextAttemptAt: at(300) });
      const due = await store.claimDueDeliveries({ now: at(300), limit: 10, leaseMs: 1000 });
      expect(due.map((j) => j.delivery.id)).toEqual([other.id]);
    });

    it('records attempts finished together each with its own outcome, and an endpoint streak in their order', async () => {
      // Attempts recorded in the same turn share a commit (and on PostgreSQL one statement); a
      // bad one among them must fail alone, and a failure then a success of one endpoint must
      // leave it healthy, as if they had been recorded one by one.
      const { app, endpoints } = await seedApp([{}, {}, {}]);
      const [a, b, c] = endpoints as [Endpoint, Endpoint, Endpoint];
      await store.createMessage(makeMessage(app.id), at(0));
      await store.createMessage(makeMessage(app.id), at(0));
      const jobs = await store.claimDueDeliveries({ now: at(1), limit: 10, leaseMs: 30_000 });
      expect(jobs).toHaveLength(6);
      const to = (endpoint: Endpoint): Delivery[] => jobs.filter((j) => j.delivery.endpointId === endpoint.id).map((j) => j.delivery);
      const complete = (delivery: Delivery, ok: boolean, second: number) =>
        store.completeAttempt({
          attempt: makeAttempt(delivery, { timestamp: at(second), status: ok ? 'success' : 'fail', responseStatusCode: ok ? 200 : 500 }),
          outcome: ok ? { status: 'success' } : { status: 'sending', nextAttemptAt: at(100) },
          disableEndpoint: false,
          now: at(second),
          health: ok ? 'success' : 'failure',
        });
      const results = await Promise.all([
        complete(to(a)[0]!, true, 2),
        complete(to(b)[0]!, false, 2),
        complete(to(c)[0]!, false, 2),
        complete(to(a)[1]!, true, 3),
        complete(to(b)[1]!, false, 3),
        complete(to(c)[1]!, true, 3),
      ]);
      expect(results).toEqual(Array(6).fill({ endpointDisabled: false }));
      for (const job of jobs) {
        expect(await store.getDelivery(job.delivery.id)).toMatchObject({
          attemptCount: 1,
          lockedUntil: null,
          status: job.delivery.endpointId === b.id ? 'sending' : job.delivery.endpointId === a.id ? 'success' : expect.any(String),
        });
      }
      expect((await store.listAttempts(app.id, { limit: 20 })).data).toHaveLength(6);
      expect((await store.getEndpoint(app.id, a.id))!.failingSince).toBeUndefined();
      expect((await store.getEndpoint(app.id, b.id))!.failingSince).toEqual(at(2));
      expect((await store.getEndpoint(app.id, c.id))!.failingSince).toBeUndefined();

      // One attempt of a delivery that does not exist, among good ones: only it fails.
      await store.createMessage(makeMessage(app.id), at(4));
      const next = await store.claimDueDeliveries({ now: at(5), limit: 10, leaseMs: 30_000 });
      expect(next).toHaveLength(3);
      const ghost = { ...next[0]!.delivery, id: newId('msgep', at(5).getTime()) };
      const settled = await Promise.allSettled([complete(next[0]!.delivery, true, 6), complete(ghost, true, 6), complete(next[1]!.delivery, true, 6), complete(next[2]!.delivery, false, 6)]);
      expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'not_found' });
      expect((await store.listAttempts(app.id, { limit: 20 })).data).toHaveLength(9);
    });
  });
}
