// The Store contract, handoff: an accept offered to the accepting process's worker leases what the
// worker may take at once, under the same rules as a claim, and returns it ready to send.
import { describe, expect, it } from 'vitest';

import type { Endpoint } from '../../src/domain/types.js';
import type { CreateMessageResult, DeliveryHandoff } from '../../src/storage/store.js';
import { store, T0, at, makeMessage, seedApp, attempt } from './fixtures.js';

/** The handoff cases, registered inside runStoreContract's describe (index.ts). */
export function describeHandoff(): void {
  describe('handoff', () => {
    const offer = (now: Date, more: Partial<DeliveryHandoff> = {}): DeliveryHandoff => ({
      lockedUntil: new Date(now.getTime() + 60_000),
      limit: 100,
      endpointConcurrency: 2,
      ...more,
    });
    const accept = (appId: string, seconds: number, handoff: DeliveryHandoff | null, endpointIds?: string[]): Promise<CreateMessageResult> => {
      const now = at(seconds);
      return store.createMessage(makeMessage(appId, { createdAt: now }), now, { handoff, ...(endpointIds ? { endpointIds } : {}) });
    };
    const leasedNow = async (ids: string[], now: Date): Promise<number> => {
      let leased = 0;
      for (const id of ids) {
        const delivery = await store.getDelivery(id);
        if (delivery?.lockedUntil && delivery.lockedUntil > now) leased++;
      }
      return leased;
    };

    it('leases an accept’s deliveries up to each endpoint’s budget and returns them with what sending needs', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const [a, b] = endpoints as [Endpoint, Endpoint];
      const results: CreateMessageResult[] = [];
      for (let i = 0; i < 3; i++) results.push(await accept(app.id, i, offer(at(i), { endpointBudgets: { [b.id]: 1 } })));
      // a: the default budget of 2; b: its own budget of 1.
      const handed = results.flatMap((r) => r.handedOff);
      expect(handed.filter((job) => job.delivery.endpointId === a.id)).toHaveLength(2);
      expect(handed.filter((job) => job.delivery.endpointId === b.id)).toHaveLength(1);
      const job = handed[0]!;
      expect(job.message).toEqual(results[0]!.message);
      expect(job.endpoint).toMatchObject({ id: job.delivery.endpointId, url: expect.any(String), secret: expect.stringMatching(/^whsec_/) });
      expect(job.delivery).toMatchObject({ status: 'pending', attemptCount: 0, lockedUntil: at(0 + 60), nextAttemptAt: at(0) });
      // Every delivery is in the result; those not handed off are due as usual, and a claim takes them, not the handed-off ones.
      expect(results.flatMap((r) => r.deliveries)).toHaveLength(6);
      const claimed = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 60_000 });
      expect(claimed.map((j) => j.delivery.id).sort()).toEqual(
        results.flatMap((r) => r.deliveries).filter((d) => d.lockedUntil === null).map((d) => d.id).sort(),
      );
      // A handed-off delivery is an ordinary lease: recorded like a claimed one, and claimable again once it runs out.
      await attempt(job.delivery, { status: 'success' }, at(11));
      expect(await store.getDelivery(job.delivery.id)).toMatchObject({ status: 'success', lockedUntil: null });
      const expired = await store.claimDueDeliveries({ now: at(61), limit: 10, leaseMs: 60_000 });
      const ranOut = handed.filter((j) => j !== job && j.delivery.lockedUntil! <= at(61));
      expect(ranOut.length).toBeGreaterThan(0);
      expect(expired.map((j) => j.delivery.id).sort()).toEqual(ranOut.map((j) => j.delivery.id).sort());
    });

    it('counts leases claimed already, stops at the offer’s limit, and makes none without an offer', async () => {
      const { app, endpoints } = await seedApp([{}]);
      const endpointId = endpoints[0]!.id;
      const first = await accept(app.id, 0, null);
      expect(first.handedOff).toEqual([]);
      expect(first.deliveries[0]).toMatchObject({ lockedUntil: null });
      await store.claimDueDeliveries({ now: at(1), limit: 10, leaseMs: 60_000 });
      // Budget 3, one lease held: two more at most, and the offer's limit of 1 allows one.
      expect((await accept(app.id, 2, offer(at(2), { endpointConcurrency: 3, limit: 1 }))).handedOff).toHaveLength(1);
      expect((await accept(app.id, 3, offer(at(3), { endpointConcurrency: 3 }))).handedOff).toHaveLength(1);
      expect((await accept(app.id, 4, offer(at(4), { endpointConcurrency: 3 }))).handedOff).toHaveLength(0);
      // Only the last is left for claims.
      expect(await store.queueSnapshot(at(4))).toMatchObject({ pending: 1, due: 1 });
      expect((await store.claimDueDeliveries({ now: at(5), limit: 10, leaseMs: 60_000 })).map((j) => j.delivery.endpointId)).toEqual([endpointId]);
    });

    it('hands off nothing for a throttled endpoint, one with parked deliveries, or a full application', async () => {
      const throttled = await seedApp([{ throttleRate: 10 }]);
      expect((await accept(throttled.app.id, 0, offer(at(0)))).handedOff).toEqual([]);
      const full = await seedApp([{}]);
      expect((await accept(full.app.id, 0, offer(at(0), { fullApplications: [full.app.id] }))).handedOff).toEqual([]);
      // An endpoint at its limit with a backlog: the claim parks what waits, and new deliveries queue behind it.
      const busy = await seedApp([{ concurrencyLimit: 1 }]);
      for (let i = 0; i < 3; i++) await accept(busy.app.id, i, null);
      await store.claimDueDeliveries({ now: at(5), limit: 10, leaseMs: 60_000 });
      const behind = await accept(busy.app.id, 6, offer(at(6), { endpointConcurrency: 10, endpointBudgets: { [busy.endpoints[0]!.id]: 10 } }));
      expect(behind.handedOff).toEqual([]);
      expect(behind.deliveries[0]).toMatchObject({ lockedUntil: null });
    });

    it('holds each endpoint to its budget across accepts and claims running at once', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const budgets = Object.fromEntries(endpoints.map((e) => [e.id, 3]));
      const now = new Date(T0 + 1_000);
      const runs = await Promise.all([
        ...Array.from({ length: 12 }, () => store.createMessage(makeMessage(app.id, { createdAt: now }), now, { handoff: offer(now, { endpointBudgets: budgets }) })),
        ...Array.from({ length: 4 }, () => store.claimDueDeliveries({ now, limit: 10, leaseMs: 60_000, endpointBudgets: budgets })),
      ]);
      const accepted = runs.slice(0, 12) as CreateMessageResult[];
      const ids = accepted.flatMap((r) => r.deliveries);
      for (const endpoint of endpoints) {
        const own = ids.filter((d) => d.endpointId === endpoint.id).map((d) => d.id);
        expect(await leasedNow(own, now)).toBeLessThanOrEqual(3);
      }
      expect(accepted.flatMap((r) => r.handedOff).length).toBeGreaterThan(0);
    });
  });
}
