// The Store contract, endpoints: every field round-trips, uids are unique per application, and a
// soft delete hides the endpoint and fails its open deliveries.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Endpoint } from '../../src/domain/types.js';
import { store, at, makeApp, makeEndpoint, makeMessage, collectPages, ids, seedApp } from './fixtures.js';

/** The endpoint cases, registered inside runStoreContract's describe (index.ts). */
export function describeEndpoints(): void {
  describe('endpoints', () => {
    it('creates, reads by id or uid within the application, updates and round-trips every field', async () => {
      const { app } = await seedApp([]);
      const other = await store.createApplication(makeApp());
      const endpoint = makeEndpoint(app.id, {
        uid: 'billing',
        description: 'Billing hook',
        eventTypes: ['invoice.paid', 'invoice.failed'],
        channels: ['eu'],
        throttleRate: 10,
        version: 2,
        metadata: { team: 'billing' },
        oldSecrets: [{ secret: 'whsec_old', expiresAt: at(3600) }],
        headers: { 'X-Team': 'billing' },
      });
      expect(await store.createEndpoint(endpoint)).toEqual(endpoint);
      expect(await store.getEndpoint(app.id, endpoint.id)).toEqual(endpoint);
      expect(await store.getEndpoint(app.id, 'billing')).toEqual(endpoint);
      expect(await store.getEndpoint(other.id, endpoint.id)).toBeNull();
      expect(await store.getEndpoint(other.id, 'billing')).toBeNull();

      const updated: Endpoint = {
        ...endpoint,
        uid: null,
        url: 'https://receiver.example/v2',
        disabled: true,
        eventTypes: null,
        channels: null,
        oldSecrets: [],
        secret: 'whsec_new',
        headers: {},
        updatedAt: at(60),
      };
      expect(await store.updateEndpoint(updated)).toEqual(updated);
      expect(await store.getEndpoint(app.id, endpoint.id)).toEqual(updated);
      expect(await store.getEndpoint(app.id, 'billing')).toBeNull();
    });

    it('sets, switches and removes a transformation without touching the rest, keeps it across updates, and hands it to claims', async () => {
      const { app, endpoints } = await seedApp([{ headers: { 'X-Keep': '1' } }]);
      const endpoint = endpoints[0]!;
      expect(endpoint.transformation).toBeUndefined();
      const code = 'function handler(webhook) { return webhook; }';
      const set = await store.setEndpointTransformation({ appId: app.id, endpointId: endpoint.id, code, enabled: true, now: at(5) });
      expect(set).toEqual({ ...endpoint, transformation: { code, enabled: true, updatedAt: at(5) } });
      expect(await store.getEndpoint(app.id, endpoint.id)).toEqual(set);
      // An update of the other fields keeps it (updateEndpoint never writes it).
      const updated = await store.updateEndpoint({ ...endpoint, description: 'changed', updatedAt: at(6) });
      expect(updated.transformation).toEqual({ code, enabled: true, updatedAt: at(5) });
      const jobs = await store.claimDueDeliveries({ now: at(20), limit: 10, leaseMs: 30_000 });
      expect(jobs).toEqual([]);
      await store.createMessage(makeMessage(app.id, { createdAt: at(7) }), at(7));
      const [job] = await store.claimDueDeliveries({ now: at(20), limit: 10, leaseMs: 30_000 });
      expect(job!.endpoint!.transformation).toEqual({ code, enabled: true, updatedAt: at(5) });

      const off = await store.setEndpointTransformation({ appId: app.id, endpointId: endpoint.id, code, enabled: false, now: at(8) });
      expect(off!.transformation).toEqual({ code, enabled: false, updatedAt: at(8) });
      const removed = await store.setEndpointTransformation({ appId: app.id, endpointId: endpoint.id, code: null, enabled: false, now: at(9) });
      expect(removed!.transformation).toBeUndefined();
      expect(removed!.headers).toEqual({ 'X-Keep': '1' });

      const other = await store.createApplication(makeApp());
      expect(await store.setEndpointTransformation({ appId: other.id, endpointId: endpoint.id, code, enabled: true, now: at(10) })).toBeNull();
      await store.deleteEndpoint(app.id, endpoint.id, at(11));
      expect(await store.setEndpointTransformation({ appId: app.id, endpointId: endpoint.id, code, enabled: true, now: at(12) })).toBeNull();
    });

    it('rejects a uid taken in the same application but allows it in another', async () => {
      const { app } = await seedApp([{ uid: 'hook' }]);
      await expect(store.createEndpoint(makeEndpoint(app.id, { uid: 'hook' }))).rejects.toMatchObject({
        code: 'conflict',
        detail: expect.stringContaining("'hook'"),
      });
      const second = await store.createEndpoint(makeEndpoint(app.id, { uid: 'other' }));
      await expect(store.updateEndpoint({ ...second, uid: 'hook' })).rejects.toMatchObject({ code: 'conflict' });
      const other = await store.createApplication(makeApp());
      await store.createEndpoint(makeEndpoint(other.id, { uid: 'hook' }));
    });

    it('reports not_found for an endpoint of a missing application', async () => {
      await expect(store.createEndpoint(makeEndpoint(newId('app')))).rejects.toMatchObject({ code: 'not_found' });
    });

    it('soft-deletes: hides the endpoint, frees its uid and cancels its open deliveries', async () => {
      const { app, endpoints } = await seedApp([{ uid: 'hook' }, {}]);
      const [gone, kept] = endpoints as [Endpoint, Endpoint];
      const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      expect(deliveries).toHaveLength(2);

      expect(await store.deleteEndpoint(app.id, gone.id, at(10))).toBe(true);
      expect(await store.getEndpoint(app.id, gone.id)).toBeNull();
      expect(await store.getEndpoint(app.id, 'hook')).toBeNull();
      expect(ids((await store.listEndpoints(app.id, { limit: 10 })).data)).toEqual([kept.id]);
      expect(await store.deleteEndpoint(app.id, gone.id, at(11))).toBe(false);

      const canceled = deliveries.find((d) => d.endpointId === gone.id)!;
      expect(await store.getDelivery(canceled.id)).toMatchObject({ status: 'canceled', nextAttemptAt: null, lockedUntil: null });
      const untouched = deliveries.find((d) => d.endpointId === kept.id)!;
      expect(await store.getDelivery(untouched.id)).toMatchObject({ status: 'pending' });

      // The uid is free again.
      await store.createEndpoint(makeEndpoint(app.id, { uid: 'hook' }));
    });

    it('does not delete an endpoint through another application', async () => {
      const { endpoints } = await seedApp();
      const other = await store.createApplication(makeApp());
      expect(await store.deleteEndpoint(other.id, endpoints[0]!.id, at(1))).toBe(false);
    });

    it('lists newest first by default and pages both ways', async () => {
      const { app } = await seedApp([]);
      const created: Endpoint[] = [];
      for (let i = 0; i < 5; i++) created.push(await store.createEndpoint(makeEndpoint(app.id, { createdAt: at(i), updatedAt: at(i) })));
      const newestFirst = ids(created).reverse();
      const pages = await collectPages((iterator) => store.listEndpoints(app.id, { limit: 2, iterator }));
      expect(pages.map(ids)).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
      const ascending = await store.listEndpoints(app.id, { limit: 10, order: 'ascending' });
      expect(ids(ascending.data)).toEqual(ids(created));
      const back = await store.listEndpoints(app.id, { limit: 2, iterator: `-${newestFirst[4]}` });
      expect(ids(back.data)).toEqual(newestFirst.slice(2, 4));
    });
  });
}
