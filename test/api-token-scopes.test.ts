// Portal tokens carry what they may do (Svix's app-portal-access: readOnly, capabilities,
// featureFlags, sessionId) and the server enforces it on every route: a denied call answers 403
// "insufficient access". One test walks every route with every capability set.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { allows, PORTAL_CAPABILITIES, type TokenScope } from '../src/domain/token-scopes.js';
import { apiRoutes } from '../src/api/server.js';
import { expectError, expectNo5xx, expectValidation, guardApi, type ApiFn } from './helpers/api-guard.js';
import { backends } from './helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const DAY_MS = 86_400_000;

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
    expect((await api('POST', '/api/v1/event-type', { name: 'order.created', description: 'An order', schemas: { '1': { examples: [{ id: 1 }] } } })).status).toBe(201);
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  async function appWithEndpoint(): Promise<{ app: any; endpoint: any }> {
    const app = (await api('POST', '/api/v1/app', { name: 'Tenant', uid: unique('tenant') })).body;
    const endpoint = (await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'https://receiver.example/hook' })).body;
    return { app, endpoint };
  }

  async function mint(appId: string, body: Record<string, unknown> = {}): Promise<string> {
    const minted = await api('POST', `/api/v1/auth/app-portal-access/${appId}`, body);
    expect(minted.status, minted.text).toBe(200);
    return minted.body.token as string;
  }

  it('a read-only token (what the svix client sends for a read-only portal) reads, but changes nothing and sees no secret', async () => {
    const { app, endpoint } = await appWithEndpoint();
    const token = await mint(app.id, { readOnly: true, capabilities: ['ViewBase'] });
    const ep = `/api/v1/app/${app.id}/endpoint/${endpoint.id}`;
    expect((await api('GET', `/api/v1/app/${app.id}/endpoint`, undefined, { token })).status).toBe(200);
    expect((await api('GET', ep, undefined, { token })).status).toBe(200);
    expect((await api('GET', `/api/v1/app/${app.id}/msg`, undefined, { token })).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', `${ep}/secret`, undefined],
      ['POST', `${ep}/secret/rotate`, {}],
      ['POST', `/api/v1/app/${app.id}/endpoint`, { url: 'https://receiver.example/other' }],
      ['PATCH', ep, { description: 'changed' }],
      ['DELETE', ep, undefined],
      ['PUT', `${ep}/headers`, { headers: { 'x-a': '1' } }],
      ['POST', `${ep}/send-example`, { eventType: 'order.created' }],
      ['POST', `${ep}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() }],
    ] as const) {
      expectError(await api(method, path, body, { token }), 403, 'insufficient access');
    }
    expect((await api('GET', ep)).body.description).toBe(endpoint.description);
    // readOnly wins over capabilities given beside it.
    const both = await mint(app.id, { readOnly: true, capabilities: [...PORTAL_CAPABILITIES] });
    expectError(await api('GET', `${ep}/secret`, undefined, { token: both }), 403, 'insufficient access');
  });

  it('grants each capability what Svix documents, and nothing more', async () => {
    const { app, endpoint } = await appWithEndpoint();
    const ep = `/api/v1/app/${app.id}/endpoint/${endpoint.id}`;
    const viewSecret = await mint(app.id, { capabilities: ['ViewBase', 'ViewEndpointSecret'] });
    expect((await api('GET', `${ep}/secret`, undefined, { token: viewSecret })).status).toBe(200);
    expectError(await api('POST', `${ep}/secret/rotate`, {}, { token: viewSecret }), 403, 'insufficient access');

    const manageSecret = await mint(app.id, { capabilities: ['ViewBase', 'ManageEndpointSecret'] });
    expect((await api('POST', `${ep}/secret/rotate`, {}, { token: manageSecret })).status).toBe(204);
    expect((await api('GET', `${ep}/secret`, undefined, { token: manageSecret })).status).toBe(200);
    expectError(await api('PATCH', ep, { description: 'x' }, { token: manageSecret }), 403, 'insufficient access');

    const manageEndpoint = await mint(app.id, { capabilities: ['ViewBase', 'ManageEndpoint'] });
    expect((await api('PATCH', ep, { description: 'managed' }, { token: manageEndpoint })).status).toBe(200);
    expect((await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'https://receiver.example/b' }, { token: manageEndpoint })).status).toBe(201);
    expectError(await api('POST', `${ep}/send-example`, { eventType: 'order.created' }, { token: manageEndpoint }), 403, 'insufficient access');

    const attempts = await mint(app.id, { capabilities: ['ViewBase', 'CreateAttempts'] });
    expect((await api('POST', `${ep}/send-example`, { eventType: 'order.created' }, { token: attempts })).status).toBe(200);
    expectError(await api('GET', `${ep}/secret`, undefined, { token: attempts }), 403, 'insufficient access');
    // Expunging a payload is named by no capability: only a token with every one may.
    const msg = (await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'order.created', payload: { a: 1 } })).body;
    expectError(await api('DELETE', `/api/v1/app/${app.id}/msg/${msg.id}/content`, undefined, { token: attempts }), 403, 'insufficient access');
    expect((await api('DELETE', `/api/v1/app/${app.id}/msg/${msg.id}/content`, undefined, { token: await mint(app.id) })).status).toBe(204);
  });

  it('refuses unknown capabilities and capabilities without ViewBase with 422', async () => {
    const { app } = await appWithEndpoint();
    expectValidation(await api('POST', `/api/v1/auth/app-portal-access/${app.id}`, { capabilities: ['ViewBase', 'DeleteEverything'] }));
    const issues = expectValidation(await api('POST', `/api/v1/auth/app-portal-access/${app.id}`, { capabilities: ['ManageEndpoint'] }), ['body', 'capabilities']);
    expect(issues[0]!.msg).toMatch(/ViewBase/);
  });

  it('creates the application the path names from `application` when it is missing, and ignores it when it exists', async () => {
    const uid = unique('created-by-portal');
    expectError(await api('POST', `/api/v1/auth/app-portal-access/${uid}`, {}), 404, 'not_found');
    const token = await mint(uid, { application: { name: 'Made at login' } });
    const created = await api('GET', `/api/v1/app/${uid}`);
    expect(created.body).toMatchObject({ uid, name: 'Made at login' });
    expect((await api('GET', `/api/v1/app/${uid}/endpoint`, undefined, { token })).status).toBe(200);
    await mint(uid, { application: { name: 'Ignored' } });
    expect((await api('GET', `/api/v1/app/${uid}`)).body.name).toBe('Made at login');
  });

  it('makes tokens last 7 days unless asked for less, and never more', async () => {
    const { app } = await appWithEndpoint();
    await mint(app.id);
    await mint(app.id, { expiry: 3600 });
    const tokens = await tw.server.store.listTokens({ appId: app.id, now: new Date(), limit: 10 });
    const lifetimes = tokens.map((t) => t.expiresAt!.getTime() - t.createdAt.getTime()).sort((a, b) => a - b);
    expect(lifetimes).toEqual([3_600_000, 7 * DAY_MS]);
    expectValidation(await api('POST', `/api/v1/auth/app-portal-access/${app.id}`, { expiry: 7 * 86_400 + 1 }), ['body', 'expiry']);
  });

  it('tells a token what it may do (whoami), so the portal can hide the rest', async () => {
    const { app } = await appWithEndpoint();
    const token = await mint(app.id, { capabilities: ['ViewBase', 'CreateAttempts'], featureFlags: ['beta'] });
    const me = await api('GET', '/api/v1/auth/whoami', undefined, { token });
    expect(me.body).toMatchObject({ kind: 'app', app: { id: app.id }, capabilities: ['ViewBase', 'CreateAttempts'], featureFlags: ['beta'] });
    expect((await api('GET', '/api/v1/auth/whoami', undefined, { token: await mint(app.id, { readOnly: true }) })).body.capabilities).toEqual(['ViewBase']);
  });

  it('hides event types behind a feature flag from tokens without it, in lists, reads and endpoint filters', async () => {
    const flagged = unique('beta.thing');
    expect((await api('POST', '/api/v1/event-type', { name: flagged, description: 'In beta', featureFlag: 'beta' })).status).toBe(201);
    const { app } = await appWithEndpoint();
    const names = async (token: string | undefined): Promise<string[]> => {
      const res = await api('GET', '/api/v1/event-type?limit=250', undefined, token ? { token } : {});
      return res.body.data.map((t: { name: string }) => t.name);
    };
    const plain = await mint(app.id);
    expect(await names(plain)).not.toContain(flagged);
    expect(await names(plain)).toContain('order.created');
    expectError(await api('GET', `/api/v1/event-type/${flagged}`, undefined, { token: plain }), 404, 'not_found');
    expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'https://receiver.example/f', filterTypes: [flagged] }, { token: plain }), ['body', 'filterTypes', '0']);

    const beta = await mint(app.id, { featureFlags: ['beta'] });
    expect(await names(beta)).toContain(flagged);
    expect((await api('GET', `/api/v1/event-type/${flagged}`, undefined, { token: beta })).status).toBe(200);
    expect((await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'https://receiver.example/f', filterTypes: [flagged] }, { token: beta })).status).toBe(201);
    // The admin sees every type.
    expect(await names(undefined)).toContain(flagged);
  });

  it('walks every route with every capability set: 403 exactly where the route needs what the token lacks', async () => {
    const { app } = await appWithEndpoint();
    const scopes: { name: string; body: Record<string, unknown>; scope: TokenScope }[] = [
      { name: 'read-only', body: { readOnly: true }, scope: { readOnly: true, capabilities: null, featureFlags: [], sessionId: null } },
      ...PORTAL_CAPABILITIES.map((capability) => {
        const capabilities = [...new Set(['ViewBase', capability])] as TokenScope['capabilities'];
        return { name: capabilities!.join('+'), body: { capabilities }, scope: { readOnly: false, capabilities, featureFlags: [], sessionId: null } };
      }),
      { name: 'every capability', body: {}, scope: { readOnly: false, capabilities: null, featureFlags: [], sessionId: null } },
    ];
    const params: Record<string, string> = {
      app_id: app.id, endpoint_id: 'ep_missing', msg_id: 'msg_missing', attempt_id: 'atmpt_missing', task_id: 'qtask_missing',
      event_type_name: 'missing.type', file: 'app.js',
    };
    const routes = apiRoutes(tw.server.context).filter((route) => route.access !== 'public');
    expect(routes.filter((route) => route.access === 'app' && route.needs === undefined).map((route) => route.operationId)).toEqual([]);
    const checked = new Set<string>();
    for (const { name, body, scope } of scopes) {
      const shared = await mint(app.id, body);
      for (const route of routes) {
        // Logging out ends the token: that route gets one of its own.
        const token = route.operationId === 'authentication.logout' ? await mint(app.id, body) : shared;
        const path = route.url.replace(/:([a-z_]+)/g, (_, param: string) => params[param]!);
        const res = await api(route.method, path, ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined, { token });
        const denied = route.access === 'admin' || !allows(scope, route.needs ?? 'all');
        if (denied) expectError(res, 403, 'insufficient access');
        else expect(res.status, `${name}: ${route.method} ${route.url} answered ${res.status} ${res.text}`).not.toBe(403);
        checked.add(`${route.operationId}:${denied ? 'denied' : 'allowed'}`);
      }
    }
    // Every app route was seen both allowed and denied (read-only denies all but reads; every
    // capability allows all), except reads, which every token may make.
    for (const route of routes.filter((r) => r.access === 'app' && !(r.needs !== 'all' && r.needs?.includes('ViewBase')))) {
      expect(checked, route.operationId).toContain(`${route.operationId}:denied`);
      expect(checked, route.operationId).toContain(`${route.operationId}:allowed`);
    }
  });
});
