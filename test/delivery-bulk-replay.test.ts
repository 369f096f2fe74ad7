// Bulk replay: the messages of a window that were sent to an endpoint, whatever their outcome, are
// sent again (one manual delivery each) when they match the filters: event types, channel, the
// status of their latest delivery, the status code class of their latest attempt. It runs as an
// `endpoint.bulk-replay` background task in batches, resumable by another process.
import { Svix } from 'svix';
import { BackgroundTaskType, Svix as Svix2 } from 'svix2';
import { describe, expect, it } from 'vitest';
import type { BackgroundTask, BulkReplayData } from '../src/domain/background-tasks.js';
import { newId } from '../src/domain/ids.js';
import { createEndpoint, createEventTypes, eventually, expectStatus, useDeliveryFixtures, waitForDestinationStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, type TestTapwire } from './helpers/tapwire.js';

const { setup, receiver } = useDeliveryFixtures();

interface Sent {
  id: string;
  timestamp: string;
}

async function send(tw: TestTapwire, appId: string, eventType: string, payload: object, channels?: string[]): Promise<Sent> {
  const res = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType, payload, ...(channels ? { channels } : {}) }), 202, 'send');
  return { id: res.body.id, timestamp: res.body.timestamp };
}

/** A window boundary right after `message`: its time + 1 ms, once the clock has passed it. */
async function boundaryAfter(message: Sent): Promise<string> {
  const at = Date.parse(message.timestamp) + 1;
  await eventually(async () => Date.now(), (now) => now > at, { what: 'the clock passing a window boundary' });
  return new Date(at).toISOString();
}

function finished(tw: TestTapwire, taskId: string): Promise<any> {
  return eventually(
    async () => expectStatus(await tw.api('GET', `/api/v1/background-task/${taskId}`), 200, 'get task').body,
    (task) => task.status !== 'running',
    { what: `background task ${taskId} ending` },
  );
}

function bulkReplay(tw: TestTapwire, appId: string, endpointId: string, body: object, token?: string) {
  return tw.api('POST', `/api/v1/app/${appId}/endpoint/${endpointId}/bulk-replay`, body, token ? { token } : {});
}

const ids = (...messages: Sent[]): string[] => messages.map((m) => m.id).sort();

describe.each(await backends())('%s', (backend) => {
  it('sends again exactly the messages of the window sent to the endpoint that match the filters, whatever their outcome', async () => {
    const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: 'none' }, { backend });
    await createEventTypes(tw, 'a.b', 'c.d');
    const rx = await receiver();
    rx.respond((req) => {
      const body = req.body.toString();
      if (body.includes('"5xx"')) return { status: 503, body: 'down' };
      if (body.includes('"4xx"')) return { status: 404, body: 'gone' };
      return { status: 200, body: 'ok' };
    });
    const ep = await createEndpoint(tw, appId, { url: rx.url });
    const other = await createEndpoint(tw, appId, { url: rx.url, filterTypes: ['c.d'] });

    const beforeSince = await send(tw, appId, 'a.b', { n: 'before' });
    const since = await boundaryAfter(beforeSince);
    const okEu = await send(tw, appId, 'a.b', { n: 'ok eu' }, ['eu']);
    const okCd = await send(tw, appId, 'c.d', { n: 'ok cd' });
    const failed5xx = await send(tw, appId, 'a.b', { n: '5xx' });
    const failed4xx = await send(tw, appId, 'a.b', { n: '4xx' }, ['eu']);
    const expunged = await send(tw, appId, 'a.b', { n: 'expunged' });
    const until = await boundaryAfter(expunged);
    const afterUntil = await send(tw, appId, 'a.b', { n: 'after' });
    const outcome = new Map([[okEu, 0], [okCd, 0], [failed5xx, 2], [failed4xx, 2], [expunged, 0], [beforeSince, 0], [afterUntil, 0]]);
    for (const [message, status] of outcome) await waitForDestinationStatus(tw, appId, message.id, ep.id, status);
    await waitForDestinationStatus(tw, appId, okCd.id, other.id, 0);
    expectStatus(await tw.api('DELETE', `/api/v1/app/${appId}/msg/${expunged.id}/content`), 204, 'expunge');

    /** Run a bulk replay of [since, until) to `ep` and return its task and the messages it sent, once each has its answer. */
    const replay = async (filters: object) => {
      const before = rx.requests.length;
      const started = expectStatus(await bulkReplay(tw, appId, ep.id, { since, until, ...filters }), 202, 'bulk replay').body;
      expect(started).toEqual({ id: expect.stringMatching(/^qtask_/), status: 'running', task: 'endpoint.bulk-replay', updatedAt: expect.any(String) });
      const task = await finished(tw, started.id);
      await rx.waitFor((r) => r.length === before + task.data.messagesSent);
      const sent = rx.requests.slice(before).map((r) => String(r.headers['webhook-id'])).sort();
      // Each one's manual attempt is recorded, with the same outcome as before, before the next replay reads states.
      for (const [message, status] of outcome) if (sent.includes(message.id)) await waitForDestinationStatus(tw, appId, message.id, ep.id, status);
      return { task, sent };
    };

    const byStatus = await replay({ status: 2 });
    expect(byStatus.sent).toEqual(ids(failed5xx, failed4xx));
    expect(byStatus.task).toEqual({
      id: expect.any(String),
      status: 'finished',
      task: 'endpoint.bulk-replay',
      data: {
        endpointId: ep.id, since, until, eventTypes: null, channel: null, status: 2, statusCodeClass: null,
        scanned: 5, messagesSent: 2, skippedExpired: 0, batches: 1,
      },
      updatedAt: expect.any(String),
    });
    expect((await replay({ statusCodeClass: 500 })).sent).toEqual(ids(failed5xx));
    expect((await replay({ statusCodeClass: 400, status: 2 })).sent).toEqual(ids(failed4xx));
    expect((await replay({ eventTypes: ['c.d'] })).sent).toEqual(ids(okCd));
    expect((await replay({ channel: 'eu' })).sent).toEqual(ids(okEu, failed4xx));
    expect((await replay({ channel: 'eu', status: 0 })).sent).toEqual(ids(okEu));
    const successes = await replay({ status: 0, statusCodeClass: 200, tag: null });
    expect(successes.sent).toEqual(ids(okEu, okCd));
    expect(successes.task.data).toMatchObject({ messagesSent: 2, skippedExpired: 1 });
    expect((await replay({ status: 1 })).sent).toEqual([]);
    expect((await replay({ status: 4 })).sent).toEqual([]);
    const everything = await replay({});
    expect(everything.sent).toEqual(ids(okEu, okCd, failed5xx, failed4xx));
    expect(everything.task.data).toMatchObject({ scanned: 5, messagesSent: 4, skippedExpired: 1 });
    // Replayed deliveries are manual attempts: triggerType 1.
    const attempts = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/msg/${okCd.id}?endpoint_id=${ep.id}`), 200, 'attempts').body.data;
    expect(attempts.filter((a: any) => a.triggerType === 1).length).toBeGreaterThan(0);
    // Only messages sent to the endpoint count: the other endpoint only ever got okCd.
    const toOther = await finished(tw, expectStatus(await bulkReplay(tw, appId, other.id, { since, until }), 202, 'other').body.id);
    expect(toOther.data).toMatchObject({ scanned: 1, messagesSent: 1 });
  });

  it('works in batches with progress, and another process takes over a task whose process stopped', async () => {
    const { tw, appId } = await setup({}, { backend, backgroundTasks: { batchSize: 2 } });
    const rx = await receiver();
    const ep = await createEndpoint(tw, appId, { url: rx.url });
    const sent: Sent[] = [];
    for (let n = 0; n < 5; n++) sent.push(await send(tw, appId, 'a.b', { n }));
    for (const m of sent) await waitForDestinationStatus(tw, appId, m.id, ep.id, 0);
    const task = await finished(tw, expectStatus(await bulkReplay(tw, appId, ep.id, { since: sent[0]!.timestamp }), 202, 'replay').body.id);
    expect(task.data).toMatchObject({ scanned: 5, messagesSent: 5, batches: 3 });
    await rx.waitFor((r) => r.length === 10);

    // A process that stopped after its first batch (which, we pretend, sent the first two).
    const now = new Date();
    const data: BulkReplayData = {
      endpointId: ep.id, since: sent[0]!.timestamp, until: now.toISOString(), eventTypes: null, channel: null, status: null, statusCodeClass: null,
      scanned: 2, messagesSent: 2, skippedExpired: 0, batches: 1,
    };
    const stopped: BackgroundTask = {
      id: newId('qtask'), appId, task: 'endpoint.bulk-replay', status: 'running', data: data as unknown as Record<string, unknown>,
      cursor: sent[1]!.id, createdAt: now, updatedAt: now,
    };
    await tw.server.store.createBackgroundTask(stopped, { owner: 'runner_stopped', until: new Date(now.getTime() - 1) });
    await tw.server.runMaintenance();
    expect((await finished(tw, stopped.id)).data).toMatchObject({ scanned: 5, messagesSent: 5, batches: 3 });
    await rx.waitFor((r) => r.length === 13);
    expect(rx.requests.slice(10).map((r) => String(r.headers['webhook-id'])).sort()).toEqual(ids(sent[2]!, sent[3]!, sent[4]!));
  });

  it('refuses bad input with 422 naming the field, a disabled endpoint with 400, and tokens without CreateAttempts', async () => {
    const { tw, appId } = await setup({}, { backend });
    const rx = await receiver();
    const ep = await createEndpoint(tw, appId, { url: rx.url });
    const hour = 3600_000;
    const since = new Date(Date.now() - hour).toISOString();
    const cases: [unknown, string][] = [
      [{}, 'since'],
      [{ since: 'yesterday' }, 'since'],
      [{ since, until: new Date(Date.now() - 2 * hour).toISOString() }, 'since'],
      [{ since: new Date(Date.now() + hour).toISOString() }, 'since'],
      [{ since: new Date(Date.now() - 91 * 24 * hour).toISOString() }, 'since'],
      [{ since, status: 5 }, 'status'],
      [{ since, status: '2' }, 'status'],
      [{ since, statusCodeClass: 250 }, 'statusCodeClass'],
      [{ since, eventTypes: 'a.b' }, 'eventTypes'],
      [{ since, eventTypes: ['a.b', 'a.b'] }, 'eventTypes'],
      [{ since, channel: 'no spaces' }, 'channel'],
      [{ since, tag: 'project_1337' }, 'tag'],
    ];
    for (const [body, field] of cases) {
      const res = await bulkReplay(tw, appId, ep.id, body as object);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.detail[0].loc[1], JSON.stringify(body)).toBe(field);
    }
    expect((await bulkReplay(tw, appId, 'ep_missing', { since })).status).toBe(404);
    expect((await bulkReplay(tw, 'app_missing', ep.id, { since })).status).toBe(404);

    const viewOnly = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, { capabilities: ['ViewBase'] }), 200, 'token').body.token;
    const denied = await bulkReplay(tw, appId, ep.id, { since }, viewOnly);
    expect([denied.status, denied.body.code]).toEqual([403, 'insufficient access']);
    const attempts = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, { capabilities: ['ViewBase', 'CreateAttempts'] }), 200, 'token').body.token;
    expect((await bulkReplay(tw, appId, ep.id, { since }, attempts)).status).toBe(202);

    expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: true }), 200, 'disable');
    const refused = await bulkReplay(tw, appId, ep.id, { since });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ code: 'generic_error', detail: 'The endpoint is disabled; enable it before replaying messages' });
  });

  it('works from both official clients', async () => {
    const { tw, appId } = await setup({}, { backend });
    const rx = await receiver();
    const ep = await createEndpoint(tw, appId, { url: rx.url });
    const first = await send(tw, appId, 'a.b', { n: 1 });
    await waitForDestinationStatus(tw, appId, first.id, ep.id, 0);
    const v1 = new Svix(ADMIN_TOKEN, { serverUrl: tw.url });
    const v2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url });
    const one = await v1.endpoint.bulkReplay(appId, ep.id, { since: new Date(first.timestamp), status: 0 });
    expect(one).toMatchObject({ id: expect.stringMatching(/^qtask_/), status: 'running', task: 'endpoint.bulk-replay' });
    expect(one.updatedAt).toBeInstanceOf(Date);
    expect(await eventually(() => v1.backgroundTask.get(one.id), (t) => t.status !== 'running')).toMatchObject({ status: 'finished', data: { messagesSent: 1 } });
    const two = await v2.endpoint.bulkReplay(appId, ep.id, { since: new Date(first.timestamp), eventTypes: ['a.b'], statusCodeClass: 200 });
    expect(two).toMatchObject({ task: 'endpoint.bulk-replay', updatedAt: expect.any(Date) });
    expect(await eventually(() => v2.backgroundTask.get(two.id), (t) => t.status !== 'running')).toMatchObject({ status: 'finished', data: { messagesSent: 1 } });
    const listed = await v2.backgroundTask.list({ task: BackgroundTaskType.EndpointBulkReplay });
    expect(listed.data.map((t) => t.id).sort()).toEqual([one.id, two.id].sort());
    await rx.waitFor((r) => r.length === 3);
  });
});
