// The Store contract, endpoint limits: concurrency limits and throttle rates hold across claimers,
// and a busy endpoint's backlog never blocks the others.
import { describe, expect, it } from 'vitest';

import type { Delivery, Endpoint } from '../../src/domain/types.js';
import type { ClaimDeliveriesInput, DeliveryJob } from '../../src/storage/store.js';
import { store, T0, at, makeApp, makeEndpoint, makeMessage, seedApp, attempt } from './fixtures.js';

/** The endpoint-limit cases, registered inside runStoreContract's describe (index.ts). */
export function describeEndpointLimits(): void {
  describe('endpoint limits', () => {
    /** One message per time in `dueAt` (ms after T0), queued for the given endpoints only. */
    async function queueTo(appId: string, endpointIds: string[], dueAt: number[]): Promise<Delivery[]> {
      const queued: Delivery[] = [];
      for (const ms of dueAt) {
        const now = new Date(T0 + ms);
        queued.push(...(await store.createMessage(makeMessage(appId, { createdAt: now }), now, { endpointIds })).deliveries);
      }
      return queued;
    }
    const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
    const claim = (now: Date, limit: number, more: Partial<ClaimDeliveriesInput> = {}): Promise<DeliveryJob[]> =>
      store.claimDueDeliveries({ now, limit, leaseMs: 60_000, ...more });
    const claimedIds = (jobs: DeliveryJob[]): string[] => jobs.map((job) => job.delivery.id);
    const perEndpoint = (jobs: DeliveryJob[]): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const job of jobs) counts[job.delivery.endpointId] = (counts[job.delivery.endpointId] ?? 0) + 1;
      return counts;
    };

    it('stores an endpoint’s own concurrency limit; without one it follows the server default', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 3 }, {}]);
      const [limited, unlimited] = endpoints as [Endpoint, Endpoint];
      expect(await store.getEndpoint(app.id, limited.id)).toMatchObject({ concurrencyLimit: 3 });
      expect(await store.getEndpoint(app.id, unlimited.id)).not.toHaveProperty('concurrencyLimit');
      expect(await store.updateEndpoint({ ...unlimited, concurrencyLimit: 7 })).toMatchObject({ concurrencyLimit: 7 });
      const { concurrencyLimit: _, ...rest } = limited;
      expect(await store.updateEndpoint(rest)).not.toHaveProperty('concurrencyLimit');
    });

    it('leases at most an endpoint’s limit, oldest first, and parks the rest keeping their due time', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 2 }]);
      const queued = await queueTo(app.id, [endpoints[0]!.id], range(0, 5));
      const first = await claim(at(10), 10);
      expect(claimedIds(first)).toEqual([queued[0]!.id, queued[1]!.id]);
      expect(await claim(at(11), 10)).toEqual([]);
      // Waiting behind the limit is still due, and reads so.
      expect(await store.getDelivery(queued[2]!.id)).toMatchObject({ status: 'pending', nextAttemptAt: queued[2]!.nextAttemptAt, lockedUntil: null });
      expect(await store.queueSnapshot(at(11))).toMatchObject({ pending: 3, due: 3, oldestDueAt: queued[2]!.nextAttemptAt });
      // An attempt ends: the free slot goes to the oldest waiting delivery.
      await attempt(first[0]!.delivery, { status: 'success' }, at(12));
      expect(claimedIds(await claim(at(12), 10))).toEqual([queued[2]!.id]);
      // A lease that runs out (its worker died) frees its slot too, and its delivery is due again first.
      expect(claimedIds(await claim(at(70), 10))).toEqual([queued[1]!.id]);
      expect((await claim(at(70), 10)).length).toBe(0);
    });

    it('applies the default limit to endpoints without their own, and none when there is no default', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 3 }, {}]);
      const [own, byDefault] = endpoints as [Endpoint, Endpoint];
      await queueTo(app.id, [own.id, byDefault.id], range(0, 5));
      expect(perEndpoint(await claim(at(10), 20, { endpointConcurrency: 1 }))).toEqual({ [own.id]: 3, [byDefault.id]: 1 });
      expect(perEndpoint(await claim(at(11), 20))).toEqual({ [byDefault.id]: 4 });
    });

    it('reaches other endpoints past the backlog of one at its limit, in one claim', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 1 }, {}]);
      const [blocked, healthy] = endpoints as [Endpoint, Endpoint];
      const backlog = await queueTo(app.id, [blocked.id], range(0, 300));
      const fresh = await queueTo(app.id, [healthy.id], range(1000, 3));
      const jobs = await claim(at(10), 4);
      expect(claimedIds(jobs)).toEqual([backlog[0]!.id, ...fresh.map((d) => d.id)]);
      // Nothing more until the blocked endpoint's attempt ends; then its oldest waiting one.
      expect(await claim(at(11), 4)).toEqual([]);
      await attempt(jobs[0]!.delivery, { status: 'sending', nextAttemptAt: at(500) }, at(12));
      expect(claimedIds(await claim(at(12), 4))).toEqual([backlog[1]!.id]);
    });

    it('takes per-endpoint lease budgets in place of the limits, and gives leases back or renews them only while they are unchanged', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 1 }, {}]);
      const [own, plain] = endpoints as [Endpoint, Endpoint];
      await queueTo(app.id, [own.id, plain.id], range(0, 5));
      const jobs = await claim(at(10), 20, { endpointConcurrency: 1, endpointBudgets: { [own.id]: 3, [plain.id]: 2 } });
      expect(perEndpoint(jobs)).toEqual({ [own.id]: 3, [plain.id]: 2 });
      const [a, b] = jobs as [DeliveryJob, DeliveryJob];
      const lease = (job: DeliveryJob) => ({ id: job.delivery.id, lockedUntil: job.delivery.lockedUntil! });
      // Renewed: the new lease holds; a lease given with a stale end is not touched.
      expect(await store.renewLeases({ leases: [lease(a)], lockedUntil: at(200_000) })).toEqual([a.delivery.id]);
      expect(await store.renewLeases({ leases: [lease(a)], lockedUntil: at(300_000) })).toEqual([]);
      expect(await store.getDelivery(a.delivery.id)).toMatchObject({ lockedUntil: at(200_000) });
      // Given back: claimable at once.
      expect(await store.renewLeases({ leases: [lease(b)], lockedUntil: null })).toEqual([b.delivery.id]);
      expect(claimedIds(await claim(at(11), 20, { endpointConcurrency: 1, endpointBudgets: { [own.id]: 3, [plain.id]: 2 } }))).toEqual([b.delivery.id]);
    });

    it('passes over the due work of a full application without parking it, and reaches another application behind it', async () => {
      const busy = await seedApp([{}, {}]);
      const other = await seedApp([{}]);
      const backlog = await queueTo(busy.app.id, busy.endpoints.map((e) => e.id), range(0, 200));
      const fresh = await queueTo(other.app.id, [other.endpoints[0]!.id], [5_000]);
      const jobs = await claim(at(10_000), 10, { endpointConcurrency: 100, fullApplications: [busy.app.id] });
      expect(claimedIds(jobs)).toEqual([fresh[0]!.id]);
      // The busy application's deliveries are still due where they were, not parked.
      expect(await store.getDelivery(backlog[0]!.id)).toMatchObject({ nextAttemptAt: backlog[0]!.nextAttemptAt, lockedUntil: null });
      expect(await store.queueSnapshot(at(10_000))).toMatchObject({ due: 400 });
      // Once it is not full, its oldest go first.
      expect(claimedIds(await claim(at(10_001), 2, { endpointConcurrency: 100 }))).toEqual([backlog[0]!.id, backlog[1]!.id]);
    });

    it('starts a throttled endpoint’s attempts no faster than its rate, after a burst of 100 ms worth', async () => {
      // 20 per second: one every 50 ms, two at once.
      const { app, endpoints } = await seedApp([{ throttleRate: 20 }]);
      await queueTo(app.id, [endpoints[0]!.id], range(0, 10));
      const t = at(1).getTime();
      const claimAt = async (ms: number): Promise<number> => (await claim(new Date(t + ms), 10)).length;
      expect(await claimAt(0)).toBe(2);
      expect(await claimAt(49)).toBe(0);
      expect(await store.nextDueAt({ now: new Date(t + 49) })).toEqual(new Date(t + 50));
      expect(await claimAt(50)).toBe(1);
      expect(await claimAt(60)).toBe(0);
      expect(await claimAt(100)).toBe(1);
      // After a pause, a burst again (never more).
      expect(await claimAt(5000)).toBe(2);
      expect(await claimAt(5000)).toBe(0);
    });

    it('starts a throttled application’s attempts no faster than its rate, across its endpoints and across claimers', async () => {
      // 20 per second for the application: one every 50 ms, two at once, whichever endpoint.
      const app = await store.createApplication(makeApp({ throttleRate: 20 }));
      const endpoints = [await store.createEndpoint(makeEndpoint(app.id)), await store.createEndpoint(makeEndpoint(app.id))];
      const other = await seedApp([{}]);
      await queueTo(app.id, endpoints.map((e) => e.id), range(0, 10));
      await queueTo(other.app.id, [other.endpoints[0]!.id], range(0, 3));
      const t = at(1).getTime();
      const claimAt = async (ms: number, more: Partial<ClaimDeliveriesInput> = {}): Promise<Record<string, number>> => {
        const counts: Record<string, number> = {};
        for (const job of await claim(new Date(t + ms), 30, more)) counts[job.delivery.appId] = (counts[job.delivery.appId] ?? 0) + 1;
        return counts;
      };
      // The other application is not held back by it.
      expect(await claimAt(0)).toEqual({ [app.id]: 2, [other.app.id]: 3 });
      expect(await claimAt(49)).toEqual({});
      expect(await store.nextDueAt({ now: new Date(t + 49) })).toEqual(new Date(t + 50));
      expect(await claimAt(50)).toEqual({ [app.id]: 1 });
      // Two claimers at once share the one allowance.
      const [a, b] = await Promise.all([claimAt(100), claimAt(100)]);
      expect((a[app.id] ?? 0) + (b[app.id] ?? 0)).toBe(1);
      // After a pause, a burst again (never more), and an accept offered to a worker is not handed off past it.
      expect(await claimAt(5_000)).toEqual({ [app.id]: 2 });
      const handed = await store.createMessage(makeMessage(app.id, { createdAt: at(6) }), at(6), {
        handoff: { lockedUntil: at(100), limit: 10, endpointConcurrency: 10 },
      });
      expect(handed.handedOff).toEqual([]);
    });

    it('reports when an endpoint at its limit can take its next waiting delivery', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 1 }]);
      const queued = await queueTo(app.id, [endpoints[0]!.id], range(0, 3));
      const [job] = await claim(at(10), 10);
      // Its slot frees at the latest when the lease ends; without a time, the parked ones count as due.
      expect(await store.nextDueAt({ now: at(10) })).toEqual(new Date(at(10).getTime() + 60_000));
      expect(await store.nextDueAt()).toEqual(queued[1]!.nextAttemptAt);
      // Once its attempt ends, the oldest waiting one is due at once.
      await attempt(job!.delivery, { status: 'success' }, at(11));
      expect(await store.nextDueAt({ now: at(11) })).toEqual(queued[1]!.nextAttemptAt);
    });

    it('takes at most maxRetries retries, so first attempts due later still get slots', async () => {
      const { app, endpoints } = await seedApp([{}]);
      await queueTo(app.id, [endpoints[0]!.id], range(0, 6));
      for (const job of await claim(at(1), 10)) await attempt(job.delivery, { status: 'sending', nextAttemptAt: at(2) }, at(1));
      const fresh = await queueTo(app.id, [endpoints[0]!.id], range(3000, 2));
      const jobs = await claim(at(5), 4, { maxRetries: 1 });
      expect(jobs.map((j) => j.delivery.attemptCount)).toEqual([1, 0, 0]);
      expect(claimedIds(jobs).slice(1)).toEqual(fresh.map((d) => d.id));
      expect(await claim(at(5), 4, { maxRetries: 0 })).toEqual([]);
      expect(await claim(at(5), 10)).toHaveLength(5);
    });

    it('never leases more than an endpoint’s limit to concurrent claimers', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 3 }, { concurrencyLimit: 2 }, {}]);
      const [three, two, free] = endpoints as [Endpoint, Endpoint, Endpoint];
      await queueTo(app.id, endpoints.map((e) => e.id), range(0, 10));
      const claims = await Promise.all(Array.from({ length: 8 }, () => claim(at(10), 4, { endpointConcurrency: null })));
      const all = claims.flat();
      expect(new Set(claimedIds(all)).size).toBe(all.length);
      const counts = perEndpoint(all);
      expect(counts[three.id] ?? 0).toBeLessThanOrEqual(3);
      expect(counts[two.id] ?? 0).toBeLessThanOrEqual(2);
      // A later claim tops each limited endpoint up to exactly its limit, never past it.
      const after = perEndpoint([...all, ...(await claim(at(11), 40))]);
      expect(after).toEqual({ [three.id]: 3, [two.id]: 2, [free.id]: 10 });
    });
  });
}
