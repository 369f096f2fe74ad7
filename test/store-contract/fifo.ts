// The Store contract, FIFO endpoints (docs/fifo.md): deliveries to a FIFO endpoint are held behind
// the head of its line and go one at a time, in the order their messages were accepted; resends and
// recoveries join the back of the line; turning fifo off releases it; deleting the endpoint ends it.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Delivery, Endpoint } from '../../src/domain/types.js';
import type { DeliveryOutcome } from '../../src/storage/store.js';
import { store, at, makeAttempt, makeMessage, seedApp } from './fixtures.js';

/** Record one attempt of `delivery` with `outcome`, as the worker does (it says whether the delivery is in a FIFO line). */
async function finish(delivery: Delivery, outcome: DeliveryOutcome, now: Date): Promise<void> {
  const status = outcome.status === 'success' ? 'success' : outcome.status === 'canceled' ? 'canceled' : 'fail';
  const record = makeAttempt(delivery, { timestamp: now, status, responseStatusCode: status === 'success' ? 200 : 500 });
  await store.completeAttempt({ attempt: record, outcome, disableEndpoint: false, now, fifo: delivery.fifoSeq !== undefined });
}

/** Claim at `now` and return the claimed deliveries of `endpoint`, by message id order of acceptance. */
async function claimFor(endpoint: Endpoint, now: Date): Promise<Delivery[]> {
  const jobs = await store.claimDueDeliveries({ now, limit: 100, leaseMs: 30_000 });
  return jobs.filter((job) => job.delivery.endpointId === endpoint.id).map((job) => job.delivery);
}

/** Accept one message per second from `fromSecond`, returning the delivery of each to `endpoint`. */
async function accept(appId: string, endpoint: Endpoint, count: number, fromSecond = 0): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  for (let i = 0; i < count; i++) {
    const now = at(fromSecond + i);
    const result = await store.createMessage(makeMessage(appId, { createdAt: now }), now);
    deliveries.push(result.deliveries.find((d) => d.endpointId === endpoint.id)!);
  }
  return deliveries;
}

/** The FIFO cases, registered inside runStoreContract's describe (index.ts). */
export function describeFifo(): void {
  describe('FIFO endpoints', () => {
    it('holds every delivery behind the head and lets the next go only when the head ends', async () => {
      const { app, endpoints } = await seedApp([{ fifo: true }, {}]);
      const [fifo, plain] = endpoints as [Endpoint, Endpoint];
      expect(fifo.fifo).toBe(true);
      expect(plain.fifo).toBeUndefined();
      const line = await accept(app.id, fifo, 4);
      expect(line.map((d) => d.fifoSeq)).toEqual([1, 2, 3, 4]);
      expect(line.map((d) => d.nextAttemptAt)).toEqual([at(0), null, null, null]);

      // The plain endpoint gets all four at once; the FIFO one only its head.
      const first = await store.claimDueDeliveries({ now: at(10), limit: 100, leaseMs: 30_000 });
      expect(first.filter((j) => j.delivery.endpointId === plain.id)).toHaveLength(4);
      expect(first.filter((j) => j.delivery.endpointId === fifo.id).map((j) => j.delivery.id)).toEqual([line[0]!.id]);

      // A failed head waits for its retry and blocks the line meanwhile.
      await finish(line[0]!, { status: 'sending', nextAttemptAt: at(20) }, at(10));
      expect(await claimFor(fifo, at(15))).toEqual([]);
      expect(await store.getFifoLine(fifo.id)).toEqual({
        head: { deliveryId: line[0]!.id, msgId: line[0]!.msgId, attemptCount: 1, blockedSince: at(10) },
        held: 3,
      });
      expect(await store.countBlockedFifoEndpoints()).toBe(1);

      // Success, failure for good and a cancel each end the head; the next in line follows.
      const order: string[] = [];
      const outcomes: DeliveryOutcome[] = [{ status: 'success' }, { status: 'fail' }, { status: 'canceled' }, { status: 'success' }];
      for (let i = 0; i < 4; i++) {
        const claimed = await claimFor(fifo, at(20 + i));
        expect(claimed).toHaveLength(1);
        order.push(claimed[0]!.id);
        await finish(claimed[0]!, outcomes[i]!, at(20 + i));
      }
      expect(order).toEqual(line.map((d) => d.id));
      expect(await store.getFifoLine(fifo.id)).toEqual({ head: null, held: 0 });
      expect(await store.countBlockedFifoEndpoints()).toBe(0);
    });

    it('never hands off a held delivery at accept', async () => {
      const { app, endpoints } = await seedApp([{ fifo: true }]);
      const handoff = { lockedUntil: at(30), limit: 10 };
      const first = await store.createMessage(makeMessage(app.id), at(0), { handoff });
      const second = await store.createMessage(makeMessage(app.id), at(0), { handoff });
      // The head may start leased (SQLite hands it off; PostgreSQL queues it due): either way it is the only one.
      expect(first.deliveries[0]!.fifoSeq).toBe(1);
      expect(second.handedOff).toEqual([]);
      expect(second.deliveries[0]).toMatchObject({ fifoSeq: 2, nextAttemptAt: null, lockedUntil: null });
      const claimed = await claimFor(endpoints[0]!, at(40));
      expect(claimed.map((d) => d.id)).toEqual([first.deliveries[0]!.id]);
    });

    it('sends resends and recoveries to the back of the line', async () => {
      const { app, endpoints } = await seedApp([{ fifo: true }]);
      const fifo = endpoints[0]!;
      const line = await accept(app.id, fifo, 2);
      // The head fails for good; the second becomes the head.
      await finish((await claimFor(fifo, at(5)))[0]!, { status: 'fail' }, at(5));
      const resend = await store.createManualDelivery({ deliveryId: newId('msgep', at(6).getTime()), appId: app.id, msgId: line[0]!.msgId, endpointId: fifo.id, now: at(6) });
      expect(resend).toMatchObject({ fifoSeq: 3, nextAttemptAt: null });
      const second = (await claimFor(fifo, at(7)))[0]!;
      expect(second.id).toBe(line[1]!.id);
      await finish(second, { status: 'fail' }, at(7));
      // Recovering the second message's failure queues it behind the resend.
      expect(await store.recoverFailedDeliveries({ appId: app.id, endpointId: fifo.id, since: at(1), until: at(2), now: at(8) })).toBe(1);
      expect((await store.getFifoLine(fifo.id)).held).toBe(1);
      const order: string[] = [];
      for (let i = 0; i < 2; i++) {
        const claimed = await claimFor(fifo, at(10 + i));
        expect(claimed).toHaveLength(1);
        order.push(claimed[0]!.msgId);
        await finish(claimed[0]!, { status: 'success' }, at(10 + i));
      }
      expect(order).toEqual([line[0]!.msgId, line[1]!.msgId]);
    });

    it('queues the first delivery as the head when the line is empty, also for a resend', async () => {
      const { app, endpoints } = await seedApp([{ fifo: true }]);
      const fifo = endpoints[0]!;
      const [only] = await accept(app.id, fifo, 1);
      await finish((await claimFor(fifo, at(1)))[0]!, { status: 'success' }, at(1));
      const resend = await store.createManualDelivery({ deliveryId: newId('msgep', at(2).getTime()), appId: app.id, msgId: only!.msgId, endpointId: fifo.id, now: at(2) });
      expect(resend).toMatchObject({ fifoSeq: 2, nextAttemptAt: at(2) });
    });

    it('releases every held delivery when fifo is turned off, and holds only later deliveries when turned on', async () => {
      const { app, endpoints } = await seedApp([{ fifo: true }]);
      const fifo = endpoints[0]!;
      const line = await accept(app.id, fifo, 3);
      const off = await store.updateEndpoint({ ...fifo, fifo: false, updatedAt: at(5) });
      expect(off.fifo).toBeUndefined();
      expect((await claimFor(fifo, at(6))).map((d) => d.id).sort()).toEqual(line.map((d) => d.id).sort());
      expect(await store.getFifoLine(fifo.id)).toMatchObject({ held: 0 });

      // On again: what was queued before (a plain delivery, no place in line) does not block.
      const { app: other, endpoints: otherEndpoints } = await seedApp([{}]);
      const plain = otherEndpoints[0]!;
      const [before] = await accept(other.id, plain, 1, 10);
      await store.updateEndpoint({ ...plain, fifo: true, updatedAt: at(11) });
      const after = await accept(other.id, plain, 2, 12);
      expect(before!.fifoSeq).toBeUndefined();
      expect(after.map((d) => [d.fifoSeq, d.nextAttemptAt])).toEqual([
        [1, at(12)],
        [2, null],
      ]);
    });

    it('cancels the whole line when the endpoint is deleted', async () => {
      const { app, endpoints } = await seedApp([{ fifo: true }]);
      const fifo = endpoints[0]!;
      const line = await accept(app.id, fifo, 3);
      expect(await store.deleteEndpoint(app.id, fifo.id, at(5))).toBe(true);
      for (const delivery of line) expect((await store.getDelivery(delivery.id))!.status).toBe('canceled');
      expect(await store.getFifoLine(fifo.id)).toEqual({ head: null, held: 0 });
      expect(await claimFor(fifo, at(10))).toEqual([]);
    });

    it('promotes a held scheduled message no earlier than its deliverAt', async () => {
      const { app, endpoints } = await seedApp([{ fifo: true }]);
      const fifo = endpoints[0]!;
      const head = await store.createMessage(makeMessage(app.id), at(0));
      const later = await store.createMessage(makeMessage(app.id, { deliverAt: at(100) }), at(1));
      expect(later.deliveries[0]!.nextAttemptAt).toBeNull();
      await finish((await claimFor(fifo, at(2)))[0]!, { status: 'success' }, at(2));
      expect(head.deliveries[0]!.fifoSeq).toBe(1);
      expect((await store.getDelivery(later.deliveries[0]!.id))!.nextAttemptAt).toEqual(at(100));
      expect(await claimFor(fifo, at(50))).toEqual([]);
    });
  });
}
