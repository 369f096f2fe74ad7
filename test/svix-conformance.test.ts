// Svix conformance: every method of the official client's core APIs (both majors, both backends)
// makes one call that must not answer 404 and whose fields must come back, in its answer or in a
// following read. The method list is read from the client packages at run time, so a method a new
// client version adds fails this file until it has a case here (or a reason to be left out below).
// docs/svix-compatibility.md lists the same operations with their HTTP method and path.
import { randomUUID } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNo5xx, guardedFetch } from './helpers/api-guard.js';
import { eventually } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startReceiver, type Receiver, type ReceivedRequest } from './helpers/receiver.js';
import { SVIX_MAJORS, type SvixMajor } from './helpers/svix-majors.js';
import { clientOperations, operationKey, readCompatibilityDoc } from './helpers/svix-operations.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

/** The client APIs this file holds to Svix's behaviour (issue 17), by their property on the client. */
const IN_SCOPE_APIS = [
  'application',
  'endpoint',
  'message',
  'messageAttempt',
  'eventType',
  'authentication',
  'backgroundTask',
  'statistics',
  'integration',
  'environment',
  'operationalWebhookEndpoint',
  'health',
] as const;
type ApiName = (typeof IN_SCOPE_APIS)[number];

/**
 * Top-level client APIs left out, and why. A new API family in a client version fails the coverage
 * test until it is put in IN_SCOPE_APIS or here.
 */
const OUT_OF_SCOPE_APIS: Record<string, string> = {
  connector: 'connectors (Svix Cloud transformation templates) are not part of the Svix v1 core Tapwire implements',
  ingest: 'Svix Ingest (sources and ingest endpoints): every method of both majors is exercised by test/api-ingest.test.ts; endpoint transformations are not supported',
  streaming: 'Svix Stream (event streams and sinks) is out of scope of issue 17',
  destination: '2.x: non-HTTP destinations of Svix Cloud; out of scope of issue 17',
  autoconfigSubscription: '2.x: Svix Cloud autoconfig tokens; out of scope of issue 17',
  operationalWebhook: 'a container: its only member, `endpoint`, is operationalWebhookEndpoint, which is in scope',
};

/**
 * Methods of in-scope APIs left out, and why. Each must exist in at least one client major (so the
 * list cannot go stale), and each has a "not supported" row in docs/svix-compatibility.md.
 */
const EXCLUDED_METHODS: Partial<Record<ApiName, Record<string, string>>> = {
  authentication: {
    streamPortalAccess: 'Svix Stream: out of scope of issue 17',
    streamLogout: 'Svix Stream: out of scope of issue 17',
    streamExpireAll: 'Svix Stream: out of scope of issue 17',
    rotateStreamPollerToken: 'Svix Stream: out of scope of issue 17',
    getStreamPollerToken: 'Svix Stream: out of scope of issue 17',
  },
  message: {
    poller: 'sub-API of polling endpoints (a Svix Cloud sink, like streaming); out of scope of issue 17',
  },
};

interface Fixtures {
  tag: string;
  svix: any;
  appId: string;
  appUid: string;
  /** An event type with two examples, which the main endpoint filters on. */
  typeA: string;
  examples: Record<string, unknown>[];
  /** An event type no endpoint subscribes to. */
  typeQuiet: string;
  /** An event type only the flaky endpoint subscribes to. */
  typeFlaky: string;
  mainId: string;
  mainPath: string;
  mainSecret: string;
  /** A message delivered to the main endpoint before the cases run, and its first attempt. */
  msgId: string;
  msgPayload: Record<string, unknown>;
  attemptId: string;
  /** Filled in by cases for later ones. */
  state: Record<string, any>;
}

interface Case {
  api: ApiName;
  method: string;
  /** Only in this major of the client. */
  only?: 1 | 2;
  run(fx: Fixtures): Promise<void>;
}

const HOUR_MS = 3_600_000;
const secretOf = (byte: number): string => `whsec_${Buffer.alloc(24, byte).toString('base64')}`;
const headersOf = (req: ReceivedRequest): Record<string, string> =>
  Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));


/** The API object a case calls (2.x has the operational-webhook endpoints only under operationalWebhook.endpoint). */
function apiOf(svix: any, api: ApiName): any {
  return api === 'operationalWebhookEndpoint' ? svix.operationalWebhook.endpoint : svix[api];
}

/** Every member of an API object's class: its methods and its sub-API getters. */
function membersOf(apiObject: object): string[] {
  return Object.getOwnPropertyNames(Object.getPrototypeOf(apiObject)).filter((name) => name !== 'constructor');
}

/** The cases, in the order they run (later cases use what earlier ones made). */
function casesFor(m: SvixMajor, receiver: () => Receiver): Case[] {
  const { ApiException, MessageStatus, AppPortalCapability, Webhook } = m.lib;
  const filter = (types: string[]): Record<string, string[]> => ({ [m.filterField]: types });
  const rate = (perSecond: number): Record<string, number> => ({ [m.rateField]: perSecond });
  const rateOut = (perSecond: number): Record<string, number> => (m.major === 1 ? { rateLimit: perSecond, throttleRate: perSecond } : { throttleRate: perSecond });
  // Endpoints: 1.x EndpointIn knows both rate names, so send the one 2.x also knows.
  const endpointRate = (perSecond: number): Record<string, number> => ({ throttleRate: perSecond });

  async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof ApiException>> {
    const error = await promise.then(
      () => {
        throw new Error('expected the call to fail');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiException);
    return error as InstanceType<typeof ApiException>;
  }
  const expect404 = async (promise: Promise<unknown>): Promise<void> => {
    expect((await apiError(promise)).code).toBe(404);
  };
  /** Poll a background task until it leaves `running`; it must finish (not fail). */
  async function finished(fx: Fixtures, taskId: string, task: string): Promise<any> {
    const done = await eventually(
      () => fx.svix.backgroundTask.get(taskId),
      (t: any) => t.status !== 'running',
    );
    expect(done).toMatchObject({ id: taskId, task, status: 'finished' });
    expect(done.updatedAt).toBeInstanceOf(Date);
    return done;
  }
  const expectTaskOut = (out: any, task: string): void => {
    expect(out.id).toMatch(/^qtask_/);
    expect(out.task).toBe(task);
    expect(['running', 'finished']).toContain(out.status);
    expect(out.updatedAt).toBeInstanceOf(Date);
  };
  const deliveriesOf = (msgId: string, path?: string): ReceivedRequest[] =>
    receiver().requests.filter((r) => r.headers['webhook-id'] === msgId && (path === undefined || r.path === path));
  const contentOpt = { withContent: true };

  const cases: Case[] = [
    // ── application ──
    {
      api: 'application', method: 'create', async run(fx) {
        const uid = `conf-app-${fx.tag}`;
        const app = await fx.svix.application.create({ name: 'Conformance app', uid, metadata: { plan: 'pro' }, ...rate(7) });
        expect(app).toMatchObject({ name: 'Conformance app', uid, metadata: { plan: 'pro' }, ...rateOut(7) });
        expect(app.id).toMatch(/^app_/);
        expect(app.createdAt).toBeInstanceOf(Date);
        expect(app.updatedAt).toBeInstanceOf(Date);
        expect(await fx.svix.application.get(app.id)).toMatchObject({ id: app.id, name: 'Conformance app', uid, metadata: { plan: 'pro' }, ...rateOut(7) });
        fx.state.app = app;
      },
    },
    {
      api: 'application', method: 'getOrCreate', async run(fx) {
        const existing = await fx.svix.application.getOrCreate({ name: 'Not used', uid: fx.state.app.uid });
        expect(existing).toMatchObject({ id: fx.state.app.id, name: 'Conformance app' });
        const uid = `conf-goc-${fx.tag}`;
        const made = await fx.svix.application.getOrCreate({ name: 'Made by getOrCreate', uid, metadata: { via: 'goc' } });
        expect(made).toMatchObject({ name: 'Made by getOrCreate', uid, metadata: { via: 'goc' } });
        expect(made.id).not.toBe(fx.state.app.id);
        expect((await fx.svix.application.get(uid)).id).toBe(made.id);
      },
    },
    {
      api: 'application', method: 'get', async run(fx) {
        const got = await fx.svix.application.get(fx.state.app.uid);
        expect(got).toEqual(fx.state.app);
      },
    },
    {
      api: 'application', method: 'list', async run(fx) {
        const page = await fx.svix.application.list({ limit: 250 });
        expect(page.done).toBe(true);
        expect(page.data.find((a: any) => a.id === fx.state.app.id)).toEqual(fx.state.app);
        const one = await fx.svix.application.list({ limit: 1 });
        expect(one.data).toHaveLength(1);
        expect(one.done).toBe(false);
        const next = await fx.svix.application.list({ limit: 1, iterator: one.iterator });
        expect(next.data[0].id).not.toBe(one.data[0].id);
      },
    },
    {
      api: 'application', method: m.put, async run(fx) {
        const { id, uid } = fx.state.app;
        const replaced = await fx.svix.application[m.put](id, { name: 'Replaced', uid, metadata: { plan: 'team' }, ...rate(9) });
        expect(replaced).toMatchObject({ id, name: 'Replaced', uid, metadata: { plan: 'team' }, ...rateOut(9) });
        expect(await fx.svix.application.get(id)).toMatchObject({ name: 'Replaced', metadata: { plan: 'team' }, ...rateOut(9) });
        // PUT on an unknown uid creates the application.
        const newUid = `conf-put-${fx.tag}`;
        const created = await fx.svix.application[m.put](newUid, { name: 'Made by PUT', uid: newUid });
        expect(created.id).toMatch(/^app_/);
        expect(await fx.svix.application.get(newUid)).toMatchObject({ id: created.id, name: 'Made by PUT', uid: newUid });
        fx.state.putApp = created;
      },
    },
    {
      api: 'application', method: 'patch', async run(fx) {
        const patched = await fx.svix.application.patch(fx.state.app.id, { metadata: { plan: 'enterprise' } });
        expect(patched).toMatchObject({ id: fx.state.app.id, name: 'Replaced', metadata: { plan: 'enterprise' }, ...rateOut(9) });
        expect((await fx.svix.application.get(fx.state.app.id)).metadata).toEqual({ plan: 'enterprise' });
      },
    },
    {
      api: 'application', method: 'delete', async run(fx) {
        await fx.svix.application.delete(fx.state.putApp.uid);
        await expect404(fx.svix.application.get(fx.state.putApp.id));
      },
    },

    // ── event types ──
    {
      api: 'eventType', method: 'create', async run(fx) {
        const name = `conf.${fx.tag}.created`;
        const schemas = { '1': { type: 'object', properties: { n: { type: 'integer' } }, examples: [{ n: 0 }] } };
        const created = await fx.svix.eventType.create({ name, description: 'Made by create', schemas, featureFlags: [`beta-${fx.tag}`], groupName: 'conformance', deprecated: true });
        expect(created).toMatchObject({ name, description: 'Made by create', schemas, featureFlags: [`beta-${fx.tag}`], groupName: 'conformance', deprecated: true, archived: false });
        expect(created.createdAt).toBeInstanceOf(Date);
        fx.state.eventType = created;
      },
    },
    {
      api: 'eventType', method: 'get', async run(fx) {
        const { name, description, schemas, featureFlags, groupName } = fx.state.eventType;
        expect(await fx.svix.eventType.get(name)).toMatchObject({ name, description, schemas, featureFlags, groupName, deprecated: true, archived: false });
      },
    },
    {
      api: 'eventType', method: 'list', async run(fx) {
        const { name, schemas, featureFlags, groupName } = fx.state.eventType;
        const page = await fx.svix.eventType.list({ limit: 250, withContent: true });
        expect(page.data.find((t: any) => t.name === name)).toMatchObject({ name, schemas, featureFlags, groupName });
        const bare = await fx.svix.eventType.list({ limit: 250, withContent: false });
        expect(bare.data.find((t: any) => t.name === name)?.schemas ?? null).toBeNull();
      },
    },
    {
      api: 'eventType', method: m.put, async run(fx) {
        const { name } = fx.state.eventType;
        const schemas = { '2': { type: 'object', examples: [{ v: 2 }] } };
        const replaced = await fx.svix.eventType[m.put](name, { description: 'Replaced', schemas, featureFlags: ['gamma', 'delta'], groupName: 'other', deprecated: false });
        expect(replaced).toMatchObject({ name, description: 'Replaced', schemas, featureFlags: ['gamma', 'delta'], groupName: 'other', deprecated: false });
        expect(await fx.svix.eventType.get(name)).toMatchObject({ description: 'Replaced', schemas, featureFlags: ['gamma', 'delta'], groupName: 'other' });
        // PUT on an unknown name creates it.
        const fresh = `conf.${fx.tag}.put`;
        expect(await fx.svix.eventType[m.put](fresh, { description: 'Made by PUT', groupName: 'g' })).toMatchObject({ name: fresh, description: 'Made by PUT', groupName: 'g' });
        expect((await fx.svix.eventType.get(fresh)).description).toBe('Made by PUT');
      },
    },
    {
      api: 'eventType', method: 'patch', async run(fx) {
        const { name } = fx.state.eventType;
        const patched = await fx.svix.eventType.patch(name, { description: 'Patched', featureFlags: ['epsilon'] });
        expect(patched).toMatchObject({ name, description: 'Patched', featureFlags: ['epsilon'], groupName: 'other' });
        expect(await fx.svix.eventType.get(name)).toMatchObject({ description: 'Patched', featureFlags: ['epsilon'], groupName: 'other' });
      },
    },
    {
      api: 'eventType', method: 'importOpenapi', async run(fx) {
        const imported = `conf.${fx.tag}.imported`;
        const dry = `conf.${fx.tag}.dry`;
        const schema = { type: 'object', properties: { petId: { type: 'string' } }, required: ['petId'] };
        const specWith = (name: string): Record<string, unknown> => ({
          openapi: '3.1.0',
          info: { title: 'Conformance', version: '1.0.0' },
          paths: {},
          webhooks: {
            [name]: {
              post: {
                summary: 'A pet arrived',
                description: 'A pet arrived',
                requestBody: { content: { 'application/json': { schema } } },
                responses: { '200': { description: 'ok' } },
              },
            },
          },
        });
        const out = await fx.svix.eventType.importOpenapi({ spec: specWith(imported) });
        expect(out.data.modified).toContain(imported);
        const got = await fx.svix.eventType.get(imported);
        expect(got.description).toBe('A pet arrived');
        expect(Object.values(got.schemas ?? {})).toContainEqual(expect.objectContaining({ properties: { petId: { type: 'string' } } }));
        // dryRun: reported, not made.
        const preview = await fx.svix.eventType.importOpenapi({ spec: specWith(dry), dryRun: true });
        expect((preview.data.toModify ?? []).map((t: any) => t.name)).toContain(dry);
        await expect404(fx.svix.eventType.get(dry));
      },
    },
    {
      api: 'eventType', method: 'delete', async run(fx) {
        const { name } = fx.state.eventType;
        await fx.svix.eventType.delete(name);
        expect((await fx.svix.eventType.get(name)).archived).toBe(true);
        await fx.svix.eventType.delete(name, { expunge: true });
        await expect404(fx.svix.eventType.get(name));
      },
    },

    // ── endpoints ──
    {
      api: 'endpoint', method: 'create', async run(fx) {
        const uid = `conf-ep-${fx.tag}`;
        const secret = secretOf(0x21);
        const input = {
          url: `${receiver().url}/conf/${fx.tag}/second`,
          description: 'second',
          uid,
          ...filter([fx.typeA]),
          channels: ['project:42', 'team+ops'],
          ...endpointRate(5),
          metadata: { team: 'core' },
          secret,
          headers: { 'X-Conformance': fx.tag },
          disabled: false,
        };
        const created = await fx.svix.endpoint.create(fx.appId, input);
        expect(created).toMatchObject({ url: input.url, description: 'second', uid, ...filter([fx.typeA]), channels: ['project:42', 'team+ops'], metadata: { team: 'core' }, disabled: false, ...rateOut(5) });
        expect(created.id).toMatch(/^ep_/);
        expect((await fx.svix.endpoint.getSecret(fx.appId, created.id)).key).toBe(secret);
        expect((await fx.svix.endpoint.getHeaders(fx.appId, created.id)).headers).toEqual({ 'X-Conformance': fx.tag });
        fx.state.endpoint = created;
      },
    },
    {
      api: 'endpoint', method: 'get', async run(fx) {
        expect(await fx.svix.endpoint.get(fx.appUid, fx.state.endpoint.uid)).toEqual(fx.state.endpoint);
      },
    },
    {
      api: 'endpoint', method: 'list', async run(fx) {
        const page = await fx.svix.endpoint.list(fx.appId, { limit: 250 });
        expect(page.data.find((e: any) => e.id === fx.state.endpoint.id)).toEqual(fx.state.endpoint);
        expect(page.data.map((e: any) => e.id)).toContain(fx.mainId);
      },
    },
    {
      api: 'endpoint', method: m.put, async run(fx) {
        const { id, uid, url } = fx.state.endpoint;
        const replaced = await fx.svix.endpoint[m.put](fx.appId, id, { url, description: 'replaced', uid, ...filter([fx.typeA]), channels: ['c2'], ...endpointRate(6), metadata: { team: 'edge' }, disabled: true });
        expect(replaced).toMatchObject({ id, description: 'replaced', channels: ['c2'], ...rateOut(6), metadata: { team: 'edge' }, disabled: true, ...filter([fx.typeA]) });
        expect(await fx.svix.endpoint.get(fx.appId, id)).toMatchObject({ description: 'replaced', channels: ['c2'], metadata: { team: 'edge' }, disabled: true });
      },
    },
    {
      api: 'endpoint', method: 'patch', async run(fx) {
        const { id } = fx.state.endpoint;
        const patched = await fx.svix.endpoint.patch(fx.appId, id, { description: 'patched', disabled: false, metadata: { team: 'patched' } });
        expect(patched).toMatchObject({ id, description: 'patched', disabled: false, metadata: { team: 'patched' }, channels: ['c2'], ...rateOut(6) });
        expect(await fx.svix.endpoint.get(fx.appId, id)).toMatchObject({ description: 'patched', disabled: false, channels: ['c2'] });
      },
    },
    {
      api: 'endpoint', method: 'getSecret', async run(fx) {
        expect(await fx.svix.endpoint.getSecret(fx.appId, fx.mainId)).toEqual({ key: fx.mainSecret });
      },
    },
    {
      api: 'endpoint', method: 'rotateSecret', async run(fx) {
        const next = secretOf(0x22);
        await fx.svix.endpoint.rotateSecret(fx.appId, fx.mainId, { key: next, gracePeriodSeconds: 60 });
        expect((await fx.svix.endpoint.getSecret(fx.appId, fx.mainId)).key).toBe(next);
        fx.mainSecret = next;
      },
    },
    {
      api: 'endpoint', method: 'getHeaders', async run(fx) {
        expect(await fx.svix.endpoint.getHeaders(fx.appId, fx.mainId)).toEqual({ headers: { 'X-Fixture': fx.tag }, sensitive: [] });
      },
    },
    {
      api: 'endpoint', method: m.setHeaders, async run(fx) {
        await fx.svix.endpoint[m.setHeaders](fx.appId, fx.mainId, { headers: { 'X-A': '1', 'X-B': '2', Authorization: 'Bearer hidden' } });
        expect(await fx.svix.endpoint.getHeaders(fx.appId, fx.mainId)).toEqual({ headers: { 'X-A': '1', 'X-B': '2' }, sensitive: ['Authorization'] });
      },
    },
    {
      api: 'endpoint', method: 'headersUpdate', only: 1, async run(fx) {
        await fx.svix.endpoint.headersUpdate(fx.appId, fx.mainId, { headers: { 'X-A': 'a', 'X-B': 'b' } });
        expect(await fx.svix.endpoint.getHeaders(fx.appId, fx.mainId)).toEqual({ headers: { 'X-A': 'a', 'X-B': 'b' }, sensitive: [] });
      },
    },
    {
      api: 'endpoint', method: 'patchHeaders', async run(fx) {
        await fx.svix.endpoint.patchHeaders(fx.appId, fx.mainId, { headers: { 'X-C': '3' }, deleteHeaders: ['X-A'] });
        expect((await fx.svix.endpoint.getHeaders(fx.appId, fx.mainId)).headers).toEqual({ 'X-B': expect.any(String), 'X-C': '3' });
      },
    },
    {
      api: 'endpoint', method: 'headersPatch', only: 1, async run(fx) {
        await fx.svix.endpoint.headersPatch(fx.appId, fx.mainId, { headers: { 'X-D': '4' }, deleteHeaders: ['X-B'] });
        expect((await fx.svix.endpoint.getHeaders(fx.appId, fx.mainId)).headers).toEqual({ 'X-C': '3', 'X-D': '4' });
      },
    },
    // Transformations are set, read and removed again here (delivery through them is test/transformations.test.ts):
    // later cases deliver to the main endpoint untransformed.
    {
      api: 'endpoint', method: 'transformationGet', only: 1, async run(fx) {
        expect(await fx.svix.endpoint.transformationGet(fx.appId, fx.mainId)).toEqual({ code: null, enabled: false, updatedAt: null });
        await fx.svix.endpoint.patchTransformation(fx.appId, fx.mainId, { code: 'function handler(webhook) { return webhook; }' });
        const got = await fx.svix.endpoint.transformationGet(fx.appId, fx.mainId);
        expect(got).toMatchObject({ code: 'function handler(webhook) { return webhook; }', enabled: false });
        expect(new Date(got.updatedAt).getTime()).toBeGreaterThan(Date.now() - HOUR_MS);
        await fx.svix.endpoint.patchTransformation(fx.appId, fx.mainId, { code: null });
      },
    },
    {
      api: 'endpoint', method: 'patchTransformation', only: 1, async run(fx) {
        await fx.svix.endpoint.patchTransformation(fx.appId, fx.mainId, { code: `function handler(webhook) { webhook.headers['X-Tag'] = '${fx.tag}'; return webhook; }`, enabled: true });
        expect(await fx.svix.endpoint.transformationGet(fx.appId, fx.mainId)).toMatchObject({ code: expect.stringContaining(fx.tag), enabled: true });
        await fx.svix.endpoint.patchTransformation(fx.appId, fx.mainId, { enabled: false });
        expect(await fx.svix.endpoint.transformationGet(fx.appId, fx.mainId)).toMatchObject({ code: expect.stringContaining(fx.tag), enabled: false });
        expect((await apiError(fx.svix.endpoint.patchTransformation(fx.appId, fx.mainId, { code: 'x'.repeat(70_000) }))).code).toBe(422);
        await fx.svix.endpoint.patchTransformation(fx.appId, fx.mainId, { code: null });
        expect(await fx.svix.endpoint.transformationGet(fx.appId, fx.mainId)).toMatchObject({ code: null, enabled: false });
      },
    },
    {
      api: 'endpoint', method: 'transformationPartialUpdate', async run(fx) {
        const read = (): Promise<any> => (m.major === 1 ? fx.svix.endpoint.transformationGet(fx.appId, fx.mainId) : fx.svix.endpoint.transformation.get(fx.appId, fx.mainId));
        await fx.svix.endpoint.transformationPartialUpdate(fx.appId, fx.mainId, { code: 'function handler(webhook) { return webhook; }', enabled: true });
        expect(await read()).toMatchObject({ code: 'function handler(webhook) { return webhook; }', enabled: true });
        await fx.svix.endpoint.transformationPartialUpdate(fx.appId, fx.mainId, { code: null });
        expect(await read()).toMatchObject({ code: null, enabled: false });
        await expect404(fx.svix.endpoint.transformationPartialUpdate(fx.appId, 'ep_missing', { enabled: false }));
      },
    },
    {
      api: 'endpoint', method: 'transformation', only: 2, async run(fx) {
        const t = fx.svix.endpoint.transformation;
        expect(await t.get(fx.appId, fx.mainId)).toEqual({ code: null, enabled: false, updatedAt: null, variables: undefined });
        await t.patch(fx.appId, fx.mainId, { code: 'function handler(webhook) { return webhook; }', enabled: true });
        const got = await t.get(fx.appId, fx.mainId);
        expect(got).toMatchObject({ code: 'function handler(webhook) { return webhook; }', enabled: true });
        expect(got.updatedAt).toBeInstanceOf(Date);
        expect((await apiError(t.patch(fx.appId, fx.mainId, { variables: { region: 'eu' } }))).code).toBe(422);
        await t.patch(fx.appId, fx.mainId, { code: null });
        expect(await t.get(fx.appId, fx.mainId)).toMatchObject({ code: null, enabled: false });
        await expect404(t.get(fx.appId, 'ep_missing'));
      },
    },
    {
      api: 'endpoint', method: 'getStats', async run(fx) {
        const stats = await fx.svix.endpoint.getStats(fx.appId, fx.mainId, { since: new Date(Date.now() - HOUR_MS), until: new Date(Date.now() + 60_000) });
        expect(stats).toEqual({ success: expect.any(Number), pending: expect.any(Number), sending: expect.any(Number), fail: expect.any(Number), canceled: expect.any(Number) });
        expect(stats.success).toBeGreaterThanOrEqual(1);
        expect(stats.fail).toBe(0);
      },
    },
    {
      api: 'endpoint', method: 'sendExample', async run(fx) {
        const msg = await fx.svix.endpoint.sendExample(fx.appId, fx.mainId, { eventType: fx.typeA, exampleIndex: 1 });
        expect(msg.id).toMatch(/^msg_/);
        expect(msg.eventType).toBe(fx.typeA);
        await receiver().waitFor(() => deliveriesOf(msg.id, fx.mainPath).length > 0);
        expect(JSON.parse(deliveriesOf(msg.id, fx.mainPath)[0]!.body.toString('utf8'))).toEqual(fx.examples[1]);
      },
    },
    {
      api: 'endpoint', method: 'recover', async run(fx) {
        // A message that failed for good at the flaky endpoint; once it answers again, recover resends it.
        const flaky = await fx.svix.endpoint.create(fx.appId, { url: `${receiver().url}/conf/${fx.tag}/flaky`, ...filter([fx.typeFlaky]) });
        const msg = await fx.svix.message.create(fx.appId, { eventType: fx.typeFlaky, payload: { flaky: true } });
        await eventually(
          () => fx.svix.messageAttempt.listAttemptedDestinations(fx.appId, msg.id),
          (page: any) => page.data.some((d: any) => d.id === flaky.id && d.status === MessageStatus.Fail),
        );
        fx.state.flakyHealed = true;
        const out = await fx.svix.endpoint.recover(fx.appId, flaky.id, { since: new Date(Date.now() - HOUR_MS) });
        expectTaskOut(out, 'endpoint.recover');
        await finished(fx, out.id, 'endpoint.recover');
        await eventually(
          () => fx.svix.messageAttempt.listAttemptedDestinations(fx.appId, msg.id),
          (page: any) => page.data.some((d: any) => d.id === flaky.id && d.status === MessageStatus.Success),
        );
      },
    },
    {
      api: 'endpoint', method: 'replayMissing', async run(fx) {
        // An endpoint made after the fixture message never got it; replay-missing sends it.
        const late = await fx.svix.endpoint.create(fx.appId, { url: `${receiver().url}/conf/${fx.tag}/late`, ...filter([fx.typeA]) });
        const out = await fx.svix.endpoint.replayMissing(fx.appId, late.id, { since: new Date(Date.now() - HOUR_MS) });
        expectTaskOut(out, 'endpoint.replay');
        await finished(fx, out.id, 'endpoint.replay');
        await receiver().waitFor(() => deliveriesOf(fx.msgId, `/conf/${fx.tag}/late`).length > 0);
        fx.state.replayTaskId = out.id;
      },
    },
    {
      api: 'endpoint', method: 'bulkReplay', async run(fx) {
        // Replays what matches the filters, delivered or not: the fixture message reaches main again.
        const before = deliveriesOf(fx.msgId, fx.mainPath).length;
        const out = await fx.svix.endpoint.bulkReplay(fx.appId, fx.mainId, { since: new Date(Date.now() - HOUR_MS), eventTypes: [fx.typeA], status: MessageStatus.Success });
        expectTaskOut(out, 'endpoint.bulk-replay');
        await finished(fx, out.id, 'endpoint.bulk-replay');
        await receiver().waitFor(() => deliveriesOf(fx.msgId, fx.mainPath).length > before);
        // A filter nothing matches replays nothing.
        const none = await fx.svix.endpoint.bulkReplay(fx.appId, fx.mainId, { since: new Date(Date.now() - HOUR_MS), eventTypes: [fx.typeQuiet] });
        await finished(fx, none.id, 'endpoint.bulk-replay');
      },
    },
    {
      api: 'endpoint', method: 'delete', async run(fx) {
        await fx.svix.endpoint.delete(fx.appId, fx.state.endpoint.id);
        await expect404(fx.svix.endpoint.get(fx.appId, fx.state.endpoint.id));
      },
    },

    // ── messages ──
    {
      api: 'message', method: 'create', async run(fx) {
        const deliverAt = new Date(Date.now() + HOUR_MS);
        deliverAt.setMilliseconds(0);
        const payload = { scheduled: true, tag: fx.tag };
        const input = { eventType: fx.typeA, payload, eventId: `evt-${fx.tag}`, channels: ['project:42'], tags: [`tag-${fx.tag}`], deliverAt, payloadRetentionPeriod: 1 };
        const msg = await fx.svix.message.create(fx.appId, input);
        expect(msg.id).toMatch(/^msg_/);
        expect(msg).toMatchObject({ eventType: fx.typeA, eventId: `evt-${fx.tag}`, channels: ['project:42'], tags: [`tag-${fx.tag}`] });
        expect(msg.deliverAt?.toISOString()).toBe(deliverAt.toISOString());
        fx.state.scheduled = { ...msg, payload };
        // Scheduled for later: a message sent after it is delivered, it is not.
        const now = await fx.svix.message.create(fx.appId, { eventType: fx.typeA, payload: { now: true } });
        await receiver().waitFor(() => deliveriesOf(now.id).length > 0);
        expect(deliveriesOf(msg.id)).toEqual([]);
        // A raw (non-JSON) payload, built by the client's own helper, is delivered as sent, with its content type, and signed over those bytes.
        const raw = await fx.svix.message.create(fx.appId, m.lib.messageInRaw(fx.typeA, 'a=1&b=two', 'application/x-www-form-urlencoded'));
        await receiver().waitFor(() => deliveriesOf(raw.id, fx.mainPath).length > 0);
        const delivered = deliveriesOf(raw.id, fx.mainPath)[0]!;
        expect(delivered.body.toString('utf8')).toBe('a=1&b=two');
        expect(delivered.headers['content-type']).toBe('application/x-www-form-urlencoded');
        // (1.x's Webhook.verify JSON-parses the body and so throws on any non-JSON one: checked with standardwebhooks, which it wraps.)
        expect(() => new StandardWebhook(fx.mainSecret).verify(delivered.body.toString('utf8'), headersOf(delivered), { jsonParse: false })).not.toThrow();
      },
    },
    {
      api: 'message', method: 'get', async run(fx) {
        const { id, payload, deliverAt } = fx.state.scheduled;
        const got = await fx.svix.message.get(fx.appId, `evt-${fx.tag}`, contentOpt);
        expect(got).toMatchObject({ id, eventType: fx.typeA, payload, eventId: `evt-${fx.tag}`, channels: ['project:42'], tags: [`tag-${fx.tag}`] });
        expect(got.deliverAt?.toISOString()).toBe(deliverAt.toISOString());
        expect(got.timestamp).toBeInstanceOf(Date);
        expect((await fx.svix.message.get(fx.appId, id, { withContent: false })).payload).toEqual({});
      },
    },
    {
      api: 'message', method: 'list', async run(fx) {
        const { id, payload } = fx.state.scheduled;
        // The tag filter returns only the tagged message, with its tags.
        const tagged = await fx.svix.message.list(fx.appId, { tag: `tag-${fx.tag}`, withContent: true });
        expect(tagged.data.map((x: any) => x.id)).toEqual([id]);
        expect(tagged.data[0]).toMatchObject({ payload, tags: [`tag-${fx.tag}`] });
        const byChannel = await fx.svix.message.list(fx.appId, { channel: 'project:42', eventTypes: [fx.typeA] });
        expect(byChannel.data.map((x: any) => x.id)).toEqual([id]);
        expect((await fx.svix.message.list(fx.appId, { eventTypes: [fx.typeQuiet] })).data).toEqual([]);
      },
    },
    {
      api: 'message', method: 'precheck', async run(fx) {
        expect(await fx.svix.message.precheck(fx.appId, { eventType: fx.typeA })).toEqual({ active: true });
        expect(await fx.svix.message.precheck(fx.appId, { eventType: fx.typeQuiet })).toEqual({ active: false });
      },
    },
    {
      api: 'message', method: 'expungeContent', async run(fx) {
        const msg = await fx.svix.message.create(fx.appId, { eventType: fx.typeQuiet, payload: { secret: 'gone soon' } });
        await fx.svix.message.expungeContent(fx.appId, msg.id);
        expect((await fx.svix.message.get(fx.appId, msg.id, contentOpt)).payload).toEqual({ expired: true });
      },
    },
    {
      api: 'message', method: 'bulkExpungeContent', only: 2, async run(fx) {
        const gone = await fx.svix.message.create(fx.appId, { eventType: fx.typeQuiet, payload: { bulk: 'gone' } });
        const kept = await fx.svix.message.create(fx.appId, { eventType: fx.typeQuiet, payload: { bulk: 'kept' } });
        const unknown = 'msg_2xNoSuchMessageConformance0'; // the shape of a message id (27 characters after msg_), of none
        const out = await fx.svix.message.bulkExpungeContent(fx.appId, { ids: [gone.id, unknown] });
        expect(out).toEqual({ results: { [gone.id]: 'expunged', [unknown]: 'not-found' } });
        expect((await fx.svix.message.get(fx.appId, gone.id, contentOpt)).payload).toEqual({ expired: true });
        expect((await fx.svix.message.get(fx.appId, kept.id, contentOpt)).payload).toEqual({ bulk: 'kept' });
      },
    },
    {
      api: 'message', method: 'expungeAllContents', async run(fx) {
        // On an application of its own: every payload of that application goes, no other's.
        const other = await fx.svix.application.create({ name: 'Expunge all', uid: `conf-expunge-${fx.tag}` });
        const msgs = [
          await fx.svix.message.create(other.id, { eventType: fx.typeQuiet, payload: { n: 1 } }),
          await fx.svix.message.create(other.id, { eventType: fx.typeQuiet, payload: { n: 2 } }),
        ];
        const out = await fx.svix.message.expungeAllContents(other.id);
        expectTaskOut(out, 'application.purge_content');
        await finished(fx, out.id, 'application.purge_content');
        for (const msg of msgs) expect((await fx.svix.message.get(other.id, msg.id, contentOpt)).payload).toEqual({ expired: true });
        expect((await fx.svix.message.get(fx.appId, fx.msgId, contentOpt)).payload).toEqual(fx.msgPayload);
      },
    },

    // ── attempts ──
    {
      api: 'messageAttempt', method: 'listByMsg', async run(fx) {
        const page = await fx.svix.messageAttempt.listByMsg(fx.appId, fx.msgId, { endpointId: fx.mainId, status: MessageStatus.Success, withContent: true });
        const attempt = page.data.find((a: any) => a.id === fx.attemptId);
        expect(attempt).toMatchObject({ msgId: fx.msgId, endpointId: fx.mainId, status: MessageStatus.Success, responseStatusCode: 200, response: `ok-${fx.tag}`, triggerType: 0, url: `${receiver().url}${fx.mainPath}` });
        expect(attempt.timestamp).toBeInstanceOf(Date);
        // status 4 (canceled) is a filter like the others: none of these attempts is canceled.
        expect((await fx.svix.messageAttempt.listByMsg(fx.appId, fx.msgId, { status: 4 })).data).toEqual([]);
      },
    },
    {
      api: 'messageAttempt', method: 'listByEndpoint', async run(fx) {
        // A tagged message first (listAttemptedMessages reads it too), then the fixture's attempt with its message.
        const tag = `att-${fx.tag}`;
        const tagged = await fx.svix.message.create(fx.appId, { eventType: fx.typeA, payload: { tagged: true }, tags: [tag] });
        await receiver().waitFor(() => deliveriesOf(tagged.id, fx.mainPath).length > 0);
        const page = await fx.svix.messageAttempt.listByEndpoint(fx.appId, fx.mainId, { status: MessageStatus.Success, withMsg: true, withContent: true, eventTypes: [fx.typeA] });
        const attempt = page.data.find((a: any) => a.id === fx.attemptId);
        expect(attempt).toMatchObject({ msgId: fx.msgId, endpointId: fx.mainId, status: MessageStatus.Success });
        // with_msg: each attempt carries its message, without its payload (Svix never includes it there).
        expect(attempt.msg).toMatchObject({ id: fx.msgId, eventType: fx.typeA, payload: {} });
        // tag: only attempts of messages with that tag.
        const byTag = await eventually(
          () => fx.svix.messageAttempt.listByEndpoint(fx.appId, fx.mainId, { tag }),
          (p: any) => p.data.length > 0,
        );
        expect(byTag.data.map((a: any) => a.msgId)).toEqual([tagged.id]);
        expect((await fx.svix.messageAttempt.listByEndpoint(fx.appId, fx.mainId, { status: 4 })).data).toEqual([]);
      },
    },
    {
      api: 'messageAttempt', method: 'listAttemptedMessages', async run(fx) {
        const page = await fx.svix.messageAttempt.listAttemptedMessages(fx.appId, fx.mainId, { withContent: true, limit: 250 });
        expect(page.data.find((x: any) => x.id === fx.msgId)).toMatchObject({ eventType: fx.typeA, payload: fx.msgPayload, status: MessageStatus.Success, statusText: 'success' });
        const tagged = await fx.svix.messageAttempt.listAttemptedMessages(fx.appId, fx.mainId, { tag: `att-${fx.tag}` });
        expect(tagged.data).toHaveLength(1);
        expect(tagged.data[0].tags).toEqual([`att-${fx.tag}`]);
      },
    },
    {
      api: 'messageAttempt', method: 'listAttemptedDestinations', async run(fx) {
        const page = await fx.svix.messageAttempt.listAttemptedDestinations(fx.appId, fx.msgId);
        expect(page.data.find((d: any) => d.id === fx.mainId)).toMatchObject({ url: `${receiver().url}${fx.mainPath}`, status: MessageStatus.Success, statusText: 'success' });
      },
    },
    {
      api: 'messageAttempt', method: 'get', async run(fx) {
        const attempt = await fx.svix.messageAttempt.get(fx.appId, fx.msgId, fx.attemptId);
        expect(attempt).toMatchObject({ id: fx.attemptId, msgId: fx.msgId, endpointId: fx.mainId, status: MessageStatus.Success, responseStatusCode: 200, response: `ok-${fx.tag}` });
      },
    },
    {
      api: 'messageAttempt', method: 'resend', async run(fx) {
        const before = deliveriesOf(fx.msgId, fx.mainPath).length;
        await fx.svix.messageAttempt.resend(fx.appId, fx.msgId, fx.mainId);
        const all = await receiver().waitFor(() => deliveriesOf(fx.msgId, fx.mainPath).length > before);
        const last = all.filter((r) => r.headers['webhook-id'] === fx.msgId && r.path === fx.mainPath).pop()!;
        // Signed with the rotated secret, and svix's own Webhook class accepts it.
        expect(() => new Webhook(fx.mainSecret).verify(last.body.toString('utf8'), headersOf(last))).not.toThrow();
        await eventually(
          () => fx.svix.messageAttempt.listByMsg(fx.appId, fx.msgId, { endpointId: fx.mainId }),
          (p: any) => p.data.some((a: any) => a.triggerType === 1),
        );
      },
    },
    {
      api: 'messageAttempt', method: 'expungeContent', async run(fx) {
        expect((await fx.svix.messageAttempt.get(fx.appId, fx.msgId, fx.attemptId)).response).toBe(`ok-${fx.tag}`);
        await fx.svix.messageAttempt.expungeContent(fx.appId, fx.msgId, fx.attemptId);
        const after = await fx.svix.messageAttempt.get(fx.appId, fx.msgId, fx.attemptId);
        expect(after.id).toBe(fx.attemptId);
        expect(after.response).not.toContain(`ok-${fx.tag}`);
      },
    },

    // ── background tasks ──
    {
      api: 'backgroundTask', method: 'list', async run(fx) {
        const page = await fx.svix.backgroundTask.list({ task: 'endpoint.replay', status: 'finished', limit: 250 });
        expect(page.data.map((t: any) => t.id)).toContain(fx.state.replayTaskId);
        for (const t of page.data) expect(t).toMatchObject({ task: 'endpoint.replay', status: 'finished' });
        const recovers = await fx.svix.backgroundTask.list({ task: 'endpoint.recover', limit: 250 });
        expect(recovers.data.map((t: any) => t.id)).not.toContain(fx.state.replayTaskId);
      },
    },
    {
      api: 'backgroundTask', method: 'listByEndpoint', only: 1, async run(fx) {
        const page = await fx.svix.backgroundTask.listByEndpoint({ task: 'endpoint.replay', limit: 250 });
        expect(page.data.map((t: any) => t.id)).toContain(fx.state.replayTaskId);
      },
    },
    {
      api: 'backgroundTask', method: 'get', async run(fx) {
        const task = await fx.svix.backgroundTask.get(fx.state.replayTaskId);
        expect(task).toMatchObject({ id: fx.state.replayTaskId, task: 'endpoint.replay', status: 'finished' });
        expect(typeof task.data).toBe('object');
      },
    },

    // ── statistics ──
    {
      api: 'statistics', method: 'aggregateEventTypes', async run(fx) {
        const out = await fx.svix.statistics.aggregateEventTypes();
        expectTaskOut(out, 'event-type.aggregate');
        await finished(fx, out.id, 'event-type.aggregate');
      },
    },
    {
      api: 'statistics', method: 'aggregateAppStats', async run(fx) {
        const missing = `conf-missing-${fx.tag}`;
        const out = await fx.svix.statistics.aggregateAppStats({ since: new Date(Date.now() - HOUR_MS), until: new Date(), appIds: [fx.appId, missing] });
        expectTaskOut(out, 'application.stats');
        expect(out.unresolvedAppIds).toEqual([missing]);
        await finished(fx, out.id, 'application.stats');
      },
    },

    // ── integrations ──
    {
      api: 'integration', method: 'create', async run(fx) {
        const created = await fx.svix.integration.create(fx.appId, { name: 'CRM sync', featureFlags: ['crm'] });
        expect(created).toMatchObject({ name: 'CRM sync', featureFlags: ['crm'] });
        expect(created.id).toEqual(expect.any(String));
        expect(created.createdAt).toBeInstanceOf(Date);
        fx.state.integration = created;
      },
    },
    {
      api: 'integration', method: 'get', async run(fx) {
        expect(await fx.svix.integration.get(fx.appId, fx.state.integration.id)).toEqual(fx.state.integration);
      },
    },
    {
      api: 'integration', method: 'list', async run(fx) {
        const page = await fx.svix.integration.list(fx.appId, { limit: 250 });
        expect(page.data).toContainEqual(fx.state.integration);
      },
    },
    {
      api: 'integration', method: 'update', async run(fx) {
        const { id } = fx.state.integration;
        const updated = await fx.svix.integration.update(fx.appId, id, { name: 'CRM sync v2', featureFlags: ['crm', 'beta'] });
        expect(updated).toMatchObject({ id, name: 'CRM sync v2', featureFlags: ['crm', 'beta'] });
        expect(await fx.svix.integration.get(fx.appId, id)).toMatchObject({ name: 'CRM sync v2', featureFlags: ['crm', 'beta'] });
      },
    },
    {
      api: 'integration', method: 'getKey', only: 1, async run(fx) {
        const { key } = await fx.svix.integration.getKey(fx.appId, fx.state.integration.id);
        expect(key).toEqual(expect.any(String));
        expect(key.length).toBeGreaterThan(0);
        fx.state.integrationKey = key;
      },
    },
    {
      api: 'integration', method: 'rotateKey', async run(fx) {
        const { id } = fx.state.integration;
        const first = await fx.svix.integration.rotateKey(fx.appId, id);
        const second = await fx.svix.integration.rotateKey(fx.appId, id);
        expect(first.key).toEqual(expect.any(String));
        expect(second.key).not.toBe(first.key);
        if (fx.state.integrationKey) expect(first.key).not.toBe(fx.state.integrationKey);
        if (m.major === 1) expect((await fx.svix.integration.getKey(fx.appId, id)).key).toBe(second.key);
      },
    },
    {
      api: 'integration', method: 'delete', async run(fx) {
        await fx.svix.integration.delete(fx.appId, fx.state.integration.id);
        await expect404(fx.svix.integration.get(fx.appId, fx.state.integration.id));
      },
    },

    // ── environment ──
    {
      api: 'environment', method: 'export', async run(fx) {
        const env = await fx.svix.environment.export();
        expect(env.createdAt).toBeInstanceOf(Date);
        expect(env.connectors).toEqual([]);
        const mine = env.eventTypes.find((t: any) => t.name === fx.typeA);
        expect(mine).toMatchObject({ name: fx.typeA, description: 'Fixture type', schemas: { '1': expect.objectContaining({ examples: fx.examples }) } });
      },
    },
    {
      api: 'environment', method: 'import', async run(fx) {
        const name = `conf.${fx.tag}.env`;
        const schemas = { '1': { type: 'object', examples: [{ env: true }] } };
        await fx.svix.environment.import({ eventTypes: [{ name, description: 'From an environment', schemas, groupName: 'env', featureFlags: ['env-flag'] }] });
        expect(await fx.svix.eventType.get(name)).toMatchObject({ name, description: 'From an environment', schemas, groupName: 'env', featureFlags: ['env-flag'] });
      },
    },

    // ── authentication ──
    {
      api: 'authentication', method: 'dashboardAccess', only: 1, async run(fx) {
        // 1.x only (2.x dropped it): a token with every capability, as app-portal-access without a body.
        const access = await fx.svix.authentication.dashboardAccess(fx.appId);
        expect(access).toEqual({ url: expect.stringContaining('/portal#token='), token: expect.any(String) });
        const scoped = new m.lib.Svix(access.token, { serverUrl: fx.state.serverUrl, fetch: guardedFetch });
        expect((await scoped.endpoint.getSecret(fx.appId, fx.mainId)).key).toMatch(/^wh(sec|pk)_/);
        expect((await apiError(scoped.application.list())).code).toBe(403);
      },
    },
    {
      api: 'authentication', method: 'appPortalAccess', async run(fx) {
        const access = await fx.svix.authentication.appPortalAccess(fx.appId, { capabilities: [AppPortalCapability.ViewBase], expiry: 3600, sessionId: `s1-${fx.tag}` });
        expect(access).toEqual({ url: expect.any(String), token: expect.any(String) });
        const scoped = new m.lib.Svix(access.token, { serverUrl: fx.state.serverUrl, fetch: guardedFetch });
        expect((await scoped.endpoint.list(fx.appId)).data.map((e: any) => e.id)).toContain(fx.mainId);
        // ViewBase only: no secrets, no changes, no other applications.
        expect((await apiError(scoped.endpoint.getSecret(fx.appId, fx.mainId))).code).toBe(403);
        expect((await apiError(scoped.application.list())).code).toBe(403);
        // `application` creates the application it names when it does not exist yet.
        const uid = `conf-portal-${fx.tag}`;
        await fx.svix.authentication.appPortalAccess(uid, { application: { name: 'Made by portal access', uid } });
        expect(await fx.svix.application.get(uid)).toMatchObject({ name: 'Made by portal access', uid });
        fx.state.portalToken = access.token;
      },
    },
    {
      api: 'authentication', method: 'logout', async run(fx) {
        const scoped = new m.lib.Svix(fx.state.portalToken, { serverUrl: fx.state.serverUrl, fetch: guardedFetch });
        await scoped.authentication.logout();
        expect((await apiError(scoped.endpoint.list(fx.appId))).code).toBe(401);
      },
    },
    {
      api: 'authentication', method: 'expireAll', async run(fx) {
        const mint = async (sessionId: string): Promise<any> =>
          new m.lib.Svix((await fx.svix.authentication.appPortalAccess(fx.appId, { sessionId })).token, { serverUrl: fx.state.serverUrl, fetch: guardedFetch });
        const ended = await mint(`s2-${fx.tag}`);
        const kept = await mint(`s3-${fx.tag}`);
        await fx.svix.authentication.expireAll(fx.appId, { expiry: 0, sessionIds: [`s2-${fx.tag}`] });
        expect((await apiError(ended.endpoint.list(fx.appId))).code).toBe(401);
        expect((await kept.endpoint.list(fx.appId)).data.length).toBeGreaterThan(0);
      },
    },

    // ── operational-webhook endpoints ──
    {
      api: 'operationalWebhookEndpoint', method: 'create', async run(fx) {
        const ops = apiOf(fx.svix, 'operationalWebhookEndpoint');
        const secret = secretOf(0x31);
        const path = `/conf/${fx.tag}/ops`;
        const created = await ops.create({ url: `${receiver().url}${path}`, description: 'ops', uid: `conf-ops-${fx.tag}`, ...filter(['endpoint.created']), metadata: { owner: 'sre' }, secret, ...rate(3), disabled: false });
        expect(created).toMatchObject({ url: `${receiver().url}${path}`, description: 'ops', uid: `conf-ops-${fx.tag}`, ...filter(['endpoint.created']), metadata: { owner: 'sre' }, ...rateOut(3), disabled: false });
        expect(created.id).toEqual(expect.any(String));
        expect(created.createdAt).toBeInstanceOf(Date);
        expect((await ops.getSecret(created.id)).key).toBe(secret);
        fx.state.ops = created;
        // It is live: an endpoint created now is announced to it, signed with its secret.
        const announced = await fx.svix.endpoint.create(fx.appId, { url: `${receiver().url}/conf/${fx.tag}/announced`, ...filter([fx.typeQuiet]) });
        const all = await receiver().waitFor((reqs) => reqs.some((r) => r.path === path && r.body.toString('utf8').includes(announced.id)));
        const event = all.find((r) => r.path === path && r.body.toString('utf8').includes(announced.id))!;
        expect(JSON.parse(event.body.toString('utf8'))).toMatchObject({ type: 'endpoint.created', data: { endpointId: announced.id } });
        expect(() => new Webhook(secret).verify(event.body.toString('utf8'), headersOf(event))).not.toThrow();
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: 'get', async run(fx) {
        expect(await apiOf(fx.svix, 'operationalWebhookEndpoint').get(fx.state.ops.id)).toEqual(fx.state.ops);
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: 'list', async run(fx) {
        const page = await apiOf(fx.svix, 'operationalWebhookEndpoint').list({ limit: 250 });
        expect(page.data).toContainEqual(fx.state.ops);
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: m.put, async run(fx) {
        const ops = apiOf(fx.svix, 'operationalWebhookEndpoint');
        const { id, url, uid } = fx.state.ops;
        const replaced = await ops[m.put](id, { url, uid, description: 'ops replaced', ...filter(['endpoint.disabled', 'message.attempt.exhausted']), metadata: { owner: 'oncall' }, ...rate(4) });
        expect(replaced).toMatchObject({ id, description: 'ops replaced', ...filter(['endpoint.disabled', 'message.attempt.exhausted']), metadata: { owner: 'oncall' }, ...rateOut(4) });
        expect(await ops.get(id)).toMatchObject({ description: 'ops replaced', metadata: { owner: 'oncall' } });
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: 'getSecret', async run(fx) {
        expect(await apiOf(fx.svix, 'operationalWebhookEndpoint').getSecret(fx.state.ops.id)).toEqual({ key: secretOf(0x31) });
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: 'rotateSecret', async run(fx) {
        const ops = apiOf(fx.svix, 'operationalWebhookEndpoint');
        await ops.rotateSecret(fx.state.ops.id, { key: secretOf(0x32) });
        expect((await ops.getSecret(fx.state.ops.id)).key).toBe(secretOf(0x32));
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: 'getHeaders', async run(fx) {
        expect(await apiOf(fx.svix, 'operationalWebhookEndpoint').getHeaders(fx.state.ops.id)).toEqual({ headers: {}, sensitive: [] });
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: m.setHeaders, async run(fx) {
        const ops = apiOf(fx.svix, 'operationalWebhookEndpoint');
        await ops[m.setHeaders](fx.state.ops.id, { headers: { 'X-Ops': fx.tag, Authorization: 'Bearer ops' } });
        expect(await ops.getHeaders(fx.state.ops.id)).toEqual({ headers: { 'X-Ops': fx.tag }, sensitive: ['Authorization'] });
      },
    },
    {
      api: 'operationalWebhookEndpoint', method: 'delete', async run(fx) {
        const ops = apiOf(fx.svix, 'operationalWebhookEndpoint');
        await ops.delete(fx.state.ops.id);
        await expect404(ops.get(fx.state.ops.id));
      },
    },

    // ── health ──
    {
      api: 'health', method: 'get', async run(fx) {
        // Both majors discard the body and resolve to nothing on a 2xx (a 4xx or 5xx rejects).
        await expect(fx.svix.health.get()).resolves.toBeFalsy();
      },
    },
  ];
  return cases.filter((c) => c.only === undefined || c.only === m.major);
}

const receiverNotNeeded = (): never => {
  throw new Error('listing the cases needs no receiver');
};

describe('conformance cases cover every client method', () => {
  describe.each(SVIX_MAJORS)('$label', (m) => {
    const client = new m.lib.Svix(ADMIN_TOKEN, { serverUrl: 'http://127.0.0.1:9' });
    const cases = casesFor(m, receiverNotNeeded);

    it.each(IN_SCOPE_APIS.map((api) => [api]))('%s: every method has a case or a stated reason to be left out', (api) => {
      const members = membersOf(apiOf(client, api));
      const excluded = EXCLUDED_METHODS[api] ?? {};
      const withCase = cases.filter((c) => c.api === api).map((c) => c.method);
      expect(new Set(withCase).size, 'one case per method').toBe(withCase.length);
      expect(members.filter((name) => !(name in excluded)).sort(), `methods of ${m.label} ${api} without a conformance case`).toEqual([...withCase].sort());
    });

    it('every top-level API of the client is in scope or left out with a reason', () => {
      const apis = Object.getOwnPropertyNames(Object.getPrototypeOf(client)).filter((name) => Object.getOwnPropertyDescriptor(Object.getPrototypeOf(client), name)?.get);
      const inScope = new Set<string>(IN_SCOPE_APIS);
      // 1.x also has the operational-webhook endpoints at the top level: the same class.
      const aliases = m.major === 1 ? ['operationalWebhookEndpoint'] : [];
      expect(apis.filter((name) => !inScope.has(name) && !(name in OUT_OF_SCOPE_APIS) && !aliases.includes(name))).toEqual([]);
      for (const api of IN_SCOPE_APIS) expect(apiOf(client, api), api).toBeTypeOf('object');
      if (m.major === 1) expect(Object.getPrototypeOf(client.operationalWebhookEndpoint)).toBe(Object.getPrototypeOf(client.operationalWebhook.endpoint));
    });
  });

  it('docs/svix-compatibility.md marks the operations of methods with a case supported, and those of excluded methods not supported', () => {
    const statusOf = new Map(readCompatibilityDoc().map((row) => [row.key, row.status]));
    const access = (api: string): string => (api === 'operationalWebhookEndpoint' ? 'operationalWebhook.endpoint' : api);
    const wrong: string[] = [];
    for (const m of SVIX_MAJORS) {
      const ops = clientOperations().filter((op) => op.major === m.major);
      const check = (clientMethod: string, subApi: boolean, want: string): void => {
        for (const op of ops.filter((o) => o.clientMethod === clientMethod || (subApi && o.clientMethod.startsWith(`${clientMethod}.`)))) {
          const status = statusOf.get(operationKey(op.method, op.path));
          if (status !== want) wrong.push(`${m.label} ${op.clientMethod}: ${op.method} ${op.path} is ${status ?? 'missing'}, should be ${want}`);
        }
      };
      for (const c of casesFor(m, receiverNotNeeded)) check(`${access(c.api)}.${c.method}`, false, 'supported');
      for (const [api, methods] of Object.entries(EXCLUDED_METHODS)) for (const name of Object.keys(methods)) check(`${access(api)}.${name}`, true, 'not supported');
    }
    expect(wrong).toEqual([]);
  });

  it('every excluded method exists in at least one client major', () => {
    const clients = SVIX_MAJORS.map((m) => new m.lib.Svix(ADMIN_TOKEN, { serverUrl: 'http://127.0.0.1:9' }));
    for (const [api, methods] of Object.entries(EXCLUDED_METHODS) as [ApiName, Record<string, string>][]) {
      for (const name of Object.keys(methods)) {
        expect(clients.some((c) => membersOf(apiOf(c, api)).includes(name)), `${api}.${name}`).toBe(true);
      }
    }
  });
});

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let receiver: Receiver;
  /** Paths whose endpoint fails (500) until a case heals it. */
  const healed = new Map<string, () => boolean>();

  beforeAll(async () => {
    tw = await startTapwire();
    receiver = await startReceiver();
    receiver.respond((req) => {
      for (const [prefix, isHealed] of healed) if (req.path.startsWith(prefix) && !isHealed()) return { status: 500, body: 'down' };
      const main = /^\/conf\/([^/]+)\/main$/.exec(req.path);
      return { status: 200, body: main ? `ok-${main[1]}` : 'ok' };
    });
  });
  afterAll(async () => {
    await tw?.close();
    await receiver?.close();
  });
  afterEach(() => expectNo5xx());

  describe.each(SVIX_MAJORS)('$label', (m) => {
    // Reading what an earlier case did not make says so, instead of a TypeError on undefined.
    const optional = new Set(['flakyHealed', 'integrationKey']);
    const state = new Proxy({} as Record<string, any>, {
      get(target, key: string) {
        if (key in target || optional.has(key) || typeof key !== 'string') return target[key];
        throw new Error(`depends on state.${key}, which an earlier case did not make (see that case's failure)`);
      },
    });
    const fx = { state } as Fixtures;
    const cases = casesFor(m, () => receiver);

    beforeAll(async () => {
      const tag = randomUUID().slice(0, 8);
      const svix = new m.lib.Svix(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      Object.assign(fx, { tag, svix });
      fx.state.serverUrl = tw.url;
      healed.set(`/conf/${tag}/flaky`, () => fx.state.flakyHealed === true);

      fx.typeA = `conf.${tag}.a`;
      fx.typeQuiet = `conf.${tag}.quiet`;
      fx.typeFlaky = `conf.${tag}.flaky`;
      fx.examples = [{ example: 0, tag }, { example: 1, tag }];
      await svix.eventType.create({ name: fx.typeA, description: 'Fixture type', schemas: { '1': { type: 'object', examples: fx.examples } } });
      await svix.eventType.create({ name: fx.typeQuiet, description: 'Nobody listens' });
      await svix.eventType.create({ name: fx.typeFlaky, description: 'Only the flaky endpoint listens' });

      fx.appUid = `conf-${tag}`;
      fx.appId = (await svix.application.create({ name: 'Conformance fixtures', uid: fx.appUid })).id;
      fx.mainPath = `/conf/${tag}/main`;
      fx.mainSecret = secretOf(0x11);
      fx.mainId = (
        await svix.endpoint.create(fx.appId, {
          url: `${receiver.url}${fx.mainPath}`,
          uid: `main-${tag}`,
          [m.filterField]: [fx.typeA],
          secret: fx.mainSecret,
          headers: { 'X-Fixture': tag },
        })
      ).id;

      fx.msgPayload = { fixture: true, tag };
      fx.msgId = (await svix.message.create(fx.appId, { eventType: fx.typeA, payload: fx.msgPayload })).id;
      const attempts = await eventually(
        () => svix.messageAttempt.listByMsg(fx.appId, fx.msgId, { endpointId: fx.mainId }),
        (page: any) => page.data.some((a: any) => a.status === m.lib.MessageStatus.Success),
      );
      fx.attemptId = attempts.data.find((a: any) => a.status === m.lib.MessageStatus.Success).id;
    });

    it.each(cases.map((c) => [`${c.api}.${c.method}`, c] as const))('%s', async (_name, c) => {
      try {
        await c.run(fx);
      } catch (error) {
        // An ApiException's message has no body: say what the server answered.
        if (error instanceof m.lib.ApiException) throw new Error(`HTTP ${error.code}: ${JSON.stringify(error.body)}`, { cause: error });
        throw error;
      }
    });
  });
});
