// The message operations around sending and expunging that the official svix clients call: the
// precheck before message.create, bulk-expunge by id or eventId, expunge-all-contents as a
// background task, and deleting an attempt's response body. Driven by raw HTTP (status codes, bad
// input) and by both client majors (svix 1.x and 2.x).
import { Svix } from 'svix';
import { Svix as Svix2 } from 'svix2';
import { describe, expect, it } from 'vitest';
import type { BackgroundTask } from '../src/domain/background-tasks.js';
import { newId } from '../src/domain/ids.js';
import { attemptsToEndpoint, createApp, createEndpoint, createEventTypes, eventually, expectStatus, useDeliveryFixtures, waitForDestinationStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, type TestTapwire } from './helpers/tapwire.js';

const { setup, receiver } = useDeliveryFixtures();

/** A clock the test moves by hand; it starts at the real time so ids and leases look normal. */
function manualClock(): { now(): Date; advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => (offset += ms) };
}

async function send(tw: TestTapwire, appId: string, body: Record<string, unknown>): Promise<{ id: string; eventId?: string }> {
  return expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'a.b', payload: { secret: 'pii' }, ...body }), 202, 'send').body;
}

async function payloadOf(tw: TestTapwire, appId: string, msgId: string): Promise<unknown> {
  return expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${msgId}`), 200, 'get message').body.payload;
}

/** Poll GET /background-task/{id} until the task is no longer running. */
function finished(tw: TestTapwire, taskId: string): Promise<any> {
  return eventually(
    async () => expectStatus(await tw.api('GET', `/api/v1/background-task/${taskId}`), 200, 'get task').body,
    (task) => task.status !== 'running',
    { what: `background task ${taskId} ending` },
  );
}

async function portalToken(tw: TestTapwire, appId: string, capabilities?: string[]): Promise<string> {
  return expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, capabilities ? { capabilities } : {}), 200, 'portal token').body.token;
}

describe.each(await backends())('%s', (backend) => {
  describe('POST /msg/precheck/active', () => {
    it('answers whether fan-out would pick an enabled endpoint for the event type and channels, as sending then does', async () => {
      const { tw, appId } = await setup({}, { backend });
      await createEventTypes(tw, 'a.b', 'x.y');
      const precheck = async (body: Record<string, unknown>): Promise<boolean> =>
        expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/precheck/active`, body), 200, 'precheck').body.active;
      expect(await precheck({ eventType: 'a.b' })).toBe(false);

      const rx = await receiver();
      const filtered = await createEndpoint(tw, appId, { url: rx.url, filterTypes: ['a.b'], channels: ['eu'] });
      const disabled = await createEndpoint(tw, appId, { url: rx.url, disabled: true });
      const deleted = await createEndpoint(tw, appId, { url: rx.url, filterTypes: ['x.y'] });
      expectStatus(await tw.api('DELETE', `/api/v1/app/${appId}/endpoint/${deleted.id}`), 204, 'delete');

      const cases: [Record<string, unknown>, boolean][] = [
        [{ eventType: 'a.b', channels: ['eu'] }, true],
        [{ eventType: 'a.b', channels: ['us', 'eu'] }, true],
        [{ eventType: 'a.b', channels: ['us'] }, false],
        [{ eventType: 'a.b' }, false],
        [{ eventType: 'a.b', channels: null }, false],
        [{ eventType: 'c.d', channels: ['eu'] }, false],
        [{ eventType: 'x.y' }, false],
      ];
      for (const [body, active] of cases) {
        expect(await precheck(body), JSON.stringify(body)).toBe(active);
        // The answer is what sending the same message does: a delivery exactly when it is true.
        const sent = await send(tw, appId, body);
        const destinations = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${sent.id}/endpoint`), 200, 'destinations').body.data;
        expect(destinations.map((d: any) => d.id), JSON.stringify(body)).toEqual(active ? [filtered.id] : []);
      }
      expect(disabled.id).toMatch(/^ep_/);

      // An endpoint without filters listens to everything once enabled.
      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${disabled.id}`, { disabled: false }), 200, 'enable');
      expect(await precheck({ eventType: 'c.d' })).toBe(true);
    });

    it('refuses bad input with 422, an unknown application with 404, and portal tokens with 403', async () => {
      const { tw, appId } = await setup({}, { backend });
      const path = `/api/v1/app/${appId}/msg/precheck/active`;
      const cases: [unknown, (string | number)[]][] = [
        [{}, ['body', 'eventType']],
        [{ eventType: 'bad type!' }, ['body', 'eventType']],
        [{ eventType: 'a.b', channels: [] }, ['body', 'channels']],
        [{ eventType: 'a.b', channels: ['eu', 'eu'] }, ['body', 'channels']],
        [{ eventType: 'a.b', channels: ['no spaces'] }, ['body', 'channels', 0]],
        [{ eventType: 'a.b', channels: Array.from({ length: 11 }, (_, i) => `c${i}`) }, ['body', 'channels']],
      ];
      for (const [body, loc] of cases) {
        const res = await tw.api('POST', path, body);
        expect(res.status, JSON.stringify(body)).toBe(422);
        expect(res.body.detail[0].loc.map(String), JSON.stringify(body)).toEqual(loc.map(String));
      }
      expect((await tw.api('POST', path, undefined, { raw: '{"eventType":' })).status).toBe(422);
      const missing = await tw.api('POST', '/api/v1/app/app_nope/msg/precheck/active', { eventType: 'a.b' });
      expect([missing.status, missing.body.code]).toEqual([404, 'not_found']);
      const denied = await tw.api('POST', path, { eventType: 'a.b' }, { token: await portalToken(tw, appId) });
      expect([denied.status, denied.body.code]).toEqual([403, 'insufficient access']);
    });

    it('works from both official clients', async () => {
      const { tw, appId } = await setup({}, { backend });
      await createEventTypes(tw, 'a.b');
      const rx = await receiver();
      await createEndpoint(tw, appId, { url: rx.url, filterTypes: ['a.b'], channels: ['eu'] });
      const v1 = new Svix(ADMIN_TOKEN, { serverUrl: tw.url });
      const v2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url });
      expect(await v1.message.precheck(appId, { eventType: 'a.b', channels: ['eu'] })).toEqual({ active: true });
      expect(await v1.message.precheck(appId, { eventType: 'a.b' })).toEqual({ active: false });
      expect(await v2.message.precheck(appId, { eventType: 'a.b', channels: ['eu'] })).toEqual({ active: true });
      expect(await v2.message.precheck(appId, { eventType: 'c.d', channels: ['eu'] })).toEqual({ active: false });
    });
  });

  describe('POST /msg/bulk-expunge', () => {
    it('drops the payloads of the messages named by id or eventId and says which were not found', async () => {
      const { tw, appId } = await setup({}, { backend });
      const otherApp = await createApp(tw, 'Other');
      const byId = await send(tw, appId, {});
      const byEventId = await send(tw, appId, { eventId: 'order-1' });
      const kept = await send(tw, appId, { eventId: 'order-2' });
      const foreign = await send(tw, otherApp, {});
      const res = expectStatus(
        await tw.api('POST', `/api/v1/app/${appId}/msg/bulk-expunge`, { ids: [byId.id, 'order-1', foreign.id, 'nope', 'msg_2Bd4bQ1kq4sbzbkcErAcxCIBbnu'] }),
        200,
        'bulk expunge',
      );
      expect(res.body).toEqual({
        results: { [byId.id]: 'expunged', 'order-1': 'expunged', [foreign.id]: 'not-found', nope: 'not-found', msg_2Bd4bQ1kq4sbzbkcErAcxCIBbnu: 'not-found' },
      });
      expect(await payloadOf(tw, appId, byId.id)).toEqual({ expired: true });
      expect(await payloadOf(tw, appId, byEventId.id)).toEqual({ expired: true });
      expect(await payloadOf(tw, appId, kept.id)).toEqual({ secret: 'pii' });
      expect(await payloadOf(tw, otherApp, foreign.id)).toEqual({ secret: 'pii' });
      // Expunged already: expunged again, not "not found".
      expect(expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/bulk-expunge`, { ids: [byId.id] }), 200, 'again').body).toEqual({ results: { [byId.id]: 'expunged' } });
      // More names than one transaction takes: every one answered, the last chunk's too.
      const many = [...Array.from({ length: 600 }, (_, i) => `unknown-${i}`), 'order-2'];
      const manyResults = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/bulk-expunge`, { ids: many }), 200, 'many').body.results;
      expect(Object.keys(manyResults)).toHaveLength(601);
      expect(manyResults['order-2']).toBe('expunged');
      expect(manyResults['unknown-599']).toBe('not-found');
      expect(await payloadOf(tw, appId, kept.id)).toEqual({ expired: true });
      // No ids (Svix's default): nothing to do.
      expect(expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/bulk-expunge`, {}), 200, 'empty').body).toEqual({ results: {} });
      expect(expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/bulk-expunge`), 200, 'no body').body).toEqual({ results: {} });
    });

    it('a pending delivery of an expunged message sends nothing more, as for DELETE …/content', async () => {
      const clock = manualClock();
      const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '1h' }, { backend, clock });
      const rx = await receiver();
      rx.respond(() => ({ status: 500, body: 'not yet' }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const doomed = await send(tw, appId, { eventId: 'doomed' });
      const spared = await send(tw, appId, {});
      await rx.waitFor((r) => r.length === 2);
      for (const m of [doomed, spared]) await waitForDestinationStatus(tw, appId, m.id, ep.id, 3);
      expect(expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/bulk-expunge`, { ids: ['doomed'] }), 200, 'expunge').body.results).toEqual({ doomed: 'expunged' });

      rx.respond(() => ({ status: 200, body: 'ok' }));
      clock.advance(2 * 3600_000);
      await waitForDestinationStatus(tw, appId, spared.id, ep.id, 0);
      const failed = await waitForDestinationStatus(tw, appId, doomed.id, ep.id, 2);
      expect(failed.statusText).toBe('fail');
      expect(rx.requests.filter((r) => r.headers['webhook-id'] === doomed.id)).toHaveLength(1);
      const attempts = (await attemptsToEndpoint(tw, appId, ep.id)).filter((a) => a.msgId === doomed.id);
      expect(attempts.map((a) => [a.responseStatusCode, a.response])).toEqual([
        [500, 'not yet'],
        [0, 'The message payload has expired or was expunged'],
      ]);
    });

    it('refuses bad input with 422 and needs a portal token with every capability', async () => {
      const { tw, appId } = await setup({}, { backend });
      const path = `/api/v1/app/${appId}/msg/bulk-expunge`;
      for (const [body, loc] of [
        [{ ids: 'msg_1' }, ['body', 'ids']],
        [{ ids: ['a', 'a'] }, ['body', 'ids']],
        [{ ids: [''] }, ['body', 'ids', 0]],
        [{ ids: ['has space'] }, ['body', 'ids', 0]],
        [{ ids: ['x'.repeat(257)] }, ['body', 'ids', 0]],
      ] as [unknown, string[]][]) {
        const res = await tw.api('POST', path, body);
        expect(res.status, JSON.stringify(body)).toBe(422);
        expect(res.body.detail[0].loc.map(String), JSON.stringify(body)).toEqual(loc.map(String));
      }
      expect((await tw.api('POST', '/api/v1/app/app_nope/msg/bulk-expunge', { ids: [] })).status).toBe(404);
      const sent = await send(tw, appId, {});
      const attempts = await portalToken(tw, appId, ['ViewBase', 'CreateAttempts']);
      const denied = await tw.api('POST', path, { ids: [sent.id] }, { token: attempts });
      expect([denied.status, denied.body.code]).toEqual([403, 'insufficient access']);
      expect(await payloadOf(tw, appId, sent.id)).toEqual({ secret: 'pii' });
      const full = await portalToken(tw, appId);
      expect(expectStatus(await tw.api('POST', path, { ids: [sent.id] }, { token: full }), 200, 'full token').body.results).toEqual({ [sent.id]: 'expunged' });
      // Another application's token does not find this one.
      const otherToken = await portalToken(tw, await createApp(tw, 'Other'));
      expect((await tw.api('POST', path, { ids: [sent.id] }, { token: otherToken })).status).toBe(404);
    });

    it('works from the 2.x client (1.x has no such method)', async () => {
      const { tw, appId } = await setup({}, { backend });
      const a = await send(tw, appId, {});
      const v2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url });
      expect(await v2.message.bulkExpungeContent(appId, { ids: [a.id, 'missing'] })).toEqual({ results: { [a.id]: 'expunged', missing: 'not-found' } });
      expect(await v2.message.bulkExpungeContent(appId)).toEqual({ results: {} });
      expect(await payloadOf(tw, appId, a.id)).toEqual({ expired: true });
    });
  });

  describe('POST /msg/expunge-all-contents', () => {
    it("drops every payload of the application in batches, as a background task, and leaves other applications' alone", async () => {
      const { tw, appId } = await setup({}, { backend, backgroundTasks: { batchSize: 2 } });
      const otherApp = await createApp(tw, 'Other');
      const sent = [];
      for (let n = 0; n < 5; n++) sent.push(await send(tw, appId, { payload: { n } }));
      expectStatus(await tw.api('DELETE', `/api/v1/app/${appId}/msg/${sent[1]!.id}/content`), 204, 'one expunged before');
      const foreign = await send(tw, otherApp, {});

      const started = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/expunge-all-contents`), 202, 'expunge all').body;
      expect(started).toEqual({ id: expect.stringMatching(/^qtask_/), status: 'running', task: 'application.purge_content', updatedAt: expect.any(String) });
      const task = await finished(tw, started.id);
      expect(task).toEqual({
        id: started.id,
        status: 'finished',
        task: 'application.purge_content',
        data: { until: expect.any(String), scanned: 5, messagesPurged: 4, batches: 3 },
        updatedAt: expect.any(String),
      });
      for (const m of sent) expect(await payloadOf(tw, appId, m.id)).toEqual({ expired: true });
      expect(await payloadOf(tw, otherApp, foreign.id)).toEqual({ secret: 'pii' });
      // Messages sent afterwards keep theirs; the task is listed under its kind.
      const later = await send(tw, appId, {});
      expect(await payloadOf(tw, appId, later.id)).toEqual({ secret: 'pii' });
      const listed = expectStatus(await tw.api('GET', '/api/v1/background-task?task=application.purge_content'), 200, 'list').body;
      expect(listed.data.map((t: any) => t.id)).toEqual([started.id]);
    });

    it('a task whose process stopped is taken over by another, from its cursor', async () => {
      const { tw, appId } = await setup({}, { backend });
      const sent = [];
      for (let n = 0; n < 3; n++) sent.push(await send(tw, appId, { payload: { n } }));
      const now = new Date();
      // A process that stopped after its first batch, which (we pretend) purged the first message only.
      const stopped: BackgroundTask = {
        id: newId('qtask'),
        appId,
        task: 'application.purge_content',
        status: 'running',
        data: { until: now.toISOString(), scanned: 1, messagesPurged: 1, batches: 1 },
        cursor: sent[0]!.id,
        createdAt: now,
        updatedAt: now,
      };
      await tw.server.store.createBackgroundTask(stopped, { owner: 'runner_stopped', until: new Date(now.getTime() - 1) });
      await tw.server.runMaintenance();
      expect((await finished(tw, stopped.id)).data).toEqual({ until: now.toISOString(), scanned: 3, messagesPurged: 3, batches: 2 });
      // The first message was behind the cursor: left as it was.
      expect(await payloadOf(tw, appId, sent[0]!.id)).toEqual({ n: 0 });
      for (const m of sent.slice(1)) expect(await payloadOf(tw, appId, m.id)).toEqual({ expired: true });
    });

    it('answers 404 for an unknown application, and needs a portal token with every capability', async () => {
      const { tw, appId } = await setup({}, { backend });
      expect((await tw.api('POST', '/api/v1/app/app_nope/msg/expunge-all-contents')).status).toBe(404);
      const denied = await tw.api('POST', `/api/v1/app/${appId}/msg/expunge-all-contents`, undefined, { token: await portalToken(tw, appId, ['ViewBase', 'ManageEndpoint', 'CreateAttempts']) });
      expect([denied.status, denied.body.code]).toEqual([403, 'insufficient access']);
      const started = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/expunge-all-contents`, undefined, { token: await portalToken(tw, appId) }), 202, 'full token').body;
      expect((await finished(tw, started.id)).status).toBe('finished');
    });

    it('works from both official clients', async () => {
      const { tw, appId } = await setup({}, { backend });
      const a = await send(tw, appId, {});
      const v1 = new Svix(ADMIN_TOKEN, { serverUrl: tw.url });
      const v2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url });
      const first = await v1.message.expungeAllContents(appId);
      expect(first).toMatchObject({ id: expect.stringMatching(/^qtask_/), status: 'running', task: 'application.purge_content' });
      expect(first.updatedAt).toBeInstanceOf(Date);
      expect(await eventually(() => v1.backgroundTask.get(first.id), (t) => t.status !== 'running')).toMatchObject({ status: 'finished', data: { messagesPurged: 1 } });
      const b = await send(tw, appId, {});
      const second = await v2.message.expungeAllContents(appId);
      expect(second).toMatchObject({ task: 'application.purge_content', updatedAt: expect.any(Date) });
      expect(await eventually(() => v2.backgroundTask.get(second.id), (t) => t.status !== 'running')).toMatchObject({ status: 'finished', data: { messagesPurged: 1 } });
      for (const m of [a, b]) expect(await payloadOf(tw, appId, m.id)).toEqual({ expired: true });
    });
  });

  describe('DELETE /msg/{msg_id}/attempt/{attempt_id}/content', () => {
    it("replaces an attempt's response body with EXPUNGED and leaves the rest of the attempt", async () => {
      const { tw, appId } = await setup({}, { backend });
      const rx = await receiver();
      rx.respond(() => ({ status: 200, body: 'card=4242' }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const sent = await send(tw, appId, { eventId: 'evt-9' });
      await waitForDestinationStatus(tw, appId, sent.id, ep.id, 0);
      const [attempt] = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempt.response).toBe('card=4242');

      const del = await tw.api('DELETE', `/api/v1/app/${appId}/msg/evt-9/attempt/${attempt.id}/content`);
      expect([del.status, del.text]).toEqual([204, '']);
      const after = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${sent.id}/attempt/${attempt.id}`), 200, 'get attempt').body;
      expect(after).toEqual({ ...attempt, response: 'EXPUNGED' });
      expect((await attemptsToEndpoint(tw, appId, ep.id))[0].response).toBe('EXPUNGED');
      // The message's own payload is untouched.
      expect(await payloadOf(tw, appId, sent.id)).toEqual({ secret: 'pii' });

      const notFound = [
        `/api/v1/app/${appId}/msg/${sent.id}/attempt/atmpt_2Bd4bQ1kq4sbzbkcErAcxCIBbnu/content`,
        `/api/v1/app/${appId}/msg/msg_2Bd4bQ1kq4sbzbkcErAcxCIBbnu/attempt/${attempt.id}/content`,
        `/api/v1/app/app_nope/msg/${sent.id}/attempt/${attempt.id}/content`,
      ];
      for (const path of notFound) {
        const res = await tw.api('DELETE', path);
        expect([res.status, res.body.code], path).toEqual([404, 'not_found']);
      }
      // The attempt of another message is not found under this one.
      const other = await send(tw, appId, {});
      await waitForDestinationStatus(tw, appId, other.id, ep.id, 0);
      expect((await tw.api('DELETE', `/api/v1/app/${appId}/msg/${other.id}/attempt/${attempt.id}/content`)).status).toBe(404);
      const denied = await tw.api('DELETE', `/api/v1/app/${appId}/msg/${sent.id}/attempt/${attempt.id}/content`, undefined, {
        token: await portalToken(tw, appId, ['ViewBase', 'CreateAttempts']),
      });
      expect([denied.status, denied.body.code]).toEqual([403, 'insufficient access']);
    });

    it('works from both official clients', async () => {
      const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '20ms' }, { backend });
      const rx = await receiver();
      rx.respond(() => ({ status: 500, body: 'stack trace with secrets' }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const sent = await send(tw, appId, {});
      await waitForDestinationStatus(tw, appId, sent.id, ep.id, 2);
      const [first, second] = await attemptsToEndpoint(tw, appId, ep.id);
      const v1 = new Svix(ADMIN_TOKEN, { serverUrl: tw.url });
      const v2 = new Svix2(ADMIN_TOKEN, { serverUrl: tw.url });
      await v1.messageAttempt.expungeContent(appId, sent.id, first.id);
      await v2.messageAttempt.expungeContent(appId, sent.id, second.id);
      expect((await v2.messageAttempt.get(appId, sent.id, first.id)).response).toBe('EXPUNGED');
      expect((await v1.messageAttempt.get(appId, sent.id, second.id)).response).toBe('EXPUNGED');
      expect((await attemptsToEndpoint(tw, appId, ep.id)).every((a) => a.response === 'EXPUNGED')).toBe(true);
    });
  });
});
