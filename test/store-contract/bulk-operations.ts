// The Store contract, operations on many messages or attempts at once: whether any endpoint listens
// (message precheck), expunging payloads by id or eventId, an attempt's response body, and the
// batches of the bulk-replay and purge-content background tasks.
import { describe, expect, it } from 'vitest';

import type { BackgroundTask, BulkReplayData, PurgeContentData } from '../../src/domain/background-tasks.js';
import { newId } from '../../src/domain/ids.js';
import type { Message } from '../../src/domain/types.js';
import { T0, at, attempt, makeApp, makeEndpoint, makeMessage, seedApp, store } from './fixtures.js';

const OWNER = 'runner_a';
const LEASE_MS = 30_000;

async function sendAt(appId: string, seconds: number, overrides: Partial<Message> = {}): Promise<Message> {
  return (await store.createMessage(makeMessage(appId, { createdAt: at(seconds), ...overrides }), at(seconds))).message;
}

/** A running task of `kind` created at `now`, leased to OWNER. */
function startTask(appId: string, kind: BackgroundTask['task'], data: object, now = at(200)): Promise<BackgroundTask> {
  const task: BackgroundTask = {
    id: newId('qtask', now.getTime()),
    appId,
    task: kind,
    status: 'running',
    data: data as Record<string, unknown>,
    cursor: null,
    createdAt: now,
    updatedAt: now,
  };
  return store.createBackgroundTask(task, { owner: OWNER, until: new Date(now.getTime() + LEASE_MS) });
}

function bulkReplayData(endpointId: string, since: Date, until: Date, filters: Partial<BulkReplayData> = {}): BulkReplayData {
  return {
    endpointId, since: since.toISOString(), until: until.toISOString(), eventTypes: null, channel: null, status: null, statusCodeClass: null,
    scanned: 0, messagesSent: 0, skippedExpired: 0, batches: 0, ...filters,
  };
}

const batchInput = (taskId: string, now: Date, limit = 100, leaseOwner = OWNER) => ({ taskId, leaseOwner, now, leaseMs: LEASE_MS, limit });

/** The message ids with a manual delivery to the endpoint. */
async function manuallyQueued(appId: string, endpointId: string): Promise<string[]> {
  const page = await store.listAttemptedMessages(appId, endpointId, { limit: 100 });
  return page.data.filter((m) => m.delivery.triggerType === 'manual').map((m) => m.message.id).sort();
}

/** The bulk-operation cases, registered inside runStoreContract's describe (index.ts). */
export function describeBulkOperations(): void {
  describe('bulk operations', () => {
    it('says whether a live, enabled endpoint would get a message of this type and channels, by the fan-out rule', async () => {
      const { app } = await seedApp([]);
      expect(await store.hasActiveEndpointFor(app.id, 'invoice.paid', null)).toBe(false);
      const filtered = await store.createEndpoint(makeEndpoint(app.id, { eventTypes: ['invoice.paid'], channels: ['eu', 'us'] }));
      await store.createEndpoint(makeEndpoint(app.id, { disabled: true }));
      const deleted = await store.createEndpoint(makeEndpoint(app.id, { eventTypes: ['user.created'] }));
      await store.deleteEndpoint(app.id, deleted.id, at(1));
      const other = await store.createApplication(makeApp());
      await store.createEndpoint(makeEndpoint(other.id));

      expect(await store.hasActiveEndpointFor(app.id, 'invoice.paid', ['eu'])).toBe(true);
      expect(await store.hasActiveEndpointFor(app.id, 'invoice.paid', ['ca', 'us'])).toBe(true);
      expect(await store.hasActiveEndpointFor(app.id, 'invoice.paid', ['ca'])).toBe(false);
      expect(await store.hasActiveEndpointFor(app.id, 'invoice.paid', null)).toBe(false);
      expect(await store.hasActiveEndpointFor(app.id, 'user.created', ['eu'])).toBe(false);
      expect(await store.hasActiveEndpointFor(other.id, 'anything', null)).toBe(true);
      await store.updateEndpoint({ ...filtered, eventTypes: null, channels: null, updatedAt: at(2) });
      expect(await store.hasActiveEndpointFor(app.id, 'user.created', null)).toBe(true);
    });

    it('expunges payloads by id or eventId, an id winning, and returns the keys that named a message', async () => {
      const { app } = await seedApp([]);
      const other = await store.createApplication(makeApp());
      const a = await sendAt(app.id, 1);
      const b = await sendAt(app.id, 2, { eventId: 'order-1' });
      const kept = await sendAt(app.id, 3, { eventId: 'order-2' });
      const foreign = await sendAt(other.id, 4, { eventId: 'order-1' });
      // An eventId that reads like another message's id: the id wins, as in getMessage.
      const lookalike = await sendAt(app.id, 5, { eventId: a.id });

      const named = await store.expungeMessageContents(app.id, [a.id, 'order-1', 'nope', foreign.id]);
      expect(named.sort()).toEqual([a.id, 'order-1'].sort());
      expect((await store.getMessage(app.id, a.id))!.payload).toBeNull();
      expect((await store.getMessage(app.id, b.id))!.payload).toBeNull();
      for (const [appId, m] of [[app.id, kept], [app.id, lookalike], [other.id, foreign]] as const) {
        expect((await store.getMessage(appId, m.id))!.payload).toBe(m.payload);
      }
      expect(await store.expungeMessageContents(app.id, [])).toEqual([]);
      // Already expunged: still named.
      expect(await store.expungeMessageContents(app.id, [a.id])).toEqual([a.id]);
    });

    it("replaces one attempt's response with EXPUNGED, found only under its own message and application", async () => {
      const { app, endpoints: [ep] } = await seedApp();
      const [first, second] = [await sendAt(app.id, 1), await sendAt(app.id, 2)];
      const jobs = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 1000 });
      const delivery = jobs.find((j) => j.message.id === first.id)!.delivery;
      const recorded = await attempt(delivery, { status: 'success' }, at(11), { response: 'secret body' });
      expect(ep).toBeDefined();

      expect(await store.expungeAttemptContent(app.id, second.id, recorded.id)).toBe(false);
      expect(await store.expungeAttemptContent(newId('app', T0), first.id, recorded.id)).toBe(false);
      expect(await store.expungeAttemptContent(app.id, first.id, newId('atmpt', T0))).toBe(false);
      expect(await store.expungeAttemptContent(app.id, first.id, recorded.id)).toBe(true);
      expect(await store.getAttempt(app.id, first.id, recorded.id)).toEqual({ ...recorded, response: 'EXPUNGED' });
    });

    it('bulk replay: one manual delivery per message of the window sent to the endpoint that passes the filters, counting expired ones', async () => {
      const { app, endpoints: [ep, other] } = await seedApp([{}, { eventTypes: ['user.created'] }]);
      const before = await sendAt(app.id, 5);
      const ok = await sendAt(app.id, 10, { channels: ['eu'] });
      const failed = await sendAt(app.id, 20);
      const neverAttempted = await sendAt(app.id, 25, { eventType: 'user.created' });
      const expired = await sendAt(app.id, 30);
      const notSent = (await store.createMessage(makeMessage(app.id, { createdAt: at(40) }), at(40), { endpointIds: [other!.id] })).message;
      const after = await sendAt(app.id, 100);
      const jobs = await store.claimDueDeliveries({ now: at(50), limit: 100, leaseMs: 1000 });
      const to = (m: Message) => jobs.find((j) => j.message.id === m.id && j.delivery.endpointId === ep!.id)!.delivery;
      await attempt(to(ok), { status: 'success' }, at(51));
      await attempt(to(failed), { status: 'fail' }, at(52), { responseStatusCode: 503 });
      await attempt(to(expired), { status: 'success' }, at(53));
      await attempt(to(before), { status: 'success' }, at(54));
      expect(await store.expungeMessageContent(app.id, expired.id)).toBe(true);
      expect(notSent.id).toBeDefined();
      expect(after.id).toBeDefined();

      const run = async (filters: Partial<BulkReplayData>, now: number) => {
        const task = await startTask(app.id, 'endpoint.bulk-replay', bulkReplayData(ep!.id, at(10), at(100), filters), at(now));
        return store.runBulkReplayBatch(batchInput(task.id, at(now)));
      };
      const all = await run({}, 200);
      expect(all).toMatchObject({ queued: 3, task: { status: 'finished', cursor: expired.id, data: { scanned: 4, messagesSent: 3, skippedExpired: 1, batches: 1 } } });
      expect(await manuallyQueued(app.id, ep!.id)).toEqual([ok.id, failed.id, neverAttempted.id].sort());
      // The manual deliveries of the first run are the latest now (pending): finish them as before.
      const again = await store.claimDueDeliveries({ now: at(300), limit: 100, leaseMs: 1000 });
      for (const job of again) {
        if (job.message.id === neverAttempted.id) await store.renewLeases({ leases: [{ id: job.delivery.id, lockedUntil: job.delivery.lockedUntil! }], lockedUntil: null });
        else await attempt(job.delivery, job.message.id === failed.id ? { status: 'fail' } : { status: 'success' }, at(301), job.message.id === failed.id ? { responseStatusCode: 503 } : {});
      }
      // Each run queues a manual delivery for what it picks, which is then that message's latest
      // (pending): the status cases come in an order that shows it.
      const cases: [Partial<BulkReplayData>, number][] = [
        [{ status: 2 }, 1], // failed
        [{ status: 0, statusCodeClass: 200 }, 1], // ok (expired has 200 too, and is skipped)
        [{ status: 1 }, 3], // neverAttempted, and now failed and ok
        [{ statusCodeClass: 500 }, 1], // failed
        [{ statusCodeClass: 200 }, 1], // ok
        [{ statusCodeClass: 0 }, 0],
        [{ channel: 'eu' }, 1], // ok
        [{ eventTypes: ['user.created', 'other'] }, 1], // neverAttempted
        [{ status: 4 }, 0], // no delivery is ever canceled
      ];
      let now = 400;
      for (const [filters, queued] of cases) {
        const result = await run(filters, now++);
        expect(result!.queued, JSON.stringify(filters)).toBe(queued);
        expect(result!.task.data, JSON.stringify(filters)).toMatchObject({ scanned: 4, messagesSent: queued });
      }
      expect((await run({ status: 0, statusCodeClass: 200 }, 500))!.task.data).toMatchObject({ messagesSent: 0, skippedExpired: 1 });
      // A failing delivery never answered matches no status code class but class 0 (no answer).
      const noAnswer = await sendAt(app.id, 60);
      const [job] = (await store.claimDueDeliveries({ now: at(600), limit: 100, leaseMs: 1000 })).filter((j) => j.message.id === noAnswer.id && j.delivery.endpointId === ep!.id);
      await attempt(job!.delivery, { status: 'fail' }, at(601), { responseStatusCode: 0, response: 'connection refused' });
      expect(await run({ statusCodeClass: 0 }, 700)).toMatchObject({ queued: 1, task: { data: { scanned: 5, messagesSent: 1 } } });
    });

    it('bulk replay: batches move the cursor and the lease, and the task fails when its endpoint was disabled', async () => {
      const { app, endpoints: [ep] } = await seedApp();
      const sent: Message[] = [];
      for (let i = 0; i < 3; i++) sent.push(await sendAt(app.id, i));
      const task = await startTask(app.id, 'endpoint.bulk-replay', bulkReplayData(ep!.id, at(0), at(10)));
      expect(await store.runBulkReplayBatch(batchInput(task.id, at(200), 2, 'runner_other'))).toBeNull();
      const first = await store.runBulkReplayBatch(batchInput(task.id, at(210), 2));
      expect(first).toEqual({ queued: 2, task: { ...task, cursor: sent[1]!.id, updatedAt: at(210), data: { ...task.data, scanned: 2, messagesSent: 2, batches: 1 } } });
      expect(await store.claimBackgroundTasks({ now: at(235), leaseOwner: 'runner_other', leaseMs: LEASE_MS, limit: 10 })).toEqual([]);
      await store.updateEndpoint({ ...ep!, disabled: true, updatedAt: at(211) });
      const stopped = await store.runBulkReplayBatch(batchInput(task.id, at(212), 2));
      expect(stopped).toEqual({
        queued: 0,
        task: { ...first!.task, status: 'failed', updatedAt: at(212), data: { ...first!.task.data, error: 'The endpoint was disabled; enable it and replay again' } },
      });
      expect(await store.getBackgroundTask(task.id)).toEqual(stopped!.task);
      expect(await store.runBulkReplayBatch(batchInput(task.id, at(213), 2))).toBeNull();
      expect(await manuallyQueued(app.id, ep!.id)).toEqual([sent[0]!.id, sent[1]!.id].sort());
    });

    it("purge content: drops the payloads of the application's messages created up to until, batch by batch", async () => {
      const { app } = await seedApp([]);
      const other = await store.createApplication(makeApp());
      const sent: Message[] = [];
      for (let i = 0; i < 5; i++) sent.push(await sendAt(app.id, i));
      expect(await store.expungeMessageContent(app.id, sent[2]!.id)).toBe(true);
      const later = await sendAt(app.id, 50);
      const foreign = await sendAt(other.id, 1);
      const data: PurgeContentData = { until: at(10).toISOString(), scanned: 0, messagesPurged: 0, batches: 0 };
      const task = await startTask(app.id, 'application.purge_content', data);

      const first = await store.runPurgeContentBatch(batchInput(task.id, at(200), 3));
      expect(first).toEqual({ queued: 0, task: { ...task, cursor: sent[2]!.id, updatedAt: at(200), data: { ...data, scanned: 3, messagesPurged: 2, batches: 1 } } });
      expect((await store.getMessage(app.id, sent[3]!.id))!.payload).toBe(sent[3]!.payload);
      const second = await store.runPurgeContentBatch(batchInput(task.id, at(201), 3));
      expect(second).toEqual({
        queued: 0,
        task: { ...task, status: 'finished', cursor: sent[4]!.id, updatedAt: at(201), data: { ...data, scanned: 5, messagesPurged: 4, batches: 2 } },
      });
      expect(await store.getBackgroundTask(task.id)).toEqual(second!.task);
      for (const m of sent) expect((await store.getMessage(app.id, m.id))!.payload).toBeNull();
      expect((await store.getMessage(app.id, later.id))!.payload).toBe(later.payload);
      expect((await store.getMessage(other.id, foreign.id))!.payload).toBe(foreign.payload);
      expect(await store.runPurgeContentBatch(batchInput(task.id, at(202), 3))).toBeNull();
    });
  });
}
