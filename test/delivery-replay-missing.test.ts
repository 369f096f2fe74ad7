// Replay-missing: every message of an application in a window that never reached an endpoint gets
// one manual delivery, in batches after the API answered 202, with progress readable through
// GET /api/v1/background-task. A stopped process's task is resumed by another, from its cursor.
import { Svix } from 'svix';
import { describe, expect, it } from 'vitest';
import type { BackgroundTask } from '../src/domain/background-tasks.js';
import { newId } from '../src/domain/ids.js';
import { openStore } from '../src/storage/open-store.js';
import {
  attemptsToEndpoint,
  createApp,
  createEndpoint,
  createEventTypes,
  eventually,
  expectStatus,
  useDeliveryFixtures,
  waitForDestinationStatus,
} from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const { setup, receiver, defer } = useDeliveryFixtures();

interface Sent {
  id: string;
  timestamp: string;
}

/** POST a message and return its id and creation time. */
async function send(tw: TestTapwire, appId: string, eventType: string, payload: object, channels?: string[]): Promise<Sent> {
  const res = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType, payload, ...(channels ? { channels } : {}) }), 202, 'create message');
  return { id: res.body.id, timestamp: res.body.timestamp };
}

/**
 * A window boundary right after `message` was created: returns its time + 1 ms once the clock has
 * passed it, so the message is before the boundary and every message sent afterwards is at or after it.
 */
async function boundaryAfter(message: Sent): Promise<string> {
  const at = Date.parse(message.timestamp) + 1;
  await eventually(async () => Date.now(), (now) => now > at, { what: 'the clock passing a window boundary' });
  return new Date(at).toISOString();
}

/** Poll GET /background-task/{id} until the task is no longer running. */
async function finished(tw: TestTapwire, taskId: string, token?: string): Promise<any> {
  return eventually(
    async () => expectStatus(await tw.api('GET', `/api/v1/background-task/${taskId}`, undefined, token ? { token } : {}), 200, 'get task').body,
    (task) => task.status !== 'running',
    { what: `background task ${taskId} ending` },
  );
}

async function replay(tw: TestTapwire, appId: string, endpointId: string, body: object, token?: string): Promise<any> {
  const res = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${endpointId}/replay-missing`, body, token ? { token } : {}), 202, 'replay-missing');
  return res.body;
}

/** The ids of the messages queued for an endpoint (GET …/endpoint/{id}/msg), sorted. */
async function queuedFor(tw: TestTapwire, appId: string, endpointId: string): Promise<string[]> {
  const res = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${endpointId}/msg?limit=250`), 200, 'list attempted messages');
  return (res.body.data as any[]).map((m) => m.id).sort();
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const ids = (...messages: Sent[]): string[] => messages.map((m) => m.id).sort();
const webhookIds = (requests: { headers: Record<string, unknown> }[]): string[] => requests.map((r) => String(r.headers['webhook-id'])).sort();

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('what gets replayed', () => {
    it('queues exactly the messages of the window the endpoint never got and accepts now, once', async () => {
      const { tw, appId } = await setup();
      await createEventTypes(tw, 'a.b', 'c.d', 'e.f');
      const rx = await receiver();
      rx.respond((req) => (req.body.toString().includes('"fail"') ? { status: 500, body: 'no' } : { status: 200, body: 'ok' }));

      const beforeSince = await send(tw, appId, 'a.b', { n: 'before since' }, ['main']);
      const since = await boundaryAfter(beforeSince);
      const noEndpointYet = await send(tw, appId, 'a.b', { n: 'no endpoint yet' }, ['main']);
      const expunged = await send(tw, appId, 'a.b', { n: 'expunged' }, ['main']);
      expectStatus(await tw.api('DELETE', `/api/v1/app/${appId}/msg/${expunged.id}/content`), 204, 'expunge');
      const otherChannel = await send(tw, appId, 'a.b', { n: 'other channel' }, ['other']);
      const ep = await createEndpoint(tw, appId, { url: rx.url, filterTypes: ['a.b'], channels: ['main'] });
      const delivered = await send(tw, appId, 'a.b', { n: 'delivered' }, ['main']);
      await waitForDestinationStatus(tw, appId, delivered.id, ep.id, 0);
      const failed = await send(tw, appId, 'a.b', { n: 'fail' }, ['main']);
      await waitForDestinationStatus(tw, appId, failed.id, ep.id, 2);
      const filteredThen = await send(tw, appId, 'c.d', { n: 'filtered then' }, ['main']);
      const neverAccepted = await send(tw, appId, 'e.f', { n: 'never accepted' }, ['main']);
      const until = await boundaryAfter(neverAccepted);
      const afterUntil = await send(tw, appId, 'c.d', { n: 'after until' }, ['main']);
      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { filterTypes: ['a.b', 'c.d'] }), 200, 'widen the filter');
      expect(await queuedFor(tw, appId, ep.id)).toEqual(ids(delivered, failed));
      const requestsBefore = rx.requests.length;

      const started = await replay(tw, appId, ep.id, { since, until });
      expect(started).toEqual({ id: expect.stringMatching(/^qtask_/), status: 'running', task: 'endpoint.replay', updatedAt: expect.any(String) });
      const task = await finished(tw, started.id);
      expect(task).toEqual({
        id: started.id,
        status: 'finished',
        task: 'endpoint.replay',
        data: { endpointId: ep.id, since, until, scanned: 7, queued: 2, skippedExpired: 1, batches: 1 },
        updatedAt: expect.any(String),
      });
      // Every delivery is committed by the time the task finishes: these and no others.
      expect(await queuedFor(tw, appId, ep.id)).toEqual(ids(delivered, failed, noEndpointYet, filteredThen));
      for (const message of [noEndpointYet, filteredThen]) await waitForDestinationStatus(tw, appId, message.id, ep.id, 0);
      expect(webhookIds(rx.requests.slice(requestsBefore))).toEqual(ids(noEndpointYet, filteredThen));
      const replayed = (await attemptsToEndpoint(tw, appId, ep.id)).filter((a) => [noEndpointYet.id, filteredThen.id].includes(a.msgId));
      expect(replayed.map((a) => [a.triggerType, a.status])).toEqual([[1, 0], [1, 0]]);
      for (const untouched of [beforeSince, afterUntil, otherChannel, neverAccepted, expunged]) {
        expect(rx.requests.some((r) => r.headers['webhook-id'] === untouched.id), untouched.id).toBe(false);
      }

      // Nothing is missing any more: a second run looks at the same messages and queues nothing.
      const again = await finished(tw, (await replay(tw, appId, ep.id, { since, until })).id);
      expect(again.data).toMatchObject({ scanned: 7, queued: 0, skippedExpired: 1 });
      expect(await queuedFor(tw, appId, ep.id)).toEqual(ids(delivered, failed, noEndpointYet, filteredThen));
    });

    it('reaches until now by default, and treats a later until as now', async () => {
      const { tw, appId } = await setup();
      const first = await send(tw, appId, 'a.b', { n: 1 });
      const second = await send(tw, appId, 'a.b', { n: 2 });
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const task = await finished(tw, (await replay(tw, appId, ep.id, { since: first.timestamp })).id);
      expect(task.data).toMatchObject({ since: first.timestamp, scanned: 2, queued: 2 });
      expect(Date.parse(task.data.until)).toBeGreaterThan(Date.parse(second.timestamp));
      await rx.waitFor((r) => r.length === 2);
      expect(webhookIds(rx.requests)).toEqual(ids(first, second));

      const future = new Date(Date.now() + 3600_000).toISOString();
      const later = await finished(tw, (await replay(tw, appId, ep.id, { since: first.timestamp, until: future })).id);
      expect(Date.parse(later.data.until)).toBeLessThan(Date.parse(future));
      expect(later.data).toMatchObject({ queued: 0 });
    });
  });

  describe('progress', () => {
    it('works in batches and shows how far it got after each', async () => {
      const firstBatch = deferred<void>();
      const gate = deferred<void>();
      const { tw, appId } = await setup({}, {
        backgroundTasks: {
          batchSize: 2,
          onBatch: async (task) => {
            if ((task.data as { batches: number }).batches !== 1) return;
            firstBatch.resolve();
            await gate.promise;
          },
        },
      });
      const sent: Sent[] = [];
      for (let n = 0; n < 5; n++) sent.push(await send(tw, appId, 'a.b', { n }));
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });

      const started = await replay(tw, appId, ep.id, { since: sent[0]!.timestamp });
      await firstBatch.promise;
      const midway = expectStatus(await tw.api('GET', `/api/v1/background-task/${started.id}`), 200, 'get task').body;
      expect(midway).toMatchObject({ status: 'running', data: { scanned: 2, queued: 2, skippedExpired: 0, batches: 1 } });
      const running = expectStatus(await tw.api('GET', '/api/v1/background-task?status=running'), 200, 'list running').body;
      expect(running.data.map((t: any) => t.id)).toEqual([started.id]);
      gate.resolve();

      const task = await finished(tw, started.id);
      expect(task.data).toMatchObject({ scanned: 5, queued: 5, skippedExpired: 0, batches: 3 });
      await rx.waitFor((r) => r.length === 5);
      expect(webhookIds(rx.requests)).toEqual(ids(...sent));
    });

    it('fails, saying why, when the endpoint is disabled while it runs', async () => {
      let afterFirstBatch: () => Promise<void> = async () => undefined;
      // Once only: the failed task still reports batches = 1, and a second PATCH from inside the
      // server would race the test's teardown.
      let hooked = false;
      const { tw, appId } = await setup({}, {
        backgroundTasks: {
          batchSize: 1,
          onBatch: async (task) => {
            if (hooked || (task.data as { batches: number }).batches !== 1) return;
            hooked = true;
            await afterFirstBatch();
          },
        },
      });
      const sent: Sent[] = [];
      for (let n = 0; n < 3; n++) sent.push(await send(tw, appId, 'a.b', { n }));
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      afterFirstBatch = async () => {
        expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: true }), 200, 'disable');
      };
      const task = await finished(tw, (await replay(tw, appId, ep.id, { since: sent[0]!.timestamp })).id);
      expect(task).toMatchObject({ status: 'failed', data: { scanned: 1, queued: 1, batches: 1, error: 'The endpoint was disabled; enable it and replay again' } });
      expect(await queuedFor(tw, appId, ep.id)).toEqual(ids(sent[0]!));
    });

    it('lists tasks newest first with the list conventions, and finds recover tasks by id', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const since = new Date(Date.now() - 60_000).toISOString();
      const first = await finished(tw, (await replay(tw, appId, ep.id, { since })).id);
      const recover = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/recover`, { since }), 202, 'recover').body;
      expect(recover.status).toBe('running');
      await finished(tw, recover.id);
      const second = await finished(tw, (await replay(tw, appId, ep.id, { since })).id);

      const recorded = expectStatus(await tw.api('GET', `/api/v1/background-task/${recover.id}`), 200, 'get recover task').body;
      expect(recorded).toMatchObject({ id: recover.id, status: 'finished', task: 'endpoint.recover', data: { endpointId: ep.id, since, recovered: 0 } });

      const all = expectStatus(await tw.api('GET', '/api/v1/background-task'), 200, 'list').body;
      expect(all.data.map((t: any) => t.id)).toEqual([second.id, recover.id, first.id]);
      expect(all.done).toBe(true);
      const replays = expectStatus(await tw.api('GET', '/api/v1/background-task?task=endpoint.replay'), 200, 'list replays').body;
      expect(replays.data.map((t: any) => t.id)).toEqual([second.id, first.id]);
      const page1 = expectStatus(await tw.api('GET', '/api/v1/background-task?limit=2'), 200, 'page 1').body;
      expect(page1).toMatchObject({ done: false, iterator: recover.id });
      const page2 = expectStatus(await tw.api('GET', `/api/v1/background-task?limit=2&iterator=${page1.iterator}`), 200, 'page 2').body;
      expect(page2).toMatchObject({ done: true, data: [{ id: first.id }] });
      const oldestFirst = expectStatus(await tw.api('GET', '/api/v1/background-task?order=ascending'), 200, 'ascending').body;
      expect(oldestFirst.data.map((t: any) => t.id)).toEqual([first.id, recover.id, second.id]);
      expect(expectStatus(await tw.api('GET', '/api/v1/background-task?status=failed'), 200, 'failed').body.data).toEqual([]);
    });
  });

  describe('access', () => {
    it("an application's token sees its own tasks only; another application's are not found", async () => {
      const { tw, appId } = await setup();
      const otherAppId = await createApp(tw, 'Other');
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const otherEp = await createEndpoint(tw, otherAppId, { url: rx.url });
      const since = new Date(Date.now() - 60_000).toISOString();
      const token = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, {}), 200, 'app token').body.token as string;

      const own = await finished(tw, (await replay(tw, appId, ep.id, { since }, token)).id, token);
      const foreign = await finished(tw, (await replay(tw, otherAppId, otherEp.id, { since })).id);

      const hidden = await tw.api('GET', `/api/v1/background-task/${foreign.id}`, undefined, { token });
      expect(hidden.status).toBe(404);
      expect(hidden.body).toEqual({ code: 'not_found', detail: 'Background task not found' });
      const listed = expectStatus(await tw.api('GET', '/api/v1/background-task', undefined, { token }), 200, 'list as app').body;
      expect(listed.data.map((t: any) => t.id)).toEqual([own.id]);
      expect((await tw.api('POST', `/api/v1/app/${otherAppId}/endpoint/${otherEp.id}/replay-missing`, { since }, { token })).status).toBe(404);
      const admin = expectStatus(await tw.api('GET', '/api/v1/background-task'), 200, 'list as admin').body;
      expect(admin.data.map((t: any) => t.id)).toEqual([foreign.id, own.id]);
      expect((await tw.api('GET', '/api/v1/background-task', undefined, { token: null })).status).toBe(401);
      expect((await tw.api('GET', '/api/v1/background-task/qtask_nope')).status).toBe(404);
    });
  });

  describe('validation', () => {
    it('answers 422 naming the field, and refuses a disabled endpoint as recover does', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const path = `/api/v1/app/${appId}/endpoint/${ep.id}/replay-missing`;
      const hour = 3600_000;
      const cases: [unknown, string][] = [
        [{}, 'field required'],
        [{ since: 'yesterday' }, 'must be a valid date-time'],
        [{ since: new Date(Date.now() - hour).toISOString(), until: new Date(Date.now() - 2 * hour).toISOString() }, 'since must be before until'],
        [{ since: new Date(Date.now() + hour).toISOString() }, 'since must be in the past'],
        [{ since: new Date(Date.now() - 91 * 24 * hour).toISOString() }, 'since may be at most 90 days in the past (the longest payload retention)'],
      ];
      for (const [body, msg] of cases) {
        const res = await tw.api('POST', path, body);
        expect(res.status, JSON.stringify(body)).toBe(422);
        expect(res.body.detail, JSON.stringify(body)).toEqual([expect.objectContaining({ loc: ['body', 'since'], msg })]);
      }
      for (const query of ['status=done', 'task=endpoint.bogus', 'iterator=msg_1', 'limit=251']) {
        const res = await tw.api('GET', `/api/v1/background-task?${query}`);
        expect(res.status, query).toBe(422);
        expect(res.body.detail[0].loc, query).toEqual(['query', query.split('=')[0]]);
      }
      expect((await tw.api('POST', `/api/v1/app/${appId}/endpoint/ep_missing/replay-missing`, { since: new Date().toISOString() })).status).toBe(404);

      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: true }), 200, 'disable');
      const since = new Date(Date.now() - hour).toISOString();
      const refused = await tw.api('POST', path, { since });
      const recoverRefused = await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/recover`, { since });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({ code: 'generic_error', detail: 'The endpoint is disabled; enable it before replaying messages' });
      expect([recoverRefused.status, recoverRefused.body.code]).toEqual([400, 'generic_error']);
      expect(expectStatus(await tw.api('GET', '/api/v1/background-task'), 200, 'list').body.data).toEqual([]);
    });
  });

  describe('resuming', () => {
    it('maintenance takes over a task whose process stopped, from its cursor, and leaves a live lease alone', async () => {
      const { tw, appId } = await setup();
      const sent: Sent[] = [];
      for (let n = 0; n < 3; n++) sent.push(await send(tw, appId, 'a.b', { n }));
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const now = new Date();
      const task = (cursor: string | null, progress: number): BackgroundTask => ({
        id: newId('qtask'),
        appId,
        task: 'endpoint.replay',
        status: 'running',
        data: { endpointId: ep.id, since: sent[0]!.timestamp, until: now.toISOString(), scanned: progress, queued: progress, skippedExpired: 0, batches: progress },
        cursor,
        createdAt: now,
        updatedAt: now,
      });
      // A process that stopped after its first batch (which, we pretend, queued the first message).
      const stopped = await tw.server.store.createBackgroundTask(task(sent[0]!.id, 1), { owner: 'runner_stopped', until: new Date(now.getTime() - 1) });
      // A process that is alive and holds its task.
      const held = await tw.server.store.createBackgroundTask(task(null, 0), { owner: 'runner_alive', until: new Date(now.getTime() + 600_000) });

      await tw.server.runMaintenance();
      const resumed = await finished(tw, stopped.id);
      expect(resumed.data).toMatchObject({ scanned: 3, queued: 3, batches: 2 });
      await rx.waitFor((r) => r.length === 2);
      expect(webhookIds(rx.requests)).toEqual(ids(sent[1]!, sent[2]!));
      expect(await queuedFor(tw, appId, ep.id)).toEqual(ids(sent[1]!, sent[2]!));

      await tw.server.runMaintenance();
      expect(await tw.server.store.getBackgroundTask(held.id)).toMatchObject({ status: 'running', cursor: null, data: { batches: 0 } });
    });

    it('a server that stops mid-task gives it up, and the next one to start finishes it', async () => {
      let firstServer: TestTapwire | null = null;
      const { tw, appId } = await setup({}, {
        backgroundTasks: {
          batchSize: 1,
          // Stop taking batches after the first, as a shutdown would.
          onBatch: () => void firstServer!.server.backgroundTasks.close(),
        },
      });
      firstServer = tw;
      const sent: Sent[] = [];
      for (let n = 0; n < 3; n++) sent.push(await send(tw, appId, 'a.b', { n }));
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const started = await replay(tw, appId, ep.id, { since: sent[0]!.timestamp });
      await tw.server.backgroundTasks.idle();
      await tw.server.close();

      const next = await startTapwire({ TAPWIRE_DATABASE_URL: tw.config.databaseUrl });
      defer(() => next.close());
      const task = await finished(next, started.id);
      // One batch of one message before the stop, then one (default size) for the other two: the
      // cursor carried over, nothing was looked at twice.
      expect(task.data).toMatchObject({ scanned: 3, queued: 3, batches: 2 });
      for (const message of sent) await waitForDestinationStatus(next, appId, message.id, ep.id, 0);
      expect(webhookIds(rx.requests)).toEqual(ids(...sent));
    });

    it('two processes claiming at once never take the same task, and a batch needs the lease', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const second = await openStore(tw.config.databaseUrl, { poolSize: 2 });
      defer(() => second.close());
      const now = new Date();
      const created: string[] = [];
      for (let n = 0; n < 6; n++) {
        const task = await tw.server.store.createBackgroundTask({
          id: newId('qtask'),
          appId,
          task: 'endpoint.replay',
          status: 'running',
          data: { endpointId: ep.id, since: new Date(now.getTime() - 60_000).toISOString(), until: now.toISOString(), scanned: 0, queued: 0, skippedExpired: 0, batches: 0 },
          cursor: null,
          createdAt: now,
          updatedAt: now,
        });
        created.push(task.id);
      }
      const claim = (store: typeof second, leaseOwner: string) => store.claimBackgroundTasks({ now, leaseOwner, leaseMs: 60_000, limit: 10 });
      const [a, b] = await Promise.all([claim(tw.server.store, 'runner_a'), claim(second, 'runner_b')]);
      const taken = [...a, ...b].map((t) => t.id);
      expect(taken.sort()).toEqual([...created].sort());
      expect(new Set(taken).size).toBe(created.length);
      expect(await claim(second, 'runner_c')).toEqual([]);

      const ofA = a[0] ?? b[0]!;
      const owner = a.length > 0 ? 'runner_a' : 'runner_b';
      const notOwner = owner === 'runner_a' ? 'runner_b' : 'runner_a';
      const batch = { taskId: ofA.id, now, leaseMs: 60_000, limit: 10 };
      expect(await second.runReplayMissingBatch({ ...batch, leaseOwner: notOwner })).toBeNull();
      expect(await second.runReplayMissingBatch({ ...batch, leaseOwner: owner })).toMatchObject({ task: { status: 'finished' }, queued: 0 });
      expect(await second.runReplayMissingBatch({ ...batch, leaseOwner: owner })).toBeNull();
      expect(await second.releaseBackgroundTask({ id: ofA.id, leaseOwner: owner, now })).toBe(false);
    });
  });

  describe('the official svix client', () => {
    it('endpoint.replayMissing, backgroundTask.get and backgroundTask.list', async () => {
      const { tw, appId } = await setup();
      const first = await send(tw, appId, 'a.b', { n: 1 });
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const svix = new Svix(ADMIN_TOKEN, { serverUrl: tw.url });
      const started = await svix.endpoint.replayMissing(appId, ep.id, { since: new Date(first.timestamp) });
      expect(started).toMatchObject({ id: expect.stringMatching(/^qtask_/), status: 'running', task: 'endpoint.replay' });
      expect(started.updatedAt).toBeInstanceOf(Date);
      const task = await eventually(() => svix.backgroundTask.get(started.id), (t) => t.status !== 'running');
      expect(task).toMatchObject({ status: 'finished', data: { scanned: 1, queued: 1 } });
      const list = await svix.backgroundTask.list({ limit: 10 });
      expect(list.data.map((t) => t.id)).toEqual([started.id]);
      await rx.waitFor((r) => r.length === 1);
    });
  });
});
