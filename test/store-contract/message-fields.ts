// The Store contract, what a message carries besides its payload: tags (stored, read back and
// filtered by in every message-shaped list), a deliverAt (its deliveries wait for it: not claimable,
// not handed off, not parked before it) and a raw payload's content type.
import { describe, expect, it } from 'vitest';

import type { Endpoint, Message } from '../../src/domain/types.js';
import type { CreateMessageResult, DeliveryHandoff } from '../../src/storage/store.js';
import { store, at, makeMessage, collectPages, ids, seedApp, attempt } from './fixtures.js';

/** The message-field cases, registered inside runStoreContract's describe (index.ts). */
export function describeMessageFields(): void {
  describe('message fields: tags, deliverAt, content type', () => {
    const offer = (now: Date): DeliveryHandoff => ({ lockedUntil: new Date(now.getTime() + 60_000), limit: 100, endpointConcurrency: 10 });

    it('round-trips tags, deliverAt and contentType, and leaves them out of a message that has none', async () => {
      const { app } = await seedApp([]);
      const full = makeMessage(app.id, { tags: ['billing', 'eu/west#1'], deliverAt: at(600), contentType: 'application/xml', payload: '<a>1</a>' });
      const plain = makeMessage(app.id, { createdAt: at(1) });
      const [created, createdPlain] = await Promise.all([store.createMessage(full, at(0)), store.createMessage(plain, at(1))]);
      expect(created.message).toEqual(full);
      expect(createdPlain.message).toEqual(plain);
      expect(createdPlain.message).not.toHaveProperty('tags');
      expect(createdPlain.message).not.toHaveProperty('deliverAt');
      expect(createdPlain.message).not.toHaveProperty('contentType');
      expect(await store.getMessage(app.id, full.id)).toEqual(full);
      expect(await store.getMessage(app.id, plain.id)).toEqual(plain);
      expect((await store.listMessages(app.id, { limit: 10 })).data).toEqual([plain, full]);
      // getMessagesByIds: only this application's, each once.
      const other = await seedApp([]);
      const foreign = (await store.createMessage(makeMessage(other.app.id), at(2))).message;
      const byIds = await store.getMessagesByIds(app.id, [full.id, plain.id, full.id, foreign.id, 'msg_missing']);
      expect(byIds.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([full, plain]);
      expect(await store.getMessagesByIds(app.id, [])).toEqual([]);
    });

    it('makes the deliveries of a scheduled message due at its deliverAt, and hands none of them off, alone or accepted with others', async () => {
      const { app, endpoints } = await seedApp([{}, { channels: ['eu'] }]);
      const [all] = endpoints as [Endpoint, Endpoint];
      const now = at(0);
      // Accepted together (one statement on PostgreSQL) with an ordinary message offered the same handoff.
      const [scheduled, ordinary] = await Promise.all([
        store.createMessage(makeMessage(app.id, { deliverAt: at(120) }), now, { handoff: offer(now) }),
        store.createMessage(makeMessage(app.id), now, { handoff: offer(now) }),
      ]);
      expect(scheduled.deliveries.map((d) => d.endpointId)).toEqual([all.id]);
      expect(scheduled.handedOff).toEqual([]);
      expect(scheduled.deliveries[0]).toMatchObject({ status: 'pending', attemptCount: 0, nextAttemptAt: at(120), lockedUntil: null });
      expect(await store.getDelivery(scheduled.deliveries[0]!.id)).toEqual(scheduled.deliveries[0]);
      expect(ordinary.handedOff.map((job) => job.delivery.id)).toEqual(ordinary.deliveries.map((d) => d.id));
      // And alone.
      const alone: CreateMessageResult = await store.createMessage(makeMessage(app.id, { deliverAt: at(180) }), at(1), { handoff: offer(at(1)) });
      expect(alone.handedOff).toEqual([]);
      expect(alone.deliveries[0]).toMatchObject({ nextAttemptAt: at(180), lockedUntil: null });

      // Not claimable before its time; the queue knows when it is due.
      await attempt(ordinary.handedOff[0]!.delivery, { status: 'success' }, at(2));
      expect(await store.claimDueDeliveries({ now: at(119), limit: 10, leaseMs: 30_000 })).toEqual([]);
      expect(await store.nextDueAt({ now: at(119) })).toEqual(at(120));
      const due = await store.claimDueDeliveries({ now: at(120), limit: 10, leaseMs: 600_000 });
      expect(due.map((job) => job.delivery.id)).toEqual([scheduled.deliveries[0]!.id]);
      expect(due[0]!.message.deliverAt).toEqual(at(120));
      expect((await store.claimDueDeliveries({ now: at(180), limit: 10, leaseMs: 30_000 })).map((job) => job.delivery.id)).toEqual([alone.deliveries[0]!.id]);
    });

    it('does not put a scheduled delivery in its endpoint’s parked queue: parked ones run first, it waits for its time', async () => {
      const { app, endpoints } = await seedApp([{ concurrencyLimit: 1 }]);
      const [endpoint] = endpoints as [Endpoint];
      const first = await store.createMessage(makeMessage(app.id), at(0));
      const [held] = await store.claimDueDeliveries({ now: at(0), limit: 10, leaseMs: 60_000 });
      expect(held!.delivery.id).toBe(first.deliveries[0]!.id);
      // The endpoint is full: the next due one is parked by a claim.
      const second = await store.createMessage(makeMessage(app.id, { createdAt: at(1) }), at(1));
      expect(await store.claimDueDeliveries({ now: at(1), limit: 10, leaseMs: 60_000 })).toEqual([]);
      // A scheduled one accepted now stays due at its time, behind nothing.
      const scheduled = await store.createMessage(makeMessage(app.id, { createdAt: at(2), deliverAt: at(300) }), at(2));
      expect(scheduled.deliveries[0]).toMatchObject({ endpointId: endpoint.id, nextAttemptAt: at(300) });
      await attempt(held!.delivery, { status: 'success' }, at(3));
      const next = await store.claimDueDeliveries({ now: at(4), limit: 10, leaseMs: 60_000 });
      expect(next.map((job) => job.delivery.id)).toEqual([second.deliveries[0]!.id]);
      await attempt(next[0]!.delivery, { status: 'success' }, at(5));
      expect(await store.claimDueDeliveries({ now: at(299), limit: 10, leaseMs: 60_000 })).toEqual([]);
      expect((await store.claimDueDeliveries({ now: at(300), limit: 10, leaseMs: 60_000 })).map((job) => job.delivery.id)).toEqual([scheduled.deliveries[0]!.id]);
    });

    it('filters the message list by tag, paging both ways through the tag alone, with the other filters', async () => {
      const { app } = await seedApp([]);
      const tagged: Message[] = [];
      for (let i = 0; i < 7; i++) {
        const tags = i % 2 === 0 ? ['even', `n${i}`] : ['odd'];
        tagged.push((await store.createMessage(makeMessage(app.id, { createdAt: at(i), tags, channels: i < 4 ? ['eu'] : null }), at(i))).message);
      }
      // Another application's message with the same tag never shows.
      const other = await seedApp([]);
      await store.createMessage(makeMessage(other.app.id, { tags: ['even'] }), at(3));
      const even = tagged.filter((_, i) => i % 2 === 0);

      const pages = await collectPages((iterator) => store.listMessages(app.id, { limit: 2, iterator, tag: 'even' }));
      expect(pages.map(ids)).toEqual([[even[3]!.id, even[2]!.id], [even[1]!.id, even[0]!.id]]);
      const ascending = await collectPages((iterator) => store.listMessages(app.id, { limit: 3, iterator, tag: 'even', order: 'ascending' }));
      expect(ascending.flat().map((m) => m.id)).toEqual(even.map((m) => m.id));
      const firstPage = await store.listMessages(app.id, { limit: 2, tag: 'even' });
      const secondPage = await store.listMessages(app.id, { limit: 2, tag: 'even', iterator: firstPage.iterator });
      const back = await store.listMessages(app.id, { limit: 2, tag: 'even', iterator: secondPage.prevIterator });
      expect(ids(back.data)).toEqual(ids(firstPage.data));

      expect(ids((await store.listMessages(app.id, { limit: 10, tag: 'n4' })).data)).toEqual([tagged[4]!.id]);
      expect(ids((await store.listMessages(app.id, { limit: 10, tag: 'even', channel: 'eu' })).data)).toEqual([tagged[2]!.id, tagged[0]!.id]);
      expect(ids((await store.listMessages(app.id, { limit: 10, tag: 'odd', after: at(2), before: at(5) })).data)).toEqual([tagged[3]!.id]);
      expect((await store.listMessages(app.id, { limit: 10, tag: 'none' })).data).toEqual([]);
      expect(await store.listMessages(app.id, { limit: 10, tag: 'odd' })).toMatchObject({ done: true });
    });

    it('filters attempts by message, by endpoint, and attempted messages by tag', async () => {
      const { app, endpoints } = await seedApp([{}, {}]);
      const [a, b] = endpoints as [Endpoint, Endpoint];
      const red = await store.createMessage(makeMessage(app.id, { tags: ['red'] }), at(0));
      const blue = await store.createMessage(makeMessage(app.id, { createdAt: at(1), tags: ['blue', 'red'] }), at(1));
      const none = await store.createMessage(makeMessage(app.id, { createdAt: at(2) }), at(2));
      let second = 10;
      for (const { deliveries } of [red, blue, none]) {
        for (const delivery of deliveries) await attempt(delivery, { status: 'success' }, at(second++));
      }
      const msgIdsOf = (items: { msgId: string }[]) => items.map((x) => x.msgId);
      expect(msgIdsOf((await store.listAttempts(app.id, { limit: 10, endpointId: a.id, tag: 'red' })).data)).toEqual([blue.message.id, red.message.id]);
      expect(msgIdsOf((await store.listAttempts(app.id, { limit: 10, endpointId: b.id, tag: 'blue' })).data)).toEqual([blue.message.id]);
      expect((await store.listAttempts(app.id, { limit: 10, msgId: red.message.id, tag: 'red' })).data).toHaveLength(2);
      expect((await store.listAttempts(app.id, { limit: 10, msgId: red.message.id, tag: 'blue' })).data).toEqual([]);
      expect((await store.listAttempts(app.id, { limit: 10, tag: 'red' })).data).toHaveLength(4);
      const attempted = await store.listAttemptedMessages(app.id, a.id, { limit: 10, tag: 'red' });
      expect(attempted.data.map((x) => x.message.id)).toEqual([blue.message.id, red.message.id]);
      expect(attempted.data[0]!.message.tags).toEqual(['blue', 'red']);
      expect((await store.listAttemptedMessages(app.id, a.id, { limit: 10 })).data).toHaveLength(3);
    });

    it('drops a message’s tags with its application', async () => {
      const { app } = await seedApp([]);
      await store.createMessage(makeMessage(app.id, { tags: ['gone'] }), at(0));
      expect(await store.deleteApplication(app.id)).toBe(true);
      const again = await seedApp([]);
      const kept = (await store.createMessage(makeMessage(again.app.id, { tags: ['gone'] }), at(1))).message;
      expect(ids((await store.listMessages(again.app.id, { limit: 10, tag: 'gone' })).data)).toEqual([kept.id]);
    });
  });
}
