// The Store contract, claiming deliveries: due ones oldest first, each to one claimer only, with
// the lease counted in when the next one becomes claimable.
import { describe, expect, it } from 'vitest';

import { store, at, makeMessage, seedApp, attempt } from './fixtures.js';

/** The claim cases, registered inside runStoreContract's describe (index.ts). */
export function describeClaims(): void {
  describe('claims', () => {
    it('claims due deliveries oldest first with message and endpoint, leasing without changing status', async () => {
      const { app, endpoints } = await seedApp();
      const first = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
      const second = await store.createMessage(makeMessage(app.id, { createdAt: at(1) }), at(1));
      await store.createMessage(makeMessage(app.id, { createdAt: at(2) }), at(100)); // due later

      const jobs = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 30_000 });
      expect(jobs.map((j) => j.delivery.id)).toEqual([first.deliveries[0]!.id, second.deliveries[0]!.id]);
      expect(jobs[0]!.message).toEqual(first.message);
      expect(jobs[0]!.endpoint).toEqual(endpoints[0]);
      expect(jobs[0]!.delivery).toMatchObject({ status: 'pending', attemptCount: 0, lockedUntil: at(40) });
      expect(await store.getDelivery(first.deliveries[0]!.id)).toMatchObject({ status: 'pending', lockedUntil: at(40) });

      // Leased: nobody else gets them until the lease runs out.
      expect(await store.claimDueDeliveries({ now: at(39), limit: 10, leaseMs: 30_000 })).toEqual([]);
      const again = await store.claimDueDeliveries({ now: at(40), limit: 1, leaseMs: 30_000 });
      expect(again.map((j) => j.delivery.id)).toEqual([first.deliveries[0]!.id]);
    });

    it('never hands the same delivery to two concurrent claimers', async () => {
      const { app } = await seedApp([{}, {}, {}]);
      for (let i = 0; i < 4; i++) await store.createMessage(makeMessage(app.id), at(0));
      const claims = await Promise.all(
        Array.from({ length: 5 }, () => store.claimDueDeliveries({ now: at(1), limit: 3, leaseMs: 30_000 })),
      );
      const claimed = claims.flat().map((j) => j.delivery.id);
      expect(claimed).toHaveLength(12);
      expect(new Set(claimed).size).toBe(12);
    });

    it('hands out a null endpoint when the endpoint was deleted while the delivery was in flight', async () => {
      const { app, endpoints } = await seedApp();
      await store.createMessage(makeMessage(app.id), at(0));
      const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
      await store.deleteEndpoint(app.id, endpoints[0]!.id, at(2));
      await attempt(job!.delivery, { status: 'sending', nextAttemptAt: at(10) }, at(3));
      const [orphan] = await store.claimDueDeliveries({ now: at(10), limit: 1, leaseMs: 30_000 });
      expect(orphan!.endpoint).toBeNull();
      expect(orphan!.message.id).toBe(job!.message.id);
    });

    it('reports when the next delivery becomes claimable, counting leases, and null when nothing waits', async () => {
      const { app } = await seedApp();
      expect(await store.nextDueAt()).toBeNull();
      await store.createMessage(makeMessage(app.id), at(50));
      await store.createMessage(makeMessage(app.id), at(20));
      expect(await store.nextDueAt()).toEqual(at(20));
      // The one due at 20 is leased until 30 + 60 s; the one due at 50 is next.
      await store.claimDueDeliveries({ now: at(30), limit: 1, leaseMs: 60_000 });
      expect(await store.nextDueAt()).toEqual(at(50));
      await store.claimDueDeliveries({ now: at(60), limit: 1, leaseMs: 60_000 });
      expect(await store.nextDueAt()).toEqual(new Date(at(30).getTime() + 60_000));
    });
  });
}
