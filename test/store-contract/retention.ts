// The Store contract, retention: payloads expire and old attempts are pruned in bounded batches,
// so cleanup never holds a long transaction.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Message } from '../../src/domain/types.js';
import { store, at, makeMessage, seedApp, attempt } from './fixtures.js';

/** The retention cases, registered inside runStoreContract's describe (index.ts). */
export function describeRetention(): void {
  describe('retention', () => {
    it('expunges one payload and expires payloads past retention, bounded by the limit', async () => {
      const { app } = await seedApp([]);
      const short = (createdAt: Date): Message => makeMessage(app.id, { createdAt, payloadExpiresAt: new Date(createdAt.getTime() + 60_000) });
      const expiring = [short(at(0)), short(at(1)), short(at(2))];
      for (const message of expiring) await store.createMessage(message, message.createdAt);
      const { message: lasting } = await store.createMessage(makeMessage(app.id), at(0));

      expect(await store.expungeMessageContent(app.id, lasting.id)).toBe(true);
      expect((await store.getMessage(app.id, lasting.id))?.payload).toBeNull();
      expect(await store.expungeMessageContent(app.id, newId('msg'))).toBe(false);

      // They expire at 60, 61 and 62 s; the lasting one (expunged above) is left alone.
      expect(await store.expireMessagePayloads(at(59), 10)).toBe(0);
      expect(await store.expireMessagePayloads(at(62), 2)).toBe(2);
      expect(await store.expireMessagePayloads(at(62), 2)).toBe(1);
      expect(await store.expireMessagePayloads(at(62), 2)).toBe(0);
      for (const message of expiring) expect((await store.getMessage(app.id, message.id))?.payload).toBeNull();
    });

    it('prunes attempts older than a time in bounded batches, keeping newer ones and the deliveries', async () => {
      const { app } = await seedApp();
      const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
      const delivery = deliveries[0]!;
      const [job] = await store.claimDueDeliveries({ now: at(0), limit: 1, leaseMs: 1000 });
      await attempt(job!.delivery, { status: 'sending', nextAttemptAt: at(10) }, at(1));
      for (const t of [10, 20, 30]) {
        const [retry] = await store.claimDueDeliveries({ now: at(t), limit: 1, leaseMs: 1000 });
        await attempt(retry!.delivery, t === 30 ? { status: 'success' } : { status: 'sending', nextAttemptAt: at(t + 10) }, at(t));
      }
      expect(await store.pruneAttempts(at(0), 10)).toBe(0);
      expect(await store.pruneAttempts(at(25), 2)).toBe(2);
      expect(await store.pruneAttempts(at(25), 2)).toBe(1);
      expect(await store.pruneAttempts(at(25), 2)).toBe(0);
      const left = await store.listAttempts(app.id, { limit: 10, msgId: delivery.msgId });
      expect(left.data.map((a) => a.timestamp)).toEqual([at(30)]);
      expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'success', attemptCount: 4 });
    });
  });
}
