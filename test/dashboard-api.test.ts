// The server side of the dashboard over real HTTP: the static page and its security headers, the
// branding route, whoami, the stats routes (admin and app-scoped), and the message status filter,
// against a real server with real receivers on 127.0.0.1, on every store backend.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectNo5xx, expectValidation, guardApi, type ApiFn } from './helpers/api-guard.js';
import { createEndpoint, createEventTypes, eventually, expectStatus, sendMessage, waitForDestinationStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let ok: Receiver;
  let failing: Receiver;

  beforeAll(async () => {
    tw = await startTapwire({ TAPWIRE_BRAND_NAME: 'Acme <Hooks>', TAPWIRE_BRAND_COLOR: '#0F766E', TAPWIRE_BRAND_LOGO_URL: 'https://cdn.example.com/logo.svg' });
    api = guardApi(tw);
    ok = await startReceiver();
    failing = await startReceiver();
    failing.respond(() => ({ status: 500, body: 'down' }));
  });
  afterAll(async () => {
    await tw?.close();
    await ok?.close();
    await failing?.close();
  });
  afterEach(() => expectNo5xx());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${tw.url}${path}`, { headers });

  async function appToken(appId: string): Promise<string> {
    return expectStatus(await api('POST', `/api/v1/auth/app-portal-access/${appId}`, {}), 200, 'portal access').body.token as string;
  }

  describe('static files', () => {
    it('serves the dashboard at / with a strict policy that forbids framing', async () => {
      const res = await get('/');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("img-src 'self' data: https:");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const html = await res.text();
      expect(html).toContain('<script type="module" src="/dashboard/app.js"></script>');
      // No inline code at all: every <script> has a src, and no element carries a style attribute.
      expect(html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
      expect(html).not.toMatch(/\sstyle=/);
    });

    it('serves the portal page, which the same origin may frame by default', async () => {
      const res = await get('/portal');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    });

    it('serves scripts, styles and icons with their content types, an ETag and 304 on revalidation', async () => {
      for (const [file, type] of [
        ['app.js', 'text/javascript; charset=utf-8'],
        ['api.js', 'text/javascript; charset=utf-8'],
        ['styles.css', 'text/css; charset=utf-8'],
        ['favicon.svg', 'image/svg+xml'],
      ]) {
        const res = await get(`/dashboard/${file}`);
        expect(res.status, file).toBe(200);
        expect(res.headers.get('content-type')).toBe(type);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
        const etag = res.headers.get('etag')!;
        expect(etag).toMatch(/^"[\w-]+"$/);
        const again = await get(`/dashboard/${file}`, { 'if-none-match': etag });
        expect(again.status).toBe(304);
      }
    });

    it('never assigns innerHTML or evaluates strings in the page scripts', async () => {
      for (const file of ['app.js', 'api.js', 'dom.js', 'chart.js', 'pages-app.js', 'pages-operator.js', 'pages-operational.js']) {
        const text = await (await get(`/dashboard/${file}`)).text();
        expect(text, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
      }
    });

    it('answers unknown files, index.html as an asset and escapes from the folder with a JSON 404', async () => {
      for (const path of ['/dashboard/nope.js', '/dashboard/index.html', '/dashboard/..%2Fpackage.json', '/dashboard/%2e%2e%2fconfig.ts', '/dashboard']) {
        const res = await get(path);
        expect(res.status, path).toBe(404);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(((await res.json()) as { code: string }).code).toBe('not_found');
      }
    });

    it('keeps the API and /metrics as they were: unknown API paths are JSON 404s', async () => {
      const unknown = await api('GET', '/api/v1/nope', undefined, { token: null });
      expectError(unknown, 404, 'not_found');
      expect(unknown.body.detail).toBe('No route for GET /api/v1/nope');
      const metrics = await get('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(metrics.headers.get('content-security-policy')).toBeNull();
      expectError(await api('GET', '/index.html', undefined, { token: null }), 404, 'not_found');
    });
  });

  describe('branding and session', () => {
    it('serves the branding without a token', async () => {
      const res = await api('GET', '/api/v1/ui/config', undefined, { token: null });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ brand: { name: 'Acme <Hooks>', color: '#0f766e', logoUrl: 'https://cdn.example.com/logo.svg' }, version: expect.any(String) });
    });

    it('tells a token who it is: the admin, or an application with its details', async () => {
      expect((await api('GET', '/api/v1/auth/whoami')).body).toEqual({ kind: 'admin' });
      const appId = expectStatus(await api('POST', '/api/v1/app', { name: 'Who', uid: 'who-app' }), 201, 'create app').body.id as string;
      const me = await api('GET', '/api/v1/auth/whoami', undefined, { token: await appToken(appId) });
      expect(me.status).toBe(200);
      expect(me.body).toEqual({
        kind: 'app',
        app: expect.objectContaining({ id: appId, name: 'Who', uid: 'who-app' }),
        capabilities: ['ViewBase', 'ViewEndpointSecret', 'ManageEndpointSecret', 'ManageTransformations', 'CreateAttempts', 'ManageEndpoint'],
        featureFlags: [],
      });
      expectError(await api('GET', '/api/v1/auth/whoami', undefined, { token: null }), 401, 'authentication_failed');
      expectError(await api('GET', '/api/v1/auth/whoami', undefined, { token: 'tw_app_not_a_real_token' }), 401, 'authentication_failed');
    });
  });

  describe('stats', () => {
    let appId: string;
    let otherAppId: string;
    let okEndpoint: string;
    let failingEndpoint: string;
    let delivered: string;
    let failed: string;
    const since = new Date(Date.now() - 3600_000).toISOString();

    beforeAll(async () => {
      appId = expectStatus(await api('POST', '/api/v1/app', { name: 'Stats' }), 201, 'create app').body.id as string;
      otherAppId = expectStatus(await api('POST', '/api/v1/app', { name: 'Other' }), 201, 'create app').body.id as string;
      await createEventTypes(tw, 'good.thing', 'bad.thing');
      okEndpoint = (await createEndpoint(tw, appId, { url: `${ok.url}/ok`, filterTypes: ['good.thing'] })).id;
      failingEndpoint = (await createEndpoint(tw, appId, { url: `${failing.url}/bad`, filterTypes: ['bad.thing'] })).id;
      delivered = await sendMessage(tw, appId, { eventType: 'good.thing', payload: { n: 1 } });
      failed = await sendMessage(tw, appId, { eventType: 'bad.thing', payload: { n: 2 } });
      await waitForDestinationStatus(tw, appId, delivered, okEndpoint, 0);
      // The helper's schedule is 20ms,40ms: three attempts, then failed for good.
      await waitForDestinationStatus(tw, appId, failed, failingEndpoint, 2);
    });

    it('counts the server’s attempts by outcome per bucket, every bucket of the window included', async () => {
      const until = new Date(Date.now() + 60_000).toISOString();
      const res = await api('GET', `/api/v1/stats/attempts?since=${since}&until=${until}&bucket=5m`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.bucketSeconds).toBe(300);
      expect(res.body.buckets).toHaveLength(13);
      expect(res.body.buckets[0]).toEqual({ start: since, success: expect.any(Number), fail: expect.any(Number) });
      expect(res.body.total).toEqual({ success: 1, fail: 3 });
      const summed = res.body.buckets.reduce((sum: { success: number; fail: number }, b: any) => ({ success: sum.success + b.success, fail: sum.fail + b.fail }), { success: 0, fail: 0 });
      expect(summed).toEqual(res.body.total);
      // Without parameters: the last 24 hours in hourly buckets.
      const defaults = await api('GET', '/api/v1/stats/attempts');
      expect(defaults.body.buckets).toHaveLength(24);
      expect(defaults.body.bucketSeconds).toBe(3600);
      expect(defaults.body.total).toEqual({ success: 1, fail: 3 });
    });

    it('counts one application’s and one endpoint’s attempts, for that application’s own token only', async () => {
      const token = await appToken(appId);
      const app = await api('GET', `/api/v1/app/${appId}/stats/attempts?since=${since}`, undefined, { token });
      expect(app.status, app.text).toBe(200);
      expect(app.body.total).toEqual({ success: 1, fail: 3 });
      const endpoint = await api('GET', `/api/v1/app/${appId}/endpoint/${failingEndpoint}/stats/attempts?since=${since}`, undefined, { token });
      expect(endpoint.body.total).toEqual({ success: 0, fail: 3 });
      expect((await api('GET', `/api/v1/app/${otherAppId}/stats/attempts`)).body.total).toEqual({ success: 0, fail: 0 });
      expectError(await api('GET', `/api/v1/app/${otherAppId}/stats/attempts`, undefined, { token }), 404, 'not_found');
      expectError(await api('GET', `/api/v1/app/${appId}/endpoint/ep_nope/stats/attempts`, undefined, { token }), 404, 'not_found');
    });

    it('reports the queue, failing and slowest endpoints', async () => {
      const queue = await api('GET', '/api/v1/stats/queue');
      expect(queue.status).toBe(200);
      expect(queue.body).toEqual({ pending: expect.any(Number), due: expect.any(Number), oldestDueAt: null, oldestDueAgeSeconds: null });

      const health = await api('GET', '/api/v1/stats/endpoints?limit=5');
      expect(health.status, health.text).toBe(200);
      expect(health.body.failing).toContainEqual({
        appId,
        appName: 'Stats',
        endpointId: failingEndpoint,
        url: `${failing.url}/bad`,
        description: '',
        disabled: false,
        failingSince: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(health.body.failing.map((e: any) => e.endpointId)).not.toContain(okEndpoint);
      const slow = health.body.slowest.find((e: any) => e.endpointId === failingEndpoint);
      expect(slow).toEqual({ appId, appName: 'Stats', endpointId: failingEndpoint, url: `${failing.url}/bad`, attempts: 3, avgDurationMs: expect.any(Number), maxDurationMs: expect.any(Number) });

      expectStatus(await api('PATCH', `/api/v1/app/${appId}/endpoint/${failingEndpoint}`, { disabled: true }), 200, 'disable');
      const after = await api('GET', '/api/v1/stats/endpoints');
      expect(after.body.disabled.map((e: any) => e.endpointId)).toContain(failingEndpoint);
      expect(after.body.failing.map((e: any) => e.endpointId)).not.toContain(failingEndpoint);
      expectStatus(await api('PATCH', `/api/v1/app/${appId}/endpoint/${failingEndpoint}`, { disabled: false }), 200, 'enable');
    });

    it('keeps the server-wide routes to the admin token', async () => {
      const token = await appToken(appId);
      for (const path of ['/api/v1/stats/attempts', '/api/v1/stats/queue', '/api/v1/stats/endpoints']) {
        expectError(await api('GET', path, undefined, { token }), 403, 'insufficient access');
        expectError(await api('GET', path, undefined, { token: null }), 401, 'authentication_failed');
      }
    });

    it('refuses unbounded or malformed windows with 422', async () => {
      expectValidation(await api('GET', '/api/v1/stats/attempts?bucket=5parsecs'), ['query', 'bucket']);
      expectValidation(await api('GET', '/api/v1/stats/attempts?bucket=10ms'), ['query', 'bucket']);
      expectValidation(await api('GET', '/api/v1/stats/attempts?since=2020-01-01T00:00:00Z'), ['query', 'since']);
      expectValidation(await api('GET', '/api/v1/stats/attempts?since=2030-01-01T00:00:00Z&until=2029-01-01T00:00:00Z'), ['query', 'since']);
      expectValidation(await api('GET', `/api/v1/stats/attempts?since=${since}&bucket=1s`), ['query', 'bucket']);
      expectValidation(await api('GET', '/api/v1/stats/attempts?since=yesterday'), ['query', 'since']);
      expectValidation(await api('GET', '/api/v1/stats/endpoints?since=2020-01-01T00:00:00Z'), ['query', 'since']);
      expectValidation(await api('GET', '/api/v1/stats/endpoints?limit=1000'), ['query', 'limit']);
    });

    it('filters an application’s messages by delivery status', async () => {
      const list = async (query: string) => ((await api('GET', `/api/v1/app/${appId}/msg?${query}`)).body.data as any[]).map((m) => m.id);
      expect(await list('status=2')).toEqual([failed]);
      expect(await list('status=0')).toEqual([delivered]);
      expect(await list('status=1')).toEqual([]);
      expect(await list('')).toEqual([failed, delivered]);
      expect(await list('status=2&event_types=good.thing')).toEqual([]);
      expectValidation(await api('GET', `/api/v1/app/${appId}/msg?status=9`), ['query', 'status']);
      // Resent and delivered: no longer failed.
      failing.respond(() => ({ status: 200 }));
      expectStatus(await api('POST', `/api/v1/app/${appId}/msg/${failed}/endpoint/${failingEndpoint}/resend`), 202, 'resend');
      await eventually(() => list('status=0'), (ids) => ids.length === 2, { what: 'the resent message to be delivered' });
      expect(await list('status=0')).toEqual([failed, delivered]);
      expect(await list('status=2')).toEqual([]);
    });
  });
});

describe('portal framing', () => {
  it('lets the configured origins frame the portal, and still nobody the operator dashboard', async () => {
    const tw = await startTapwire({ TAPWIRE_PORTAL_FRAME_ANCESTORS: 'https://app.example.com, https://*.example.org' }, { backend: 'sqlite' });
    try {
      const portal = await fetch(`${tw.url}/portal`);
      expect(portal.headers.get('content-security-policy')).toContain('frame-ancestors https://app.example.com https://*.example.org');
      expect(portal.headers.get('x-frame-options')).toBeNull();
      const operator = await fetch(`${tw.url}/`);
      expect(operator.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    } finally {
      await tw.close();
    }
  });
});
