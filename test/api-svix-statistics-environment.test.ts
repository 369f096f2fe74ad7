// Svix's Statistics, Environment and event-type OpenAPI import operations, driven by both majors of
// the official client (svix 1.x and svix2 = 2.x) on both backends, and by raw HTTP for bad input
// and status codes: each of these answered 404 before.
import { ApiException as ApiException1, Svix as Svix1 } from 'svix';
import { ApiException as ApiException2, Svix as Svix2 } from 'svix2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/domain/ids.js';
import { expectNo5xx, guardedFetch } from './helpers/api-guard.js';
import { eventually, expectStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

type Client = Svix1 | Svix2;
const clients = (tw: TestTapwire): [string, Client][] => [
  ['svix 1.x', new Svix1(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch })],
  ['svix 2.x', new Svix2(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch })],
];

/** Poll the task through the client until it is no longer running. */
async function finishedTask(client: Client, taskId: string): Promise<any> {
  return eventually(() => client.backgroundTask.get(taskId), (task) => task.status !== 'running', { what: `task ${taskId} ending` });
}

/** The rejection of a client call: an ApiException of either major, with its status and body. */
async function apiError(promise: Promise<unknown>): Promise<{ code: number; body: any }> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error instanceof ApiException1 || error instanceof ApiException2, `an ApiException, got ${String(error)}`).toBe(true);
  return error as { code: number; body: any };
}

async function portalToken(tw: TestTapwire, appId: string): Promise<string> {
  return expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, {}), 200, 'portal access').body.token;
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);
  afterEach(() => expectNo5xx());

  describe('statistics', () => {
    let tw: TestTapwire;
    let receiver: Receiver;
    const app: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
    let since = '';
    let until = '';

    /** Apps a (uid usage-a, two endpoints), b (one catch-all endpoint), c (no messages; a disabled and a deleted endpoint). */
    beforeAll(async () => {
      // Two applications per batch: three applications take two batches.
      tw = await startTapwire({}, { backgroundTasks: { batchSize: 2 } });
      receiver = await startReceiver();
      for (const name of ['a.b', 'c.d', 'e.f', 'x.y', 'z.z']) expectStatus(await tw.api('POST', '/api/v1/event-type', { name, description: name }), 201, 'event type');
      app.a = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'A', uid: 'usage-a' }), 201, 'app a').body.id;
      app.b = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'B' }), 201, 'app b').body.id;
      app.c = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'C' }), 201, 'app c').body.id;
      const endpoint = async (appId: string, body: object) => expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: receiver.url, ...body }), 201, 'endpoint').body.id as string;
      await endpoint(app.a, { filterTypes: ['a.b', 'c.d'] });
      await endpoint(app.a, { filterTypes: ['e.f', 'c.d'] });
      await endpoint(app.b, {});
      await endpoint(app.c, { filterTypes: ['x.y'], disabled: true });
      const deleted = await endpoint(app.c, { filterTypes: ['z.z'] });
      expectStatus(await tw.api('DELETE', `/api/v1/app/${app.c}/endpoint/${deleted}`), 204, 'delete endpoint');

      const send = async (appId: string) => expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'c.d', payload: { n: 1 } }), 202, 'message').body;
      // One message of b, delivered, before the window.
      await send(app.b);
      await eventually(async () => receiver.requests.length, (n) => n === 1, { what: 'the first delivery' });
      const before = await eventually(
        async () => expectStatus(await tw.api('GET', `/api/v1/app/${app.b}/attempt/endpoint/${(await tw.api('GET', `/api/v1/app/${app.b}/endpoint`)).body.data[0].id}`), 200, 'attempts').body.data,
        (attempts: any[]) => attempts.length === 1,
        { what: 'the first attempt recorded' },
      );
      const boundary = Date.parse(before[0].timestamp) + 1;
      await eventually(async () => Date.now(), (now) => now > boundary, { what: 'the clock passing the window start' });
      since = new Date(boundary).toISOString();
      // In the window: three messages of a (two endpoints each), one of b.
      for (let i = 0; i < 3; i++) await send(app.a);
      await send(app.b);
      await eventually(async () => receiver.requests.length, (n) => n === 1 + 6 + 1, { what: 'every delivery' });
      await eventually(
        async () => (await tw.api('GET', `/api/v1/app/${app.a}/msg`)).body.data.length,
        (n) => n === 3,
        { what: 'messages listed' },
      );
      // Attempts are recorded after the receiver answers: wait for all eight.
      await eventually(
        async () => {
          let total = 0;
          for (const id of [app.a, app.b]) {
            for (const ep of (await tw.api('GET', `/api/v1/app/${id}/endpoint`)).body.data) {
              total += (await tw.api('GET', `/api/v1/app/${id}/attempt/endpoint/${ep.id}`)).body.data.length;
            }
          }
          return total;
        },
        (n) => n === 8,
        { what: 'every attempt recorded' },
      );
      until = new Date(Date.now() + 60_000).toISOString();
    });
    afterAll(async () => {
      await tw?.close();
      await receiver?.close();
    });

    const usage = (appId: string, appUid: string | null, messageDestinations: number, messages: number, attempts: number) => ({ appId, appUid, messageDestinations, messages, attempts });

    it('counts messages, message destinations and attempts per application in the window (both clients)', async () => {
      for (const [name, client] of clients(tw)) {
        const started = await client.statistics.aggregateAppStats({ since: new Date(since), until: new Date(until), appIds: ['usage-a', app.b, 'no-such-app'] });
        expect(started, name).toMatchObject({ status: 'running', task: 'application.stats', unresolvedAppIds: ['no-such-app'] });
        expect(started.id, name).toMatch(/^qtask_/);
        const done = await finishedTask(client, started.id);
        expect(done.status, name).toBe('finished');
        expect(done.data.appStats, name).toEqual([usage(app.a, 'usage-a', 6, 3, 6), usage(app.b, null, 1, 1, 1)].sort((x, y) => (x.appId < y.appId ? -1 : 1)));

        // Every application (three, in two batches), the one without messages at zero.
        const all = await client.statistics.aggregateAppStats({ since: new Date(since), until: new Date(until) });
        expect(all.unresolvedAppIds, name).toEqual([]);
        const everything = await finishedTask(client, all.id);
        expect(everything.data.appStats, name).toEqual(
          [usage(app.a, 'usage-a', 6, 3, 6), usage(app.b, null, 1, 1, 1), usage(app.c, null, 0, 0, 0)].sort((x, y) => (x.appId < y.appId ? -1 : 1)),
        );
        expect(everything.data.batches, name).toBe(2);
      }
    });

    it('widening the window to before the first message counts it too', async () => {
      const res = expectStatus(await tw.api('POST', '/api/v1/stats/usage/app', { since: new Date(Date.parse(since) - 3_600_000).toISOString(), until, appIds: [app.b] }), 202, 'stats');
      const [, client] = clients(tw)[0]!;
      expect((await finishedTask(client, res.body.id)).data.appStats).toEqual([usage(app.b, null, 2, 2, 2)]);
    });

    it('lists the event types each application subscribes to (both clients)', async () => {
      for (const [name, client] of clients(tw)) {
        const started = await client.statistics.aggregateEventTypes();
        expect(started, name).toMatchObject({ status: 'running', task: 'event-type.aggregate' });
        const done = await finishedTask(client, started.id);
        expect(done.status, name).toBe('finished');
        expect(done.data.event_types, name).toEqual(
          [
            { appId: app.a, explicitlySubscribedEventTypes: ['a.b', 'c.d', 'e.f'], hasCatchAllEndpoint: false },
            { appId: app.b, explicitlySubscribedEventTypes: [], hasCatchAllEndpoint: true },
            // The disabled endpoint keeps its subscription; the deleted one is gone.
            { appId: app.c, explicitlySubscribedEventTypes: ['x.y'], hasCatchAllEndpoint: false },
          ].sort((x, y) => (x.appId < y.appId ? -1 : 1)),
        );
      }
    });

    it('a statistics task whose process stopped is taken over by maintenance, from its cursor', async () => {
      const now = new Date();
      const [first] = [app.a, app.b, app.c].sort();
      const done = { appId: first!, appUid: 'counted-before-the-stop', messageDestinations: 0, messages: 0, attempts: 0 };
      const stopped = await tw.server.store.createBackgroundTask(
        {
          id: newId('qtask'),
          appId: null,
          task: 'application.stats',
          status: 'running',
          data: { since, until, appIds: null, appStats: [done], batches: 1 },
          cursor: first!,
          createdAt: now,
          updatedAt: now,
        },
        { owner: 'runner_stopped', until: new Date(now.getTime() - 1) },
      );
      await tw.server.runMaintenance();
      const [, client] = clients(tw)[0]!;
      const resumed = await finishedTask(client, stopped.id);
      const rest = [usage(app.a, 'usage-a', 6, 3, 6), usage(app.b, null, 1, 1, 1), usage(app.c, null, 0, 0, 0)].filter((u) => u.appId !== first).sort((x, y) => (x.appId < y.appId ? -1 : 1));
      // The application counted before the stop is not counted again. The two others filled one
      // batch (of two), so a third, empty one was needed to see the end.
      expect(resumed.data.appStats).toEqual([done, ...rest]);
      expect(resumed.data.batches).toBe(3);
    });

    it('answers bad input with 422, and only to the admin token', async () => {
      const bad = async (body: object) => expectStatus(await tw.api('POST', '/api/v1/stats/usage/app', body), 422, JSON.stringify(body)).body.detail;
      expect(await bad({ since: until, until: since })).toEqual([expect.objectContaining({ loc: ['body', 'since'] })]);
      expect(await bad({ since, until, appIds: ['nope', 'nada'] })).toEqual([expect.objectContaining({ loc: ['body', 'appIds'], msg: expect.stringMatching(/none of/) })]);
      expect((await bad({ since })).map((d: any) => d.loc)).toContainEqual(['body', 'until']);
      expect((await bad({ since, until, appIds: ['bad id'] })).map((d: any) => d.loc[1])).toContain('appIds');
      const token = await portalToken(tw, app.a);
      expectStatus(await tw.api('POST', '/api/v1/stats/usage/app', { since, until }, { token }), 403, 'app token');
      expectStatus(await tw.api('PUT', '/api/v1/stats/usage/event-types', undefined, { token }), 403, 'app token');
      expectStatus(await tw.api('PUT', '/api/v1/stats/usage/event-types', undefined, { token: null }), 401, 'no token');
    });

    it('keeps the statistics tasks from application-scoped tokens and lists them by kind', async () => {
      const task = expectStatus(await tw.api('PUT', '/api/v1/stats/usage/event-types'), 202, 'aggregate').body;
      const token = await portalToken(tw, app.a);
      expectStatus(await tw.api('GET', `/api/v1/background-task/${task.id}`, undefined, { token }), 404, 'app token reads the task');
      expect((await tw.api('GET', '/api/v1/background-task', undefined, { token })).body.data).toEqual([]);
      const listed = expectStatus(await tw.api('GET', '/api/v1/background-task?task=event-type.aggregate&limit=250'), 200, 'list').body.data;
      expect(listed.map((t: any) => t.id)).toContain(task.id);
      expect(listed.every((t: any) => t.task === 'event-type.aggregate')).toBe(true);
    });
  });

  describe('event types from an OpenAPI document', () => {
    let tw: TestTapwire;
    beforeAll(async () => {
      tw = await startTapwire();
    });
    afterAll(async () => {
      await tw?.close();
    });

    const petSchema = { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } }, required: ['id'] };
    const document = (prefix: string, description = 'A new pet') => ({
      openapi: '3.1.0',
      info: { title: 'Pets', version: '1' },
      webhooks: {
        [`${prefix}.new`]: {
          post: {
            operationId: `${prefix}.new`,
            description,
            requestBody: {
              content: {
                'application/json': {
                  schema: { $ref: '#/components/schemas/PetEvent' },
                  example: { id: 1, name: 'Rex' },
                  examples: { other: { value: { id: 2, name: 'Tom' } }, shared: { $ref: '#/components/examples/Third' } },
                },
              },
            },
          },
        },
        [`${prefix}.gone`]: { post: { summary: 'A pet is gone', deprecated: true, 'x-svix-feature-flags': ['beta'] } },
      },
      components: {
        schemas: { PetEvent: { $ref: '#/components/schemas/Pet', description: 'The pet' }, Pet: petSchema },
        examples: { Third: { value: { id: 3 } } },
      },
    });

    it('creates event types with description, resolved schema, examples, deprecated and feature flag (both clients)', async () => {
      for (const [name, client] of clients(tw)) {
        const prefix = name === 'svix 1.x' ? 'one' : 'two';
        const out = await client.eventType.importOpenapi({ spec: document(prefix) });
        expect(out.data.modified, name).toEqual([`${prefix}.new`, `${prefix}.gone`]);
        const created = await client.eventType.get(`${prefix}.new`);
        expect(created, name).toMatchObject({ description: 'A new pet', deprecated: false, archived: false });
        expect(created.schemas, name).toEqual({ '1': { ...petSchema, description: 'The pet', examples: [{ id: 1, name: 'Rex' }, { id: 2, name: 'Tom' }, { id: 3 }] } });
        const gone = await client.eventType.get(`${prefix}.gone`);
        expect(gone, name).toMatchObject({ description: 'A pet is gone', deprecated: true, featureFlags: ['beta'] });
        expect(gone.schemas ?? null, name).toBeNull();
      }
    });

    it('sends the imported example through send-example', async () => {
      expectStatus(await tw.api('POST', '/api/v1/event-type/import/openapi', { spec: document('example') }), 200, 'import');
      const receiver = await startReceiver();
      try {
        const appId = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Examples' }), 201, 'app').body.id;
        const ep = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: receiver.url }), 201, 'endpoint').body.id;
        const sent = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep}/send-example`, { eventType: 'example.new' }), 200, 'send-example');
        expect(sent.body.payload).toEqual({ id: 1, name: 'Rex' });
      } finally {
        await receiver.close();
      }
    });

    it('a dry run changes nothing and reports what would change; an unchanged document modifies nothing', async () => {
      const [, client] = clients(tw)[1]!;
      await client.eventType.importOpenapi({ spec: document('dry') });
      const before = await client.eventType.get('dry.new');
      const dry = await client.eventType.importOpenapi({ spec: document('dry', 'A renamed pet'), dryRun: true });
      expect(dry.data.modified).toEqual([]);
      expect(dry.data.toModify).toEqual([expect.objectContaining({ name: 'dry.new', description: 'A renamed pet', deprecated: false })]);
      expect(await client.eventType.get('dry.new')).toEqual(before);
      const again = await client.eventType.importOpenapi({ spec: document('dry') });
      expect(again.data.modified).toEqual([]);
      expect((await client.eventType.get('dry.new')).updatedAt).toEqual(before.updatedAt);
    });

    it('accepts the document as JSON text in specRaw, and resolves a recursive schema into definitions', async () => {
      const spec = {
        openapi: '3.1.0',
        webhooks: { 'tree.grown': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Node' } } } } } } },
        components: { schemas: { Node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/components/schemas/Node' } } } } } },
      };
      const out = expectStatus(await tw.api('POST', '/api/v1/event-type/import/openapi', { specRaw: JSON.stringify(spec) }), 200, 'import').body;
      expect(out.data).toEqual({ modified: ['tree.grown'], to_modify: null, archived: [], to_archive: null });
      const stored = expectStatus(await tw.api('GET', '/api/v1/event-type/tree.grown'), 200, 'get').body;
      expect(stored.schemas['1']).toEqual({
        type: 'object',
        properties: { children: { type: 'array', items: { $ref: '#/definitions/Node' } } },
        definitions: { Node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/definitions/Node' } } } } },
      });
    });

    it('refuses documents it cannot import: 400 for neither or both forms, 422 naming each problem', async () => {
      const post = (body: object, token?: string) => tw.api('POST', '/api/v1/event-type/import/openapi', body, token !== undefined ? { token } : {});
      expect((await post({})).status).toBe(400);
      expect((await post({ spec: document('x'), specRaw: '{}' })).status).toBe(400);
      const problems = async (body: object) => expectStatus(await post(body), 422, JSON.stringify(body).slice(0, 80)).body.detail as { loc: string[]; msg: string }[];
      // YAML is read as Svix reads it; broken YAML, and an alias bomb, are a 422.
      const yamlDoc = 'openapi: 3.1.0\nwebhooks:\n  yaml.pet.new:\n    post:\n      description: From YAML\n      x-svix-feature-flags: [beta]\n';
      expect(expectStatus(await post({ specRaw: yamlDoc }), 200, 'yaml').body.data.modified).toEqual(['yaml.pet.new']);
      expect(expectStatus(await tw.api('GET', '/api/v1/event-type/yaml.pet.new'), 200, 'yaml type').body).toMatchObject({ description: 'From YAML', featureFlags: ['beta'] });
      const brokenYaml = await problems({ specRaw: 'openapi: 3.1.0\nwebhooks:\n  a: [\n' });
      expect(brokenYaml).toEqual([expect.objectContaining({ loc: ['body', 'specRaw'], msg: expect.stringMatching(/YAML/) })]);
      const aliasBomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
      expect(await problems({ specRaw: aliasBomb })).toEqual([expect.objectContaining({ loc: ['body', 'specRaw'] })]);
      expect(await problems({ specRaw: '{"openapi": ' })).toEqual([expect.objectContaining({ loc: ['body', 'specRaw'] })]);
      expect(await problems({ spec: { openapi: '3.1.0', paths: {} } })).toEqual([expect.objectContaining({ loc: ['body', 'spec'], msg: expect.stringMatching(/no webhooks/) })]);
      const several = await problems({
        spec: {
          webhooks: {
            'bad name': { post: {} },
            'no.operation': {},
            'external.ref': { post: { requestBody: { content: { 'application/json': { schema: { $ref: 'other.json#/Pet' } } } } } },
            'dangling.ref': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } } } },
            'bad.flag': { post: { 'x-svix-feature-flags': ['no spaces'] } },
          },
        },
      });
      expect(several.map((p) => p.loc.slice(0, 4))).toEqual([
        ['body', 'spec', 'webhooks', 'bad name'],
        ['body', 'spec', 'webhooks', 'no.operation'],
        ['body', 'spec', 'webhooks', 'external.ref'],
        ['body', 'spec', 'webhooks', 'dangling.ref'],
        ['body', 'spec', 'webhooks', 'bad.flag'],
      ]);
      expect(several[2]!.msg).toMatch(/outside the document/);
      expect(several[3]!.msg).toMatch(/points at nothing/);
      // Group names and several feature flags are kept.
      const grouped = { webhooks: { 'in.group': { post: { 'x-svix-group-name': 'group' } }, 'two.flags': { post: { 'x-svix-feature-flags': ['a', 'b'] } } } };
      expect(expectStatus(await tw.api('POST', '/api/v1/event-type/import/openapi', { spec: grouped }), 200, 'grouped').body.data.modified).toEqual(['in.group', 'two.flags']);
      expect(expectStatus(await tw.api('GET', '/api/v1/event-type/in.group'), 200, 'group').body).toMatchObject({ groupName: 'group' });
      expect(expectStatus(await tw.api('GET', '/api/v1/event-type/two.flags'), 200, 'flags').body).toMatchObject({ featureFlags: ['a', 'b'] });
      // The same document again changes nothing.
      expect(expectStatus(await tw.api('POST', '/api/v1/event-type/import/openapi', { spec: grouped }), 200, 'again').body.data.modified).toEqual([]);
      // A quadratic blow-up of references is refused before it is expanded.
      const schemas: Record<string, unknown> = { L0: { type: 'string' } };
      for (let i = 1; i <= 24; i++) schemas[`L${i}`] = { type: 'object', properties: { a: { $ref: `#/components/schemas/L${i - 1}` }, b: { $ref: `#/components/schemas/L${i - 1}` } } };
      const bomb = await problems({ spec: { webhooks: { 'b.omb': { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/L24' } } } } } } }, components: { schemas } } });
      expect(bomb).toEqual([expect.objectContaining({ msg: expect.stringMatching(/more than .* nodes/) })]);
      const appId = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Importer' }), 201, 'app').body.id;
      expect((await post({ spec: document('x') }, await portalToken(tw, appId))).status).toBe(403);
      // The client surfaces the refusals as ApiException.
      const [, client] = clients(tw)[1]!;
      expect((await apiError(client.eventType.importOpenapi({ specRaw: 'webhooks: {}' }))).code).toBe(422);
    });

    it('replaceAll archives the event types the document lacks and un-archives the ones it has', async () => {
      const own = await startTapwire();
      try {
        const [, client] = clients(own)[0]!;
        await client.eventType.create({ name: 'keep.me', description: 'not in the document' });
        await client.eventType.create({ name: 'r.new', description: 'archived, then imported' });
        await client.eventType.delete('r.new');
        const dry = await client.eventType.importOpenapi({ spec: document('r'), replaceAll: true, dryRun: true });
        expect(dry.data.toModify?.map((t) => t.name)).toEqual(['r.new', 'r.gone']);
        expect(((await own.api('POST', '/api/v1/event-type/import/openapi', { spec: document('r'), replaceAll: true, dryRun: true })).body.data.to_archive)).toEqual(['keep.me']);
        expect((await client.eventType.get('keep.me')).archived).toBe(false);
        const raw = expectStatus(await own.api('POST', '/api/v1/event-type/import/openapi', { spec: document('r'), replaceAll: true }), 200, 'import').body;
        expect(raw.data).toEqual({ modified: ['r.new', 'r.gone'], to_modify: null, archived: ['keep.me'], to_archive: null });
        expect((await client.eventType.get('keep.me')).archived).toBe(true);
        expect((await client.eventType.get('r.new')).archived).toBe(false);
      } finally {
        await own.close();
      }
    });
  });

  describe('environment export and import', () => {
    let from: TestTapwire;
    let to: TestTapwire;
    let to2: TestTapwire;
    beforeAll(async () => {
      [from, to, to2] = await Promise.all([startTapwire(), startTapwire(), startTapwire()]);
    });
    afterAll(async () => {
      await Promise.all([from?.close(), to?.close(), to2?.close()]);
    });

    const comparable = (types: any[]) =>
      types.map((t) => ({ name: t.name, description: t.description, archived: t.archived, deprecated: t.deprecated, schemas: t.schemas ?? null, featureFlags: t.featureFlags ?? null, groupName: t.groupName ?? null }));
    const schemas = { '1': { type: 'object', properties: { id: { type: 'string' } }, examples: [{ id: 'x' }] } };

    it('exports every event type and imports them into another server, which then exports the same (both clients)', async () => {
      expectStatus(await from.api('POST', '/api/v1/event-type', { name: 'user.created', description: 'A user', schemas, featureFlags: ['beta', 'gamma'], groupName: 'users' }), 201, 'create');
      expectStatus(await from.api('POST', '/api/v1/event-type', { name: 'user.deleted', description: 'Gone', deprecated: true }), 201, 'create');
      expectStatus(await from.api('POST', '/api/v1/event-type', { name: 'user.old', description: 'Archived' }), 201, 'create');
      expectStatus(await from.api('DELETE', '/api/v1/event-type/user.old'), 204, 'archive');
      const expected = [
        { name: 'user.created', description: 'A user', archived: false, deprecated: false, schemas, featureFlags: ['beta', 'gamma'], groupName: 'users' },
        { name: 'user.deleted', description: 'Gone', archived: false, deprecated: true, schemas: null, featureFlags: null, groupName: null },
        { name: 'user.old', description: 'Archived', archived: true, deprecated: false, schemas: null, featureFlags: null, groupName: null },
      ];
      for (const [index, target] of [to, to2].entries()) {
        const [name, source] = clients(from)[index]!;
        const [, client] = clients(target)[index]!;
        // The target has one of them already, differently, and one of its own the import leaves alone.
        expectStatus(await target.api('POST', '/api/v1/event-type', { name: 'user.created', description: 'stale' }), 201, 'create');
        expectStatus(await target.api('POST', '/api/v1/event-type', { name: 'local.only', description: 'stays' }), 201, 'create');
        const exported = await source.environment.export();
        expect(exported, name).toMatchObject({ version: 1, settings: null, connectors: [] });
        expect(comparable(exported.eventTypes), name).toEqual(expected);
        await client.environment.import({ eventTypes: exported.eventTypes, settings: exported.settings, connectors: [] });
        const reexported = comparable((await client.environment.export()).eventTypes);
        const local = { name: 'local.only', description: 'stays', archived: false, deprecated: false, schemas: null, featureFlags: null, groupName: null };
        expect(reexported, name).toEqual([local, ...expected]);
      }
      const raw = expectStatus(await from.api('POST', '/api/v1/environment/export'), 200, 'export').body;
      expect(raw.transformationTemplates).toEqual([]);
      expect(Date.parse(raw.createdAt)).toBeGreaterThan(0);
    });

    it('documents the five operations in the OpenAPI document with their status codes', async () => {
      const doc = expectStatus(await from.api('GET', '/api/v1/openapi.json'), 200, 'openapi').body;
      const operations: [string, string, string, string][] = [
        ['/api/v1/stats/usage/app', 'post', '202', 'AppUsageStatsOut'],
        ['/api/v1/stats/usage/event-types', 'put', '202', 'AggregateEventTypesOut'],
        ['/api/v1/event-type/import/openapi', 'post', '200', 'EventTypeImportOpenApiOut'],
        ['/api/v1/environment/export', 'post', '200', 'EnvironmentOut'],
      ];
      for (const [path, method, status, schema] of operations) {
        expect(doc.paths[path]?.[method]?.responses?.[status]?.content?.['application/json']?.schema, `${method} ${path}`).toEqual({ $ref: `#/components/schemas/${schema}` });
      }
      expect(doc.paths['/api/v1/environment/import'].post.responses['204']).toEqual({ description: 'No content' });
      expect(doc.components.schemas.BackgroundTaskOut.properties.task.enum).toEqual(expect.arrayContaining(['endpoint.replay', 'application.stats', 'event-type.aggregate']));
    });

    it('answers 204 to an empty import and 422 to what it cannot import, changing nothing', async () => {
      expect((await to.api('POST', '/api/v1/environment/import')).status).toBe(204);
      expect((await to.api('POST', '/api/v1/environment/import', { eventTypes: [], settings: {} })).status).toBe(204);
      const refused = async (body: object) => expectStatus(await to.api('POST', '/api/v1/environment/import', body), 422, JSON.stringify(body)).body.detail as { loc: string[] }[];
      const type = { name: 'never.imported', description: 'x' };
      expect((await refused({ eventTypes: [type], settings: { colorPaletteLight: {} } })).map((d) => d.loc)).toEqual([['body', 'settings']]);
      expect((await refused({ eventTypes: [type], connectors: [{ name: 'c' }] })).map((d) => d.loc)).toEqual([['body', 'connectors']]);
      expect((await refused({ eventTypes: [type, type] })).map((d) => d.loc)).toEqual([['body', 'eventTypes', '1', 'name']]);
      expect((await refused({ eventTypes: [{ name: 'bad name', description: 'x' }] }))[0]!.loc.slice(0, 2)).toEqual(['body', 'eventTypes']);
      expectStatus(await to.api('GET', '/api/v1/event-type/never.imported'), 404, 'nothing imported');
      const appId = expectStatus(await to.api('POST', '/api/v1/app', { name: 'Env' }), 201, 'app').body.id;
      const token = await portalToken(to, appId);
      expect((await to.api('POST', '/api/v1/environment/export', undefined, { token })).status).toBe(403);
      expect((await to.api('POST', '/api/v1/environment/import', {}, { token })).status).toBe(403);
      const [, client] = clients(to)[1]!;
      expect((await apiError(client.environment.import({ settings: { x: 1 } }))).code).toBe(422);
    });
  });
});
