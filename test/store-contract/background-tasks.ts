// The Store contract, background tasks: tasks are stored and listed as given, leased to one process
// at a time, advanced by replay-missing batches that never queue a delivery twice, and given up.
import { describe, expect, it } from 'vitest';

import type { BackgroundTask, BackgroundTaskKind, BackgroundTaskStatus, ReplayMissingData } from '../../src/domain/background-tasks.js';
import { newId } from '../../src/domain/ids.js';
import type { Message } from '../../src/domain/types.js';
import type { BackgroundTaskListQuery } from '../../src/storage/store.js';
import { T0, at, collectPages, ids, makeApp, makeEndpoint, makeMessage, seedApp, store } from './fixtures.js';

/** Two processes' lease owners. */
const OWNER = 'runner_a';
const OTHER = 'runner_b';
/** Every lease the cases take (by claim or batch) lasts this long from when it is taken. */
const LEASE_MS = 30_000;

/** The data of an `endpoint.replay` task over messages created in [since, until), before its first batch. */
function replayData(endpointId: string, since: Date, until: Date): Record<string, unknown> {
  const data: ReplayMissingData = { endpointId, since: since.toISOString(), until: until.toISOString(), scanned: 0, queued: 0, skippedExpired: 0, batches: 0 };
  return data as unknown as Record<string, unknown>;
}

/** A task of `appId`: by default a running replay created at T0 that has not started. */
function makeTask(appId: string, overrides: Partial<BackgroundTask> = {}): BackgroundTask {
  const createdAt = overrides.createdAt ?? at(0);
  return {
    id: newId('qtask', createdAt.getTime()),
    appId,
    task: 'endpoint.replay',
    status: 'running',
    data: replayData('ep_unused', at(0), at(60)),
    cursor: null,
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

/** Create a replay of [since, until) to the endpoint at `now`, its lease held by `owner` until `now + LEASE_MS`. */
function startReplay(
  appId: string,
  endpointId: string,
  since: Date,
  until: Date,
  { now = at(200), owner = OWNER }: { now?: Date; owner?: string } = {},
): Promise<BackgroundTask> {
  const task = makeTask(appId, { data: replayData(endpointId, since, until), createdAt: now });
  return store.createBackgroundTask(task, { owner, until: new Date(now.getTime() + LEASE_MS) });
}

/** One replay batch of the task at `now`, by OWNER unless told. */
function runBatch(taskId: string, now: Date, { limit = 100, leaseOwner = OWNER }: { limit?: number; leaseOwner?: string } = {}) {
  return store.runReplayMissingBatch({ taskId, leaseOwner, now, leaseMs: LEASE_MS, limit });
}

/** Claim up to `limit` tasks for `leaseOwner` at `now`. */
function claimTasks(now: Date, leaseOwner: string, limit = 10): Promise<BackgroundTask[]> {
  return store.claimBackgroundTasks({ now, leaseOwner, leaseMs: LEASE_MS, limit });
}

/** Accept a message of `appId` created (and due) at `seconds`, in channel `eu` unless told. */
async function sendAt(appId: string, seconds: number, overrides: Partial<Message> = {}): Promise<Message> {
  return (await store.createMessage(makeMessage(appId, { createdAt: at(seconds), channels: ['eu'], ...overrides }), at(seconds))).message;
}

/** The background-task cases, registered inside runStoreContract's describe (index.ts). */
export function describeBackgroundTasks(): void {
  describe('background tasks', () => {
    it('stores a task as given, reads it by id, and deletes it with its application', async () => {
      const { app } = await seedApp([]);
      const replay = makeTask(app.id, { data: { ...replayData('ep_x', at(0), at(60)), nested: { list: [1, 'two', null] } } });
      const recover = makeTask(app.id, {
        task: 'endpoint.recover',
        status: 'finished',
        data: { endpointId: 'ep_x', since: at(0).toISOString(), until: at(60).toISOString(), recovered: 3 },
        createdAt: at(1),
      });
      expect(await store.createBackgroundTask(replay)).toEqual(replay);
      expect(await store.createBackgroundTask(recover, null)).toEqual(recover);
      expect(await store.getBackgroundTask(replay.id)).toEqual(replay);
      expect(await store.getBackgroundTask(recover.id)).toEqual(recover);
      expect(await store.getBackgroundTask(newId('qtask', T0))).toBeNull();

      await expect(store.createBackgroundTask(replay)).rejects.toMatchObject({ code: 'conflict' });
      await expect(store.createBackgroundTask(makeTask(newId('app', T0)))).rejects.toMatchObject({ code: 'not_found' });

      expect(await store.deleteApplication(app.id)).toBe(true);
      expect(await store.getBackgroundTask(replay.id)).toBeNull();
    });

    it('lists newest first, filtered by application, status and kind, and pages both ways', async () => {
      const { app } = await seedApp([]);
      const other = await store.createApplication(makeApp());
      expect(await store.listBackgroundTasks({ limit: 10 })).toEqual({ data: [], iterator: null, prevIterator: null, done: true });
      const kinds: [string, BackgroundTaskKind, BackgroundTaskStatus][] = [
        [app.id, 'endpoint.replay', 'finished'],
        [app.id, 'endpoint.recover', 'finished'],
        [other.id, 'endpoint.replay', 'running'],
        [app.id, 'endpoint.replay', 'failed'],
        [app.id, 'endpoint.replay', 'running'],
        [other.id, 'endpoint.recover', 'finished'],
      ];
      const tasks = kinds.map(([appId, task, status], i) => makeTask(appId, { task, status, createdAt: at(i) }));
      // Written out of order: the list follows the tasks' ids (their age), not the order of writing.
      for (const i of [3, 0, 5, 1, 4, 2]) await store.createBackgroundTask(tasks[i]!);
      const [t0, t1, t2, t3, t4, t5] = tasks as [BackgroundTask, BackgroundTask, BackgroundTask, BackgroundTask, BackgroundTask, BackgroundTask];
      const newestFirst = ids(tasks).reverse();

      const list = async (query: Omit<BackgroundTaskListQuery, 'limit'>): Promise<string[]> => ids((await store.listBackgroundTasks({ limit: 10, ...query })).data);
      expect(await list({})).toEqual(newestFirst);
      expect(await list({ appId: null, status: null, task: null })).toEqual(newestFirst);
      expect(await list({ order: 'ascending' })).toEqual(ids(tasks));
      expect(await list({ appId: app.id })).toEqual(ids([t4, t3, t1, t0]));
      expect(await list({ status: 'running' })).toEqual(ids([t4, t2]));
      expect(await list({ task: 'endpoint.recover' })).toEqual(ids([t5, t1]));
      expect(await list({ appId: app.id, status: 'finished' })).toEqual(ids([t1, t0]));
      expect(await list({ appId: other.id, status: 'finished', task: 'endpoint.recover' })).toEqual([t5.id]);
      expect(await list({ appId: other.id, status: 'failed' })).toEqual([]);

      const pages = await collectPages((iterator) => store.listBackgroundTasks({ limit: 4, iterator }));
      expect(pages.map(ids)).toEqual([newestFirst.slice(0, 4), newestFirst.slice(4)]);
      const ownPages = await collectPages((iterator) => store.listBackgroundTasks({ limit: 3, iterator, appId: app.id, order: 'ascending' }));
      expect(ownPages.map(ids)).toEqual([ids([t0, t1, t3]), [t4.id]]);

      const first = await store.listBackgroundTasks({ limit: 2 });
      expect(first).toMatchObject({ iterator: newestFirst[1], prevIterator: `-${newestFirst[0]}`, done: false });
      const second = await store.listBackgroundTasks({ limit: 2, iterator: first.iterator });
      expect(ids(second.data)).toEqual(newestFirst.slice(2, 4));
      const back = await store.listBackgroundTasks({ limit: 2, iterator: second.prevIterator });
      expect(ids(back.data)).toEqual(newestFirst.slice(0, 2));
      expect(back.done).toBe(true);
    });

    it('holds a task created with a lease until the lease ends; one created without is claimable at once', async () => {
      const { app } = await seedApp([]);
      const free = await store.createBackgroundTask(makeTask(app.id, { createdAt: at(0) }));
      const held = await store.createBackgroundTask(makeTask(app.id, { createdAt: at(1) }), { owner: OWNER, until: at(60) });
      // A claim changes only the lease, which a task does not show.
      expect(await claimTasks(at(2), OTHER)).toEqual([free]);
      expect(await claimTasks(at(31), 'runner_c')).toEqual([]);
      // At its end a lease is up for grabs: the claim made at 2 s ended at 32 s, the creator's at 60 s.
      expect(await claimTasks(at(60), 'runner_c')).toEqual([free, held]);
    });

    it('claims only running tasks whose lease is free or expired, oldest first, up to the limit', async () => {
      const { app } = await seedApp([]);
      const [free, expired, live, finished, failed, newest] = [
        makeTask(app.id, { createdAt: at(0) }),
        makeTask(app.id, { createdAt: at(1) }),
        makeTask(app.id, { createdAt: at(2) }),
        makeTask(app.id, { createdAt: at(3), status: 'finished' }),
        makeTask(app.id, { createdAt: at(4), status: 'failed' }),
        makeTask(app.id, { createdAt: at(5) }),
      ] as [BackgroundTask, BackgroundTask, BackgroundTask, BackgroundTask, BackgroundTask, BackgroundTask];
      // Written newest first: the claim order is the tasks' age, not the order of writing.
      await store.createBackgroundTask(newest);
      await store.createBackgroundTask(failed);
      await store.createBackgroundTask(finished);
      await store.createBackgroundTask(live, { owner: 'runner_live', until: at(100) });
      await store.createBackgroundTask(expired, { owner: 'runner_stopped', until: at(10) });
      await store.createBackgroundTask(free);

      expect(await claimTasks(at(10), OWNER, 2)).toEqual([free, expired]);
      expect(await claimTasks(at(10), OTHER, 10)).toEqual([newest]);
      expect(await claimTasks(at(10), OTHER, 10)).toEqual([]);
      // The claims' leases end at 40 s, the live one at 100 s; ended tasks are never claimed.
      expect(ids(await claimTasks(at(40), OTHER, 10))).toEqual(ids([free, expired, newest]));
      expect(ids(await claimTasks(at(100), OWNER, 10))).toEqual(ids([free, expired, live, newest]));
      expect(await store.getBackgroundTask(finished.id)).toEqual(finished);
      expect(await store.getBackgroundTask(failed.id)).toEqual(failed);
    });

    it('never hands the same task to two concurrent claimers', async () => {
      const { app } = await seedApp([]);
      const created: BackgroundTask[] = [];
      for (let i = 0; i < 6; i++) created.push(await store.createBackgroundTask(makeTask(app.id, { createdAt: at(i) })));
      const claims = await Promise.all(['runner_a', 'runner_b', 'runner_c', 'runner_d'].map((owner) => claimTasks(at(10), owner, 3)));
      const late = await claimTasks(at(10), 'runner_e');
      const claimed = ids([...claims.flat(), ...late]);
      expect(claimed.sort()).toEqual(ids(created).sort());
    });

    it('queues one manual delivery per message of the window the endpoint never got and accepts, counting expired payloads', async () => {
      const { app } = await seedApp([]);
      const other = await store.createApplication(makeApp());
      await sendAt(app.id, 5); // before the window
      const missing = await sendAt(app.id, 10); // at its start, which the window includes
      await sendAt(app.id, 20, { payloadExpiresAt: at(25) }); // accepted, its payload expired
      await sendAt(app.id, 22, { eventType: 'user.created', payloadExpiresAt: at(25) }); // expired, but filtered out anyway
      const expunged = await sendAt(app.id, 24);
      await sendAt(app.id, 30, { eventType: 'user.created' });
      await sendAt(app.id, 40, { channels: ['us'] });
      await sendAt(app.id, 45, { channels: null });
      await sendAt(other.id, 46);
      expect(await store.expireMessagePayloads(at(25), 10)).toBe(2);
      expect(await store.expungeMessageContent(app.id, expunged.id)).toBe(true);
      const endpoint = await store.createEndpoint(makeEndpoint(app.id, { eventTypes: ['invoice.paid'], channels: ['eu'], createdAt: at(48) }));
      const missingToo = (await store.createMessage(makeMessage(app.id, { createdAt: at(50), channels: ['eu'] }), at(50), { endpointIds: [] })).message;
      const delivered = await sendAt(app.id, 60); // fanned out to the endpoint
      const afterWindow = await sendAt(app.id, 100); // at the window's end, which it excludes

      const task = await startReplay(app.id, endpoint.id, at(10), at(100));
      const result = await runBatch(task.id, at(200));
      expect(result).toEqual({
        task: { ...task, status: 'finished', data: { ...task.data, scanned: 9, queued: 2, skippedExpired: 2, batches: 1 }, cursor: delivered.id, updatedAt: at(200) },
        queued: 2,
      });
      expect(await store.getBackgroundTask(task.id)).toEqual(result!.task);

      const attempted = await store.listAttemptedMessages(app.id, endpoint.id, { limit: 20 });
      expect(attempted.data.map((m) => [m.message.id, m.delivery.triggerType])).toEqual([
        [afterWindow.id, 'scheduled'],
        [delivered.id, 'scheduled'],
        [missingToo.id, 'manual'],
        [missing.id, 'manual'],
      ]);
      for (const { delivery } of attempted.data.slice(2)) {
        expect(delivery).toMatchObject({ endpointId: endpoint.id, status: 'pending', triggerType: 'manual', attemptCount: 0, nextAttemptAt: at(200), lockedUntil: null });
      }
    });

    it('queues nothing twice when the same window is replayed twice, even at once', async () => {
      const { app } = await seedApp([]);
      const sent: Message[] = [];
      for (let i = 0; i < 3; i++) sent.push(await sendAt(app.id, i));
      const endpoint = await store.createEndpoint(makeEndpoint(app.id, { createdAt: at(5) }));
      const first = await startReplay(app.id, endpoint.id, at(0), at(10));
      const second = await startReplay(app.id, endpoint.id, at(0), at(10), { owner: OTHER });

      const results = await Promise.all([runBatch(first.id, at(200)), runBatch(second.id, at(200), { leaseOwner: OTHER })]);
      expect(results.map((r) => r!.queued).sort((x, y) => x - y)).toEqual([0, 3]);
      expect(results.map((r) => r!.task.data.scanned)).toEqual([3, 3]);
      const third = await startReplay(app.id, endpoint.id, at(0), at(10), { now: at(300) });
      expect(await runBatch(third.id, at(300))).toMatchObject({ queued: 0, task: { status: 'finished', data: { scanned: 3, queued: 0, skippedExpired: 0 } } });

      const jobs = await store.claimDueDeliveries({ now: at(1000), limit: 100, leaseMs: 1000 });
      expect(jobs.map((j) => j.message.id).sort()).toEqual(ids(sent).sort());
    });

    it('advances cursor, progress and lease batch by batch, and finishes when a batch is not full', async () => {
      const { app } = await seedApp([]);
      const sent: Message[] = [];
      for (let i = 0; i < 5; i++) sent.push(await sendAt(app.id, i));
      const endpoint = await store.createEndpoint(makeEndpoint(app.id, { createdAt: at(5) }));
      const task = await startReplay(app.id, endpoint.id, at(0), at(10)); // leased until 230 s
      const progress = (scanned: number, batches: number) => ({ ...task.data, scanned, queued: scanned, batches });

      expect(await runBatch(task.id, at(210), { limit: 2 })).toEqual({
        task: { ...task, data: progress(2, 1), cursor: sent[1]!.id, updatedAt: at(210) },
        queued: 2,
      });
      // The batch renewed the lease until 240 s.
      expect(await claimTasks(at(235), OTHER)).toEqual([]);
      expect(await runBatch(task.id, at(236), { limit: 2 })).toEqual({
        task: { ...task, data: progress(4, 2), cursor: sent[3]!.id, updatedAt: at(236) },
        queued: 2,
      });
      const last = await runBatch(task.id, at(237), { limit: 2 });
      expect(last).toEqual({ task: { ...task, status: 'finished', data: progress(5, 3), cursor: sent[4]!.id, updatedAt: at(237) }, queued: 1 });
      expect(await store.getBackgroundTask(task.id)).toEqual(last!.task);
      expect(await runBatch(task.id, at(238), { limit: 2 })).toBeNull();
      expect(await claimTasks(at(1000), OTHER)).toEqual([]);

      // A full last batch leaves the task running; the empty one after it finishes it, keeping the cursor.
      const exact = await startReplay(app.id, endpoint.id, at(0), at(10), { now: at(300) });
      expect(await runBatch(exact.id, at(300), { limit: 5 })).toMatchObject({ task: { status: 'running', cursor: sent[4]!.id, data: { scanned: 5, queued: 0, batches: 1 } } });
      expect(await runBatch(exact.id, at(301), { limit: 5 })).toMatchObject({ task: { status: 'finished', cursor: sent[4]!.id, data: { scanned: 5, queued: 0, batches: 2 } } });
    });

    it('fails the task, saying why, when its endpoint was disabled or deleted or is another application’s', async () => {
      const { app } = await seedApp([]);
      const { endpoints: [foreign] } = await seedApp();
      const sent = [await sendAt(app.id, 1), await sendAt(app.id, 2)];
      const toDisable = await store.createEndpoint(makeEndpoint(app.id, { createdAt: at(5) }));
      const toDelete = await store.createEndpoint(makeEndpoint(app.id, { createdAt: at(5) }));

      const task = await startReplay(app.id, toDisable.id, at(0), at(10));
      expect(await runBatch(task.id, at(200), { limit: 1 })).toMatchObject({ queued: 1 });
      await store.updateEndpoint({ ...toDisable, disabled: true, updatedAt: at(201) });
      const disabled = await runBatch(task.id, at(202), { limit: 1 });
      expect(disabled).toEqual({
        task: {
          ...task,
          status: 'failed',
          data: { ...task.data, scanned: 1, queued: 1, batches: 1, error: 'The endpoint was disabled; enable it and replay again' },
          cursor: sent[0]!.id,
          updatedAt: at(202),
        },
        queued: 0,
      });
      expect(await store.getBackgroundTask(task.id)).toEqual(disabled!.task);
      expect(await runBatch(task.id, at(203))).toBeNull();
      expect((await store.listAttemptedMessages(app.id, toDisable.id, { limit: 10 })).data.map((m) => m.message.id)).toEqual([sent[0]!.id]);

      expect(await store.deleteEndpoint(app.id, toDelete.id, at(204))).toBe(true);
      for (const endpoint of [toDelete, foreign!]) {
        const doomed = await startReplay(app.id, endpoint.id, at(0), at(10), { now: at(205) });
        expect(await runBatch(doomed.id, at(205))).toEqual({
          task: { ...doomed, status: 'failed', data: { ...doomed.data, error: 'The endpoint was deleted' }, updatedAt: at(205) },
          queued: 0,
        });
        expect((await store.listAttemptedMessages(app.id, endpoint.id, { limit: 10 })).data).toEqual([]);
      }
      expect(await claimTasks(at(1000), OTHER)).toEqual([]);
    });

    it('runs no batch of a task that is not running or whose lease the caller does not hold', async () => {
      const { app } = await seedApp([]);
      await sendAt(app.id, 1);
      const endpoint = await store.createEndpoint(makeEndpoint(app.id, { createdAt: at(5) }));
      const task = await startReplay(app.id, endpoint.id, at(0), at(10)); // OWNER's until 230 s

      expect(await runBatch(task.id, at(200), { leaseOwner: OTHER })).toBeNull();
      // OWNER's lease ends and another process takes the task over: OWNER's batches are refused.
      expect(ids(await claimTasks(at(230), OTHER))).toEqual([task.id]);
      expect(await runBatch(task.id, at(231))).toBeNull();
      expect(await store.getBackgroundTask(task.id)).toEqual(task);

      for (const status of ['finished', 'failed'] as const) {
        const ended = await store.createBackgroundTask(makeTask(app.id, { status, data: replayData(endpoint.id, at(0), at(10)) }), { owner: OWNER, until: at(1000) });
        expect(await runBatch(ended.id, at(200))).toBeNull();
        expect(await store.getBackgroundTask(ended.id)).toEqual(ended);
      }
      expect(await runBatch(newId('qtask', T0), at(200))).toBeNull();
      expect((await store.listAttemptedMessages(app.id, endpoint.id, { limit: 10 })).data).toEqual([]);
    });

    it('gives a lease up: the task stays running and claimable at once, or with an error ends as failed', async () => {
      const { app } = await seedApp([]);
      const task = await store.createBackgroundTask(
        makeTask(app.id, { data: { ...replayData('ep_x', at(0), at(60)), scanned: 3, queued: 2, batches: 1 }, cursor: newId('msg', T0) }),
        { owner: OWNER, until: at(600) },
      );
      expect(await claimTasks(at(10), OTHER)).toEqual([]);
      expect(await store.releaseBackgroundTask({ id: task.id, leaseOwner: OTHER, now: at(10) })).toBe(false);
      expect(await store.releaseBackgroundTask({ id: task.id, leaseOwner: OWNER, now: at(10), error: null })).toBe(true);
      const released = { ...task, updatedAt: at(10) };
      expect(await store.getBackgroundTask(task.id)).toEqual(released);
      expect(await claimTasks(at(10), OTHER)).toEqual([released]);
      // OTHER holds it now: OWNER has nothing left to give up.
      expect(await store.releaseBackgroundTask({ id: task.id, leaseOwner: OWNER, now: at(11) })).toBe(false);
      expect(await store.getBackgroundTask(task.id)).toEqual(released);

      const error = 'Internal error; see the server log';
      expect(await store.releaseBackgroundTask({ id: task.id, leaseOwner: OTHER, now: at(20), error })).toBe(true);
      expect(await store.getBackgroundTask(task.id)).toEqual({ ...task, status: 'failed', data: { ...task.data, error }, updatedAt: at(20) });
      expect(await claimTasks(at(1000), 'runner_c')).toEqual([]);
      expect(await store.releaseBackgroundTask({ id: task.id, leaseOwner: OTHER, now: at(21) })).toBe(false);
      expect(await store.releaseBackgroundTask({ id: newId('qtask', T0), leaseOwner: OWNER, now: at(21) })).toBe(false);
    });

    it('finishes a task its owner holds, merging data, and nothing else', async () => {
      const { app } = await seedApp([]);
      const data = { endpointId: 'ep_x', since: at(0).toISOString(), until: at(60).toISOString(), recovered: 0 };
      const task = await store.createBackgroundTask(makeTask(app.id, { task: 'endpoint.recover', data }), { owner: OWNER, until: at(600) });
      expect(await store.finishBackgroundTask({ id: task.id, leaseOwner: OTHER, now: at(10), data: { recovered: 9 } })).toBeNull();
      const finished = { ...task, status: 'finished' as const, data: { ...data, recovered: 3 }, updatedAt: at(10) };
      expect(await store.finishBackgroundTask({ id: task.id, leaseOwner: OWNER, now: at(10), data: { recovered: 3 } })).toEqual(finished);
      expect(await store.getBackgroundTask(task.id)).toEqual(finished);
      // Finished: not claimable, not finished again.
      expect(await claimTasks(at(1000), OTHER)).toEqual([]);
      expect(await store.finishBackgroundTask({ id: task.id, leaseOwner: OWNER, now: at(11), data: { recovered: 4 } })).toBeNull();
      expect(await store.finishBackgroundTask({ id: newId('qtask', T0), leaseOwner: OWNER, now: at(11), data: {} })).toBeNull();
    });
  });
}
