// The Store contract, statistics over every application: usage per application in a window
// (application.stats), the event-type filters of each application's endpoints
// (event-type.aggregate), tasks that belong to no application, and progress saved only by the
// lease holder of a running task.
import { describe, expect, it } from 'vitest';

import type { BackgroundTask } from '../../src/domain/background-tasks.js';
import { newId } from '../../src/domain/ids.js';
import type { Delivery } from '../../src/domain/types.js';
import { T0, at, attempt, makeApp, makeEndpoint, makeEventType, makeMessage, store } from './fixtures.js';

const LEASE_MS = 30_000;

/** A running statistics task of no application, created at `now`, leased to `owner` unless null. */
async function statsTask(now: Date, owner: string | null = 'runner_a'): Promise<BackgroundTask> {
  const task: BackgroundTask = {
    id: newId('qtask', now.getTime()),
    appId: null,
    task: 'event-type.aggregate',
    status: 'running',
    data: { event_types: [], batches: 0 },
    cursor: null,
    createdAt: now,
    updatedAt: now,
  };
  return store.createBackgroundTask(task, owner ? { owner, until: new Date(now.getTime() + LEASE_MS) } : null);
}

/** The statistics cases, registered inside runStoreContract's describe (index.ts). */
export function describeStatistics(): void {
  describe('statistics over every application', () => {
    it('counts each application’s messages, distinct message destinations and attempts in the window, by application id, after a cursor', async () => {
      const [a, b, c] = await Promise.all([0, 1, 2].map((i) => store.createApplication(makeApp({ createdAt: at(i), uid: i === 0 ? 'app-a' : null }))));
      const [ea1, ea2] = [await store.createEndpoint(makeEndpoint(a!.id)), await store.createEndpoint(makeEndpoint(a!.id, { createdAt: at(1) }))];
      const eb = await store.createEndpoint(makeEndpoint(b!.id));
      const send = async (appId: string, seconds: number) => store.createMessage(makeMessage(appId, { createdAt: at(seconds) }), at(seconds));
      const to = (deliveries: Delivery[], endpointId: string) => deliveries.find((d) => d.endpointId === endpointId)!;

      const early = await send(a!.id, 10); // before the window [100, 200)
      await attempt(to(early.deliveries, ea1!.id), { status: 'success' }, at(150)); // …but attempted inside it
      const m1 = await send(a!.id, 100);
      await attempt(to(m1.deliveries, ea1!.id), { status: 'sending', nextAttemptAt: at(120) }, at(101));
      await attempt(to(m1.deliveries, ea1!.id), { status: 'success' }, at(121));
      await attempt(to(m1.deliveries, ea2!.id), { status: 'success' }, at(102));
      // A resend adds a delivery to a pair that has one: still one destination.
      const resent = await store.createManualDelivery({ deliveryId: newId('msgep', at(130).getTime()), appId: a!.id, msgId: m1.message.id, endpointId: ea2!.id, now: at(130) });
      await attempt(resent, { status: 'success' }, at(131));
      await send(a!.id, 199);
      await send(a!.id, 200); // at the window's end: outside
      const mb = await send(b!.id, 150);
      await attempt(to(mb.deliveries, eb.id), { status: 'fail' }, at(250)); // attempted after the window
      expect(eb.appId).toBe(b!.id);

      const window = { since: at(100), until: at(200) };
      const all = await store.countApplicationUsage({ afterAppId: null, appIds: null, ...window, limit: 10 });
      expect(all).toEqual([
        { appId: a!.id, appUid: 'app-a', messages: 2, messageDestinations: 4, attempts: 5 },
        { appId: b!.id, appUid: null, messages: 1, messageDestinations: 1, attempts: 0 },
        { appId: c!.id, appUid: null, messages: 0, messageDestinations: 0, attempts: 0 },
      ]);
      expect(await store.countApplicationUsage({ afterAppId: null, appIds: null, ...window, limit: 2 })).toEqual(all.slice(0, 2));
      expect(await store.countApplicationUsage({ afterAppId: b!.id, appIds: null, ...window, limit: 2 })).toEqual(all.slice(2));
      expect(await store.countApplicationUsage({ afterAppId: null, appIds: [c!.id, a!.id], ...window, limit: 10 })).toEqual([all[0], all[2]]);
      expect(await store.countApplicationUsage({ afterAppId: a!.id, appIds: [c!.id, a!.id], ...window, limit: 10 })).toEqual([all[2]]);
      expect(await store.countApplicationUsage({ afterAppId: null, appIds: [], ...window, limit: 10 })).toEqual([]);
    });

    it('lists the event-type filters of each application’s live endpoints, applications without endpoints included', async () => {
      const [a, b, c] = await Promise.all([0, 1, 2].map((i) => store.createApplication(makeApp({ createdAt: at(i) }))));
      await store.createEndpoint(makeEndpoint(a!.id, { eventTypes: ['x.y', 'a.b'] }));
      await store.createEndpoint(makeEndpoint(a!.id, { createdAt: at(1), eventTypes: null, disabled: true }));
      const gone = await store.createEndpoint(makeEndpoint(c!.id, { eventTypes: ['z.z'] }));
      expect(await store.deleteEndpoint(c!.id, gone.id, at(5))).toBe(true);

      const all = await store.listApplicationEndpointFilters({ afterAppId: null, limit: 10 });
      expect(all).toEqual([
        { appId: a!.id, filters: [['x.y', 'a.b'], null] },
        { appId: b!.id, filters: [] },
        { appId: c!.id, filters: [] },
      ]);
      expect(await store.listApplicationEndpointFilters({ afterAppId: null, limit: 1 })).toEqual(all.slice(0, 1));
      expect(await store.listApplicationEndpointFilters({ afterAppId: a!.id, limit: 5 })).toEqual(all.slice(1));
    });

    it('stores a task of no application, which application filters leave out, and claims it like any other', async () => {
      const app = await store.createApplication(makeApp());
      const task = await statsTask(at(0), null);
      expect(task.appId).toBeNull();
      expect(await store.getBackgroundTask(task.id)).toEqual(task);
      expect((await store.listBackgroundTasks({ limit: 10 })).data).toEqual([task]);
      expect((await store.listBackgroundTasks({ limit: 10, appId: app.id })).data).toEqual([]);
      expect((await store.listBackgroundTasks({ limit: 10, task: 'event-type.aggregate' })).data).toEqual([task]);
      expect(await store.claimBackgroundTasks({ now: at(1), leaseOwner: 'runner_b', leaseMs: LEASE_MS, limit: 10 })).toEqual([task]);
      // Deleting an application leaves it alone.
      expect(await store.deleteApplication(app.id)).toBe(true);
      expect(await store.getBackgroundTask(task.id)).toEqual(task);
    });

    it('saves progress only for the lease holder of a running task, renewing the lease, and frees it when the task ends', async () => {
      const task = await statsTask(at(0));
      const step = { ...task, data: { event_types: [{ appId: 'app_x' }], batches: 1 }, cursor: 'app_x', updatedAt: at(1) };
      expect(await store.saveBackgroundTaskProgress({ task: step, leaseOwner: 'runner_b', now: at(1), leaseMs: LEASE_MS })).toBeNull();
      expect(await store.getBackgroundTask(task.id)).toEqual(task);

      expect(await store.saveBackgroundTaskProgress({ task: step, leaseOwner: 'runner_a', now: at(1), leaseMs: LEASE_MS })).toEqual(step);
      expect(await store.getBackgroundTask(task.id)).toEqual(step);
      // The lease was renewed to at(31): nobody may claim it at at(30)…
      expect(await store.claimBackgroundTasks({ now: at(30), leaseOwner: 'runner_b', leaseMs: LEASE_MS, limit: 10 })).toEqual([]);

      const done = { ...step, status: 'finished' as const, data: { ...step.data, batches: 2 }, updatedAt: at(2) };
      expect(await store.saveBackgroundTaskProgress({ task: done, leaseOwner: 'runner_a', now: at(2), leaseMs: LEASE_MS })).toEqual(done);
      // …and a finished task is neither claimed nor saved again.
      expect(await store.claimBackgroundTasks({ now: at(100), leaseOwner: 'runner_b', leaseMs: LEASE_MS, limit: 10 })).toEqual([]);
      expect(await store.saveBackgroundTaskProgress({ task: { ...done, status: 'running' }, leaseOwner: 'runner_a', now: at(3), leaseMs: LEASE_MS })).toBeNull();
      expect(await store.getBackgroundTask(task.id)).toEqual(done);
      expect(T0).toBe(at(0).getTime());
    });

    it('saves several event types in one call, inserting new ones and replacing existing ones (keeping their creation time)', async () => {
      const existing = await store.createEventType(makeEventType('a.one', { description: 'old', createdAt: at(0), updatedAt: at(0) }));
      const replaced = { ...existing, description: 'new', archived: true, schemas: { '1': { type: 'object' } }, featureFlags: ['beta', 'gamma'], groupName: 'billing', createdAt: at(50), updatedAt: at(60) };
      const added = makeEventType('b.two', { deprecated: true, createdAt: at(60), updatedAt: at(60) });
      await store.saveEventTypes([replaced, added]);
      expect(await store.getEventType('a.one')).toEqual({ ...replaced, createdAt: at(0) });
      expect(await store.getEventType('b.two')).toEqual(added);
      await store.saveEventTypes([]);
      expect((await store.listEventTypes({ limit: 10, includeArchived: true })).data.map((t) => t.name)).toEqual(['a.one', 'b.two']);
    });
  });
}
