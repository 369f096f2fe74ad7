// The Store contract, messages and fan-out: which endpoints a message is queued for, eventId
// uniqueness, concurrent accepts, and the message list with its filters.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Delivery, Endpoint, Message } from '../../src/domain/types.js';
import type { Store } from '../../src/storage/store.js';
import { store, at, makeApp, makeEndpoint, makeMessage, collectPages, ids, seedApp, attempt } from './fixtures.js';

/** The message and fan-out cases, registered inside runStoreContract's describe (index.ts). */
export function describeMessages(): void {
  describe('messages and fan-out', () => {
    it('accepts messages made together, each with its own fan-out and its own answer', async () => {
      // Accepts made in the same turn share a commit (and on PostgreSQL one statement); a bad one
      // among them must fail alone, and each must get exactly the deliveries it would alone.
      const { app, endpoints } = await seedApp([{}, { eventTypes: ['user.created'] }, { channels: ['eu'] }]);
      const [all, userOnly, eu] = endpoints as [Endpoint, Endpoint, Endpoint];
      const wide = await seedApp([{}, {}, {}, {}, {}, {}]);
      const targets = (r: { deliveries: Delivery[] }): string[] => r.deliveries.map((d) => d.endpointId).sort();
      const results = await Promise.allSettled([
        store.createMessage(makeMessage(app.id, { eventType: 'user.created', eventId: 'evt-1' }), at(1)),
        store.createMessage(makeMessage(app.id, { channels: ['eu'] }), at(1)),
        store.createMessage(makeMessage(app.id, { eventId: 'evt-1' }), at(1)),
        store.createMessage(makeMessage(newId('app')), at(1)),
        store.createMessage(makeMessage(app.id), at(1), { endpointIds: [userOnly.id] }),
        store.createMessage(makeMessage(wide.app.id), at(1)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
      const value = (i: number) => (results[i] as PromiseFulfilledResult<{ message: Message; deliveries: Delivery[] }>).value;
      expect(targets(value(0))).toEqual([all.id, userOnly.id].sort());
      expect(value(0).message).toMatchObject({ eventId: 'evt-1', eventType: 'user.created' });
      expect(targets(value(1))).toEqual([all.id, eu.id].sort());
      expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
      expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'not_found' });
      expect(targets(value(4))).toEqual([userOnly.id]);
      expect(targets(value(5))).toEqual(wide.endpoints.map((e) => e.id).sort());
      for (const i of [0, 1, 4, 5]) {
        const { message, deliveries } = value(i);
        expect(await store.getMessage(message.appId, message.id)).toEqual(message);
        for (const delivery of deliveries) expect(await store.getDelivery(delivery.id)).toEqual(delivery);
      }
      expect((await store.listMessages(app.id, { limit: 10 })).data).toHaveLength(3);

      // And a batch where every message is fine.
      const again = await Promise.all([
        store.createMessage(makeMessage(app.id, { eventType: 'user.created' }), at(2)),
        store.createMessage(makeMessage(app.id, { channels: ['eu'], eventId: 'evt-2' }), at(2)),
        store.createMessage(makeMessage(wide.app.id), at(2)),
      ]);
      expect(again.map(targets)).toEqual([[all.id, userOnly.id].sort(), [all.id, eu.id].sort(), wide.endpoints.map((e) => e.id).sort()]);
      for (const { message, deliveries } of again) {
        expect(await store.getMessage(message.appId, message.id)).toEqual(message);
        for (const delivery of deliveries) {
          expect(delivery).toMatchObject({ msgId: message.id, status: 'pending', attemptCount: 0, nextAttemptAt: at(2) });
          expect(await store.getDelivery(delivery.id)).toEqual(delivery);
        }
      }
    });

    it('fans out to matching endpoints only: event-type filter, channels, disabled and deleted skipped', async () => {
      const { app, endpoints } = await seedApp([
        {}, // everything
        { eventTypes: ['invoice.paid'] },
        { eventTypes: ['user.created'] },
        { channels: ['eu'] },
        { channels: ['us'] },
        { disabled: true },
        {}, // deleted below
      ]);
      const [all, paidOnly, userOnly, eu, us, disabled, deleted] = endpoints as Endpoint[];
      void userOnly;
      void us;
      void disabled;
      await store.deleteEndpoint(app.id, deleted!.id, at(0));

      const withChannel = await store.createMessage(makeMessage(app.id, { channels: ['eu', 'asia'] }), at(5));
      expect(withChannel.deliveries.map((d) => d.endpointId).sort()).toEqual([all!.id, paidOnly!.id, eu!.id].sort());
      for (const delivery of withChannel.deliveries) {
        expect(delivery).toMatchObject({
          msgId: withChannel.message.id,
          appId: app.id,
          status: 'pending',
          triggerType: 'scheduled',
          attemptCount: 0,
          nextAttemptAt: at(5),
          lockedUntil: null,
        });
        expect(await store.getDelivery(delivery.id)).toEqual(delivery);
      }

      // A message without channels never reaches an endpoint restricted to channels.
      const noChannel = await store.createMessage(makeMessage(app.id), at(6));
      expect(noChannel.deliveries.map((d) => d.endpointId).sort()).toEqual([all!.id, paidOnly!.id].sort());

      const otherType = await store.createMessage(makeMessage(app.id, { eventType: 'user.created', channels: ['us'] }), at(7));
      expect(otherType.deliveries.map((d) => d.endpointId).sort()).toEqual([all!.id, userOnly!.id, us!.id].sort());
    });

    it('fans out only to the named endpoints when given endpointIds, ignoring filters but not disabled ones', async () => {
      const { app, endpoints } = await seedApp([{ eventTypes: ['user.created'] }, { channels: ['eu'] }, { disabled: true }, {}]);
      const [otherType, channel, disabled, unnamed] = endpoints as Endpoint[];
      void unnamed;
      const other = await store.createApplication(makeApp());
      const foreign = await store.createEndpoint(makeEndpoint(other.id));
      const { deliveries } = await store.createMessage(makeMessage(app.id), at(0), {
        endpointIds: [otherType!.id, channel!.id, disabled!.id, foreign.id],
      });
      expect(deliveries.map((d) => d.endpointId).sort()).toEqual([otherType!.id, channel!.id].sort());
      expect((await store.createMessage(makeMessage(app.id), at(1), { endpointIds: [] })).deliveries).toEqual([]);
    });

    it('creates a message with no endpoints and keeps the payload byte-for-byte', async () => {
      const { app } = await seedApp([]);
      const payload = ' {"b": 1,\n  "a": "caf\u00e9 \\u00e9 \u{1F600}", "n": 1.50}  ';
      const message = makeMessage(app.id, { payload, eventId: 'evt-1', channels: ['eu'] });
      const created = await store.createMessage(message, at(0));
      expect(created).toEqual({ message, deliveries: [], handedOff: [] });
      expect((await store.getMessage(app.id, message.id))?.payload).toBe(payload);
      expect(await store.getMessage(app.id, 'evt-1')).toEqual(message);
    });

    it('rejects an eventId taken in the same application but allows it in another', async () => {
      const { app } = await seedApp();
      await store.createMessage(makeMessage(app.id, { eventId: 'evt-1' }), at(0));
      await expect(store.createMessage(makeMessage(app.id, { eventId: 'evt-1' }), at(1))).rejects.toMatchObject({
        code: 'conflict',
        detail: expect.stringContaining("'evt-1'"),
      });
      // The failed create queued nothing.
      expect(await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 1000 })).toHaveLength(1);
      const other = await store.createApplication(makeApp());
      await store.createMessage(makeMessage(other.id, { eventId: 'evt-1' }), at(2));
      expect(await store.getMessage(other.id, 'evt-1')).not.toBeNull();
    });

    it('fans out to any number of endpoints, message after message, as the set of endpoints changes', async () => {
      const { app, endpoints } = await seedApp(Array.from({ length: 7 }, () => ({})));
      for (let round = 0; round < 2; round++) {
        const { message, deliveries } = await store.createMessage(makeMessage(app.id), at(round));
        expect(deliveries.map((d) => d.endpointId).sort()).toEqual(endpoints.map((e) => e.id).sort());
        expect(new Set(deliveries.map((d) => d.id)).size).toBe(7);
        expect(deliveries.every((d) => d.msgId === message.id && d.status === 'pending' && d.attemptCount === 0)).toBe(true);
      }
      const more = await store.createEndpoint(makeEndpoint(app.id));
      expect((await store.createMessage(makeMessage(app.id), at(3))).deliveries).toHaveLength(8);
      for (const endpoint of [...endpoints.slice(2), more]) await store.deleteEndpoint(app.id, endpoint.id, at(4));
      expect((await store.createMessage(makeMessage(app.id), at(5))).deliveries).toHaveLength(2);
      expect((await store.createMessage(makeMessage(app.id), at(6), { endpointIds: [endpoints[1]!.id] })).deliveries.map((d) => d.endpointId)).toEqual([endpoints[1]!.id]);
    });

    it('keeps concurrent writes independent: one failing create takes no other down', async () => {
      const { app } = await seedApp();
      await store.createMessage(makeMessage(app.id, { eventId: 'taken' }), at(0));
      // Issued together, as concurrent API requests are (on SQLite they share one commit).
      const results = await Promise.allSettled(
        Array.from({ length: 9 }, (_, i) => store.createMessage(makeMessage(app.id, { eventId: i === 4 ? 'taken' : `evt-${i}` }), at(1 + i))),
      );
      expect(results.map((r) => r.status)).toEqual(Array.from({ length: 9 }, (_, i) => (i === 4 ? 'rejected' : 'fulfilled')));
      expect((results[4] as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
      for (let i = 0; i < 9; i++) {
        if (i !== 4) expect(await store.getMessage(app.id, `evt-${i}`)).not.toBeNull();
      }
      // The original and the 8 new messages each queued one delivery; the failed one queued nothing.
      expect(await store.claimDueDeliveries({ now: at(100), limit: 100, leaseMs: 1000 })).toHaveLength(9);
    });

    it('does not find a message through another application', async () => {
      const { app } = await seedApp();
      const other = await store.createApplication(makeApp());
      const { message } = await store.createMessage(makeMessage(app.id, { eventId: 'e' }), at(0));
      expect(await store.getMessage(other.id, message.id)).toBeNull();
      expect(await store.getMessage(other.id, 'e')).toBeNull();
    });

    it('lists newest first with before/after, channel and event-type filters', async () => {
      const { app } = await seedApp([]);
      const messages: Message[] = [];
      for (let i = 0; i < 6; i++) {
        const message = makeMessage(app.id, {
          createdAt: at(i * 10),
          eventType: i % 2 === 0 ? 'invoice.paid' : 'user.created',
          channels: i < 3 ? ['eu'] : null,
        });
        messages.push((await store.createMessage(message, message.createdAt)).message);
      }
      const newestFirst = ids(messages).reverse();
      const pages = await collectPages((iterator) => store.listMessages(app.id, { limit: 4, iterator }));
      expect(pages.map(ids)).toEqual([newestFirst.slice(0, 4), newestFirst.slice(4)]);

      const list = async (query: Parameters<Store['listMessages']>[1]): Promise<string[]> => ids((await store.listMessages(app.id, query)).data);
      expect(await list({ limit: 10, before: at(30) })).toEqual(ids(messages.slice(0, 3)).reverse());
      expect(await list({ limit: 10, after: at(30) })).toEqual(ids(messages.slice(4)).reverse());
      expect(await list({ limit: 10, after: at(10), before: at(40) })).toEqual(ids(messages.slice(2, 4)).reverse());
      expect(await list({ limit: 10, channel: 'eu' })).toEqual(ids(messages.slice(0, 3)).reverse());
      expect(await list({ limit: 10, eventTypes: ['user.created'] })).toEqual([messages[5]!.id, messages[3]!.id, messages[1]!.id]);
      expect(await list({ limit: 10, eventTypes: ['invoice.paid'], channel: 'eu' })).toEqual([messages[2]!.id, messages[0]!.id]);
      expect(await list({ limit: 10, order: 'ascending' })).toEqual(ids(messages));
    });

    it('filters messages by the status of their latest delivery to a live endpoint', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const [a, b] = endpoints as [Endpoint, Endpoint];
      const to = (deliveries: Delivery[], endpoint: Endpoint) => deliveries.find((d) => d.endpointId === endpoint.id)!;
      const m1 = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
      await attempt(to(m1.deliveries, a), { status: 'success' }, at(1));
      await attempt(to(m1.deliveries, b), { status: 'fail' }, at(1));
      const m2 = await store.createMessage(makeMessage(app.id, { createdAt: at(2) }), at(2)); // both pending
      const m3 = await store.createMessage(makeMessage(app.id, { createdAt: at(3), eventType: 'user.created' }), at(3));
      await attempt(to(m3.deliveries, a), { status: 'fail' }, at(4));
      await attempt(to(m3.deliveries, b), { status: 'success' }, at(4));
      await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: m3.message.id, endpointId: a.id, now: at(5) });

      const list = async (query: Partial<Parameters<Store['listMessages']>[1]>) => ids((await store.listMessages(app.id, { limit: 10, ...query })).data);
      expect(await list({ status: 'fail' })).toEqual([m1.message.id]);
      expect(await list({ status: 'success' })).toEqual([m3.message.id, m1.message.id]);
      expect(await list({ status: 'pending' })).toEqual([m3.message.id, m2.message.id]);
      expect(await list({ status: 'sending' })).toEqual([]);
      expect(await list({ status: 'success', eventTypes: ['user.created'] })).toEqual([m3.message.id]);
      expect(await list({ status: null })).toEqual([m3.message.id, m2.message.id, m1.message.id]);
      const paged = await collectPages((iterator) => store.listMessages(app.id, { limit: 1, iterator, status: 'success' }));
      expect(paged.map(ids)).toEqual([[m3.message.id], [m1.message.id]]);

      // A deleted endpoint's deliveries no longer count.
      await store.deleteEndpoint(app.id, b.id, at(6));
      expect(await list({ status: 'fail' })).toEqual([]);
      expect(await list({ status: 'success' })).toEqual([m1.message.id]);
    });
  });
}
