// The Store contract, deliveries queued by hand: a resend of one message, and recovering the
// messages whose latest delivery failed.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Message } from '../../src/domain/types.js';
import type { DeliveryOutcome } from '../../src/storage/store.js';
import { store, at, makeApp, makeMessage, seedApp, attempt } from './fixtures.js';

/** The manual-delivery cases, registered inside runStoreContract's describe (index.ts). */
export function describeManualDeliveries(): void {
  describe('manual deliveries', () => {
    it('queues a manual delivery due now, only for a message and endpoint of the application', async () => {
      const { app, endpoints } = await seedApp();
      const { message } = await store.createMessage(makeMessage(app.id), at(0));
      const deliveryId = newId('msgep', at(100).getTime());
      const manual = await store.createManualDelivery({ deliveryId, appId: app.id, msgId: message.id, endpointId: endpoints[0]!.id, now: at(100) });
      expect(manual).toEqual({
        id: deliveryId,
        msgId: message.id,
        appId: app.id,
        endpointId: endpoints[0]!.id,
        status: 'pending',
        triggerType: 'manual',
        attemptCount: 0,
        nextAttemptAt: at(100),
        lockedUntil: null,
        createdAt: at(100),
        updatedAt: at(100),
      });
      const other = await store.createApplication(makeApp());
      await expect(
        store.createManualDelivery({ deliveryId: newId('msgep'), appId: other.id, msgId: message.id, endpointId: endpoints[0]!.id, now: at(100) }),
      ).rejects.toMatchObject({ code: 'not_found' });
    });

    it('recovers only messages in [since, until) whose latest delivery failed or was canceled', async () => {
      const { app, endpoints } = await seedApp();
      const endpoint = endpoints[0]!;
      const send = async (createdAt: Date, outcome: DeliveryOutcome): Promise<Message> => {
        const { message, deliveries } = await store.createMessage(makeMessage(app.id, { createdAt }), createdAt);
        await attempt(deliveries[0]!, outcome, createdAt);
        return message;
      };
      const before = await send(at(-1), { status: 'fail' });
      const failed = await send(at(0), { status: 'fail' });
      const resent = await send(at(10), { status: 'fail' });
      await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: resent.id, endpointId: endpoint.id, now: at(20) });
      const succeeded = await send(at(30), { status: 'success' });
      const retrying = await send(at(40), { status: 'sending', nextAttemptAt: at(1000) });
      const atUntil = await send(at(100), { status: 'fail' });
      const canceled = await send(at(50), { status: 'canceled' });
      void before;
      void succeeded;
      void retrying;
      void atUntil;

      const count = await store.recoverFailedDeliveries({ appId: app.id, endpointId: endpoint.id, since: at(0), until: at(100), now: at(200) });
      expect(count).toBe(2);
      for (const recovered of [failed, canceled]) {
        const destinations = await store.listMessageDestinations(app.id, recovered.id, { limit: 10 });
        expect(destinations.data[0]!.delivery).toMatchObject({ status: 'pending', triggerType: 'manual', nextAttemptAt: at(200), attemptCount: 0 });
      }
      // Its latest delivery is now pending, so a second recovery finds nothing.
      expect(await store.recoverFailedDeliveries({ appId: app.id, endpointId: endpoint.id, since: at(0), until: at(100), now: at(201) })).toBe(0);
    });
  });
}
