// The Store contract, attempts and destinations: the attempt list and its filters, and the latest
// delivery per destination of a message and per message of an endpoint.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Endpoint } from '../../src/domain/types.js';
import type { Store } from '../../src/storage/store.js';
import { store, at, makeApp, makeMessage, collectPages, ids, seedApp, attempt } from './fixtures.js';

/** The attempt and destination cases, registered inside runStoreContract's describe (index.ts). */
export function describeAttempts(): void {
  describe('attempts and destinations', () => {
    it('lists attempts newest first, filtered by status, endpoint, message and status-code class', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const [a, b] = endpoints as [Endpoint, Endpoint];
      const { message, deliveries } = await store.createMessage(makeMessage(app.id, { channels: ['eu'] }), at(0));
      const toA = deliveries.find((d) => d.endpointId === a.id)!;
      const toB = deliveries.find((d) => d.endpointId === b.id)!;
      const first = await attempt(toA, { status: 'sending', nextAttemptAt: at(5) }, at(1), { responseStatusCode: 503 });
      const second = await attempt(toB, { status: 'sending', nextAttemptAt: at(5) }, at(2), { responseStatusCode: 0, response: 'ECONNREFUSED' });
      const third = await attempt(toA, { status: 'success' }, at(6));
      const { message: later, deliveries: laterDeliveries } = await store.createMessage(makeMessage(app.id, { eventType: 'user.created' }), at(7));
      const fourth = await attempt(laterDeliveries.find((d) => d.endpointId === b.id)!, { status: 'fail' }, at(8), { responseStatusCode: 404 });
      const { deliveries: lastDeliveries } = await store.createMessage(makeMessage(app.id, { eventType: 'user.created' }), at(9));
      const fifth = await attempt(lastDeliveries.find((d) => d.endpointId === a.id)!, { status: 'canceled' }, at(10));
      expect(await store.getDelivery(fifth.deliveryId)).toMatchObject({ status: 'canceled', nextAttemptAt: null, lockedUntil: null });

      const list = async (query: Omit<Parameters<Store['listAttempts']>[1], 'limit'>): Promise<string[]> =>
        ids((await store.listAttempts(app.id, { limit: 10, ...query })).data);
      expect(await list({})).toEqual(ids([fifth, fourth, third, second, first]));
      expect(await list({ status: 'success' })).toEqual([third.id]);
      expect(await list({ status: 'fail' })).toEqual(ids([fourth, second, first]));
      expect(await list({ status: 'canceled' })).toEqual([fifth.id]);
      expect(await list({ endpointId: a.id })).toEqual(ids([fifth, third, first]));
      expect(await list({ msgId: message.id })).toEqual(ids([third, second, first]));
      expect(await list({ msgId: message.id, endpointId: b.id })).toEqual([second.id]);
      expect(await list({ msgId: later.id })).toEqual([fourth.id]);
      expect(await list({ statusCodeClass: 0 })).toEqual(ids([fifth, second]));
      expect(await list({ statusCodeClass: 200 })).toEqual([third.id]);
      expect(await list({ statusCodeClass: 400 })).toEqual([fourth.id]);
      expect(await list({ statusCodeClass: 500 })).toEqual([first.id]);
      expect(await list({ channel: 'eu' })).toEqual(ids([third, second, first]));
      expect(await list({ eventTypes: ['user.created'] })).toEqual(ids([fifth, fourth]));
      expect(await list({ after: at(1), before: at(8) })).toEqual(ids([third, second]));

      const pages = await collectPages((iterator) => store.listAttempts(app.id, { limit: 3, iterator }));
      expect(pages.map(ids)).toEqual([ids([fifth, fourth, third]), ids([second, first])]);

      const other = await store.createApplication(makeApp());
      expect((await store.listAttempts(other.id, { limit: 10 })).data).toEqual([]);
      expect(await store.getAttempt(other.id, message.id, first.id)).toBeNull();
      expect(await store.getAttempt(app.id, message.id, first.id)).toEqual(first);
    });

    it('shows the latest delivery per destination and per attempted message', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const sorted = [...endpoints].sort((x, y) => (x.id < y.id ? -1 : 1));
      const [first, second] = sorted as [Endpoint, Endpoint];
      const { message: old, deliveries } = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
      await attempt(deliveries.find((d) => d.endpointId === first.id)!, { status: 'fail' }, at(1));
      const { message: recent } = await store.createMessage(makeMessage(app.id, { createdAt: at(10) }), at(10));
      const resend = await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: old.id, endpointId: first.id, now: at(20) });

      const destinations = await store.listMessageDestinations(app.id, old.id, { limit: 10 });
      expect(destinations.data.map((d) => d.endpoint.id)).toEqual([first.id, second.id]);
      expect(destinations.data[0]!.delivery).toEqual(resend);
      expect(destinations.data[1]!.delivery).toMatchObject({ status: 'pending', triggerType: 'scheduled' });
      const firstPage = await store.listMessageDestinations(app.id, old.id, { limit: 1 });
      expect(firstPage).toMatchObject({ iterator: first.id, done: false });
      const secondPage = await store.listMessageDestinations(app.id, old.id, { limit: 1, iterator: firstPage.iterator });
      expect(secondPage.data.map((d) => d.endpoint.id)).toEqual([second.id]);
      expect(secondPage.done).toBe(true);

      const attempted = await store.listAttemptedMessages(app.id, first.id, { limit: 10 });
      expect(attempted.data.map((m) => m.message.id)).toEqual([recent.id, old.id]);
      expect(attempted.data[1]!.delivery).toEqual(resend);
      expect(attempted.data[1]!.message).toEqual(old);
      const pending = await store.listAttemptedMessages(app.id, first.id, { limit: 10, status: 'pending' });
      expect(pending.data).toHaveLength(2);
      expect((await store.listAttemptedMessages(app.id, first.id, { limit: 10, status: 'fail' })).data).toEqual([]);
      expect(
        (await store.listAttemptedMessages(app.id, first.id, { limit: 10, before: at(5) })).data.map((m) => m.message.id),
      ).toEqual([old.id]);
      const paged = await collectPages((iterator) => store.listAttemptedMessages(app.id, first.id, { limit: 1, iterator }));
      expect(paged.map((page) => page.map((m) => m.message.id))).toEqual([[recent.id], [old.id]]);
    });
  });
}
