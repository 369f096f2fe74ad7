// The Store contract, stats: an endpoint's delivery counts, and the operator health the dashboard
// shows (attempts over time, unhealthy and slowest endpoints).
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Delivery, Endpoint } from '../../src/domain/types.js';
import { store, at, makeMessage, makeAttempt, ids, seedApp, attempt } from './fixtures.js';

/** The stats cases, registered inside runStoreContract's describe (index.ts). */
export function describeStats(): void {
  describe('endpoint stats', () => {
    it('counts an endpoint’s latest delivery per message by status for messages created in [since, until)', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const [endpoint, otherEndpoint] = endpoints as [Endpoint, Endpoint];
      const deliveryTo = (deliveries: Delivery[], target: Endpoint): Delivery => deliveries.find((d) => d.endpointId === target.id)!;

      const m1 = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
      await attempt(deliveryTo(m1.deliveries, endpoint), { status: 'success' }, at(1));
      const m2 = await store.createMessage(makeMessage(app.id, { createdAt: at(2) }), at(2));
      await attempt(deliveryTo(m2.deliveries, endpoint), { status: 'fail' }, at(3));
      const m3 = await store.createMessage(makeMessage(app.id, { createdAt: at(4) }), at(4));
      await attempt(deliveryTo(m3.deliveries, endpoint), { status: 'fail' }, at(5));
      await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: m3.message.id, endpointId: endpoint.id, now: at(6) });
      const m4 = await store.createMessage(makeMessage(app.id, { createdAt: at(7) }), at(7));
      await attempt(deliveryTo(m4.deliveries, endpoint), { status: 'sending', nextAttemptAt: at(100) }, at(8));
      await store.createMessage(makeMessage(app.id, { createdAt: at(9) }), at(9)); // pending
      const m5 = await store.createMessage(makeMessage(app.id, { createdAt: at(10) }), at(10));
      await attempt(deliveryTo(m5.deliveries, endpoint), { status: 'canceled' }, at(11));
      await store.createMessage(makeMessage(app.id, { createdAt: at(50) }), at(50)); // outside the window

      expect(await store.getEndpointStats(app.id, endpoint.id, at(0), at(50))).toEqual({ success: 1, pending: 2, sending: 1, fail: 1, canceled: 1 });
      expect(await store.getEndpointStats(app.id, otherEndpoint.id, at(0), at(50))).toEqual({ success: 0, pending: 6, sending: 0, fail: 0, canceled: 0 });
      expect(await store.getEndpointStats(app.id, endpoint.id, at(1), at(3))).toEqual({ success: 0, pending: 0, sending: 0, fail: 1, canceled: 0 });
      // Deleting the other endpoint cancels what still waited for it.
      await store.deleteEndpoint(app.id, otherEndpoint.id, at(60));
      expect(await store.getEndpointStats(app.id, otherEndpoint.id, at(0), at(50))).toMatchObject({ pending: 0, canceled: 6 });
    });
  });

  describe('operator health (dashboard)', () => {
    it('counts attempts by outcome per time bucket, for the server, one application and one endpoint', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const [a, b] = endpoints as [Endpoint, Endpoint];
      const { app: other } = await seedApp();
      const m1 = await store.createMessage(makeMessage(app.id), at(0));
      await attempt(m1.deliveries.find((d) => d.endpointId === a.id)!, { status: 'success' }, at(10));
      await attempt(m1.deliveries.find((d) => d.endpointId === b.id)!, { status: 'sending', nextAttemptAt: at(500) }, at(20));
      const m2 = await store.createMessage(makeMessage(other.id), at(50));
      await attempt(m2.deliveries[0]!, { status: 'success' }, at(70));
      const m3 = await store.createMessage(makeMessage(app.id), at(100));
      await attempt(m3.deliveries.find((d) => d.endpointId === a.id)!, { status: 'fail' }, at(130));
      await attempt(m3.deliveries.find((d) => d.endpointId === b.id)!, { status: 'success' }, at(200)); // after the window

      const window = { since: at(0), until: at(180), bucketMs: 60_000 };
      expect(await store.countAttemptsOverTime(window)).toEqual([
        { index: 0, success: 1, fail: 1 },
        { index: 1, success: 1, fail: 0 },
        { index: 2, success: 0, fail: 1 },
      ]);
      expect(await store.countAttemptsOverTime({ ...window, appId: app.id })).toEqual([
        { index: 0, success: 1, fail: 1 },
        { index: 2, success: 0, fail: 1 },
      ]);
      expect(await store.countAttemptsOverTime({ ...window, appId: app.id, endpointId: a.id })).toEqual([
        { index: 0, success: 1, fail: 0 },
        { index: 2, success: 0, fail: 1 },
      ]);
      // The window's start is inclusive, its end exclusive; buckets count from the start.
      expect(await store.countAttemptsOverTime({ since: at(20), until: at(130), bucketMs: 3_600_000, appId: app.id })).toEqual([{ index: 0, success: 0, fail: 1 }]);
      expect(await store.countAttemptsOverTime({ since: at(1000), until: at(2000), bucketMs: 60_000 })).toEqual([]);
    });

    it('lists live endpoints failing now (longest first) and disabled ones (latest first), up to a limit', async () => {
      const { app, endpoints } = await seedApp([{}, {}, {}, {}, {}, { disabled: true }]);
      const [healthy, failingLong, failingShort, recovered, gone, disabledEarly] = endpoints as Endpoint[];
      const fail = async (endpoint: Endpoint, seconds: number, health: 'success' | 'failure') => {
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(seconds), { endpointIds: [endpoint!.id] });
        const record = makeAttempt(deliveries[0]!, { timestamp: at(seconds), status: health === 'success' ? 'success' : 'fail' });
        await store.completeAttempt({ attempt: record, outcome: { status: health === 'success' ? 'success' : 'fail' }, disableEndpoint: false, now: at(seconds), health });
      };
      await fail(healthy!, 1, 'success');
      await fail(failingShort!, 30, 'failure');
      await fail(failingLong!, 10, 'failure');
      await fail(failingLong!, 40, 'failure');
      await fail(recovered!, 5, 'failure');
      await fail(recovered!, 50, 'success');
      await fail(gone!, 3, 'failure');
      expect(await store.deleteEndpoint(app.id, gone!.id, at(60))).toBe(true);
      const disabledLate = await store.updateEndpoint({ ...(await store.getEndpoint(app.id, failingShort!.id))!, disabled: true, updatedAt: at(70) });

      const { failing, disabled } = await store.listUnhealthyEndpoints(10);
      expect(ids(failing)).toEqual([failingLong!.id]);
      expect(failing[0]!.failingSince).toEqual(at(10));
      expect(ids(disabled)).toEqual([disabledLate.id, disabledEarly!.id]);
      expect(ids((await store.listUnhealthyEndpoints(1)).disabled)).toEqual([disabledLate.id]);
    });

    it('ranks endpoints by average attempt duration in a window, slowest first', async () => {
      const { app, endpoints } = await seedApp([{}, {}, {}]);
      const [a, b, c] = endpoints as [Endpoint, Endpoint, Endpoint];
      const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      const to = (endpoint: Endpoint) => deliveries.find((d) => d.endpointId === endpoint.id)!;
      await attempt(to(a), { status: 'sending', nextAttemptAt: at(20) }, at(10), { responseDurationMs: 100 });
      await attempt(to(a), { status: 'success' }, at(20), { responseDurationMs: 300 });
      await attempt(to(b), { status: 'fail' }, at(30), { responseDurationMs: 500 });
      await attempt(to(c), { status: 'success' }, at(100), { responseDurationMs: 9000 }); // outside

      expect(await store.listSlowestEndpoints({ since: at(0), until: at(60), limit: 10 })).toEqual([
        { endpointId: b.id, appId: app.id, attempts: 1, avgDurationMs: 500, maxDurationMs: 500 },
        { endpointId: a.id, appId: app.id, attempts: 2, avgDurationMs: 200, maxDurationMs: 300 },
      ]);
      expect((await store.listSlowestEndpoints({ since: at(0), until: at(60), limit: 1 })).map((e) => e.endpointId)).toEqual([b.id]);
      expect(await store.listSlowestEndpoints({ since: at(1000), until: at(2000), limit: 10 })).toEqual([]);
    });
  });
}
