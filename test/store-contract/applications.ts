// The Store contract, applications: create, read by id or uid, update, list in pages, and delete
// with everything the application owns.
import { describe, expect, it } from 'vitest';

import { OPERATIONAL_APP_UID } from '../../src/domain/operational.js';
import type { Application } from '../../src/domain/types.js';
import { store, at, makeApp, makeMessage, collectPages, ids, seedApp, attempt } from './fixtures.js';

/** The application cases, registered inside runStoreContract's describe (index.ts). */
export function describeApplications(): void {
  describe('applications', () => {
    it('creates, reads by id or uid, updates and deletes an application', async () => {
      const app = makeApp({ uid: 'acme', name: 'Acme', throttleRate: 5, metadata: { plan: 'pro' } });
      expect(await store.createApplication(app)).toEqual(app);
      expect(await store.getApplication(app.id)).toEqual(app);
      expect(await store.getApplication('acme')).toEqual(app);
      expect(await store.getApplication('nope')).toBeNull();

      const updated = { ...app, uid: 'acme-2', name: 'Acme Inc', throttleRate: null, metadata: {}, updatedAt: at(60) };
      expect(await store.updateApplication(updated)).toEqual(updated);
      expect(await store.getApplication('acme')).toBeNull();
      expect(await store.getApplication('acme-2')).toEqual(updated);

      expect(await store.deleteApplication(app.id)).toBe(true);
      expect(await store.getApplication(app.id)).toBeNull();
      expect(await store.deleteApplication(app.id)).toBe(false);
    });

    it('rejects a taken uid with conflict naming the uid, on create and on update', async () => {
      await store.createApplication(makeApp({ uid: 'taken' }));
      await expect(store.createApplication(makeApp({ uid: 'taken' }))).rejects.toMatchObject({
        code: 'conflict',
        detail: expect.stringContaining("'taken'"),
      });
      const other = await store.createApplication(makeApp({ uid: 'free' }));
      await expect(store.updateApplication({ ...other, uid: 'taken' })).rejects.toMatchObject({ code: 'conflict' });
      // Applications without a uid never collide.
      await store.createApplication(makeApp());
      await store.createApplication(makeApp());
    });

    it('reports not_found when updating a missing application', async () => {
      await expect(store.updateApplication(makeApp())).rejects.toMatchObject({ code: 'not_found' });
    });

    it('returns an empty, done page when there is nothing', async () => {
      expect(await store.listApplications({ limit: 10 })).toEqual({ data: [], iterator: null, prevIterator: null, done: true });
    });

    it('leaves the reserved operational application out of the list, and finds it by uid', async () => {
      const ops = await store.createApplication(makeApp({ uid: OPERATIONAL_APP_UID, name: 'Operational', createdAt: at(1) }));
      const customer = await store.createApplication(makeApp({ uid: 'customer', createdAt: at(2) }));
      const plain = await store.createApplication(makeApp({ createdAt: at(3) }));
      expect(ids((await store.listApplications({ limit: 10 })).data)).toEqual([customer.id, plain.id]);
      expect(ids((await store.listApplications({ limit: 10, order: 'descending' })).data)).toEqual([plain.id, customer.id]);
      expect(await store.getApplication(OPERATIONAL_APP_UID)).toEqual(ops);
    });

    it('pages ascending forwards to done and back again with prevIterator', async () => {
      const apps: Application[] = [];
      for (let i = 0; i < 7; i++) apps.push(await store.createApplication(makeApp({ name: `app ${i}`, createdAt: at(i), updatedAt: at(i) })));
      const all = ids(apps);

      const first = await store.listApplications({ limit: 3 });
      expect(ids(first.data)).toEqual(all.slice(0, 3));
      expect(first.done).toBe(false);
      expect(first.iterator).toBe(all[2]);
      expect(first.prevIterator).toBe(`-${all[0]}`);

      const second = await store.listApplications({ limit: 3, iterator: first.iterator });
      expect(ids(second.data)).toEqual(all.slice(3, 6));
      expect(second.done).toBe(false);

      const third = await store.listApplications({ limit: 3, iterator: second.iterator });
      expect(ids(third.data)).toEqual(all.slice(6));
      expect(third.done).toBe(true);

      const back = await store.listApplications({ limit: 3, iterator: third.prevIterator });
      expect(ids(back.data)).toEqual(all.slice(3, 6));
      expect(back.done).toBe(false);

      const start = await store.listApplications({ limit: 3, iterator: back.prevIterator });
      expect(ids(start.data)).toEqual(all.slice(0, 3));
      expect(start.done).toBe(true);
    });

    it('pages descending when asked, with the same iterator rules', async () => {
      const apps: Application[] = [];
      for (let i = 0; i < 5; i++) apps.push(await store.createApplication(makeApp({ createdAt: at(i), updatedAt: at(i) })));
      const newestFirst = ids(apps).reverse();

      const pages = await collectPages((iterator) => store.listApplications({ limit: 2, iterator, order: 'descending' }));
      expect(pages.map(ids)).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);

      const back = await store.listApplications({ limit: 2, order: 'descending', iterator: `-${newestFirst[4]}` });
      expect(ids(back.data)).toEqual(newestFirst.slice(2, 4));
      expect(back.done).toBe(false);
    });
  });

  describe('deleting an application', () => {
    it('removes its endpoints, messages, deliveries, attempts and tokens and nothing else', async () => {
      const { app, endpoints } = await seedApp();
      const { app: survivor, endpoints: survivorEndpoints } = await seedApp();
      const { message, deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      const done = await attempt(deliveries[0]!, { status: 'success' }, at(1));
      await store.createMessage(makeMessage(app.id), at(2)); // still pending
      const kept = await store.createMessage(makeMessage(survivor.id), at(3));
      await store.createToken({ id: 'tok_a', tokenHash: 'hash-a', appId: app.id, createdAt: at(0), expiresAt: null });
      await store.createToken({ id: 'tok_s', tokenHash: 'hash-s', appId: survivor.id, createdAt: at(0), expiresAt: null });
      await store.createToken({ id: 'tok_admin', tokenHash: 'hash-admin', appId: null, createdAt: at(0), expiresAt: null });

      expect(await store.deleteApplication(app.id)).toBe(true);
      expect(await store.getEndpoint(app.id, endpoints[0]!.id)).toBeNull();
      expect(await store.getMessage(app.id, message.id)).toBeNull();
      expect(await store.getDelivery(deliveries[0]!.id)).toBeNull();
      expect(await store.getAttempt(app.id, message.id, done.id)).toBeNull();
      expect((await store.listAttempts(app.id, { limit: 10 })).data).toEqual([]);
      expect(await store.findToken('hash-a', at(0))).toBeNull();

      expect(await store.findToken('hash-s', at(0))).not.toBeNull();
      expect(await store.findToken('hash-admin', at(0))).not.toBeNull();
      expect(await store.getEndpoint(survivor.id, survivorEndpoints[0]!.id)).not.toBeNull();
      const jobs = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 1000 });
      expect(jobs.map((j) => j.delivery.id)).toEqual([kept.deliveries[0]!.id]);
    });
  });
}
