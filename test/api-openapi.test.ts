// The OpenAPI document is the map users and SDK generators rely on: it must list every route the
// server answers (design.md §4), each with an operationId, and be well-formed OpenAPI 3.1.
// Health endpoints are the operators' probes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';
import { backends } from './helpers/postgres.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let doc: any;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
    const res = await api('GET', '/api/v1/openapi.json', undefined, { token: null });
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

  /** Every (METHOD, /path/{param}) the running server routes, read from Fastify's route tree. */
  function registeredRoutes(): string[] {
    const tree = tw.server.api!.printRoutes({ commonPrefix: false });
    const stack: string[] = [];
    const routes: string[] = [];
    for (const line of tree.split('\n')) {
      const at = line.indexOf('── ');
      if (at < 0) continue;
      const depth = Math.round(at / 4);
      const match = /^(\S+)(?: \(([^)]*)\))?$/.exec(line.slice(at + 3).trim());
      if (!match) throw new Error(`unexpected route tree line: ${line}`);
      stack.length = depth;
      stack.push(match[1]!);
      const path = stack.join('');
      for (const method of (match[2] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
        if (method === 'HEAD' || method === 'OPTIONS') continue; // implied by GET / the CORS preflight
        routes.push(`${method} ${path.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
      }
    }
    return routes.sort();
  }

  function documentedRoutes(): string[] {
    const out: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const method of METHODS) if (item[method]) out.push(`${method.toUpperCase()} ${path}`);
    }
    return out.sort();
  }

  describe('GET /api/v1/openapi.json', () => {
    it('is an OpenAPI 3.1 document served without a token', async () => {
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
      expect(doc.components.securitySchemes).toBeDefined();
      expect(Object.keys(doc.paths).length).toBeGreaterThan(20);
    });

    it('lists every path of design.md §4', () => {
      const expected = [
        'GET /api/v1/app',
        'POST /api/v1/app',
        'GET /api/v1/app/{app_id}',
        'PUT /api/v1/app/{app_id}',
        'PATCH /api/v1/app/{app_id}',
        'DELETE /api/v1/app/{app_id}',
        'GET /api/v1/app/{app_id}/endpoint',
        'POST /api/v1/app/{app_id}/endpoint',
        'GET /api/v1/app/{app_id}/endpoint/{endpoint_id}',
        'PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}',
        'PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}',
        'DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}',
        'GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret',
        'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate',
        'GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers',
        'PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers',
        'PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers',
        'GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats',
        'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover',
        'POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example',
        'GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg',
        'GET /api/v1/app/{app_id}/msg',
        'POST /api/v1/app/{app_id}/msg',
        'GET /api/v1/app/{app_id}/msg/{msg_id}',
        'DELETE /api/v1/app/{app_id}/msg/{msg_id}/content',
        'GET /api/v1/app/{app_id}/msg/{msg_id}/endpoint',
        'POST /api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend',
        'GET /api/v1/app/{app_id}/attempt/msg/{msg_id}',
        'GET /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}',
        'GET /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}',
        'GET /api/v1/event-type',
        'POST /api/v1/event-type',
        'GET /api/v1/event-type/{event_type_name}',
        'PUT /api/v1/event-type/{event_type_name}',
        'PATCH /api/v1/event-type/{event_type_name}',
        'DELETE /api/v1/event-type/{event_type_name}',
        'POST /api/v1/auth/app-portal-access/{app_id}',
        'GET /api/v1/openapi.json',
        'GET /api/v1/health',
        'GET /api/v1/health/ping',
      ];
      const documented = documentedRoutes();
      expect(expected.filter((r) => !documented.includes(r))).toEqual([]);
    });

    it('documents every route the server registers, and nothing it does not serve', () => {
      const registered = registeredRoutes();
      expect(registered.length).toBeGreaterThan(30);
      expect(registered).toEqual(documentedRoutes());
    });

    it('gives every operation a unique operationId, a summary, responses and its path parameters', () => {
      const ids: string[] = [];
      for (const [path, item] of Object.entries<any>(doc.paths)) {
        for (const method of METHODS) {
          const op = item[method];
          if (!op) continue;
          const where = `${method.toUpperCase()} ${path}`;
          expect(op.operationId, where).toMatch(/^[a-z_]+\.[a-z_]+$/);
          ids.push(op.operationId);
          expect(op.summary, where).toEqual(expect.any(String));
          expect(Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)), where).toBe(true);
          const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name).sort();
          const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
          expect(declared, where).toEqual(inPath);
          for (const p of op.parameters ?? []) expect(['path', 'query', 'header']).toContain(p.in);
        }
      }
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('resolves every $ref to a component schema', () => {
      const refs = new Set<string>();
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') {
          for (const [k, v] of Object.entries(node)) {
            if (k === '$ref' && typeof v === 'string') refs.add(v);
            else walk(v);
          }
        }
      };
      walk(doc.paths);
      expect(refs.size).toBeGreaterThan(10);
      for (const ref of refs) {
        expect(ref).toMatch(/^#\/components\/schemas\//);
        expect(doc.components.schemas[ref.split('/').pop()!], ref).toBeDefined();
      }
      // The core wire shapes are there with their Svix names.
      for (const name of ['ApplicationIn', 'ApplicationOut', 'EndpointIn', 'EndpointOut', 'MessageIn', 'MessageOut', 'MessageAttemptOut', 'EventTypeIn', 'HttpErrorOut', 'HTTPValidationError']) {
        expect(doc.components.schemas[name], name).toBeDefined();
      }
      expect(doc.components.schemas.EndpointIn.properties).toHaveProperty('filterTypes');
      expect(doc.components.schemas.EndpointIn.properties).toHaveProperty('eventTypes');
    });
  });

  describe('metrics', () => {
    it('documents that /metrics may need the metrics token', () => {
      const op = doc.paths['/metrics'].get;
      expect(op.security).toEqual([{}, { HTTPBearer: [] }]);
      expect(op.description).toMatch(/TAPWIRE_METRICS_TOKEN/);
    });
  });

  describe('endpoint headers', () => {
    it('documents which header values GET hides and which names PUT and PATCH refuse', () => {
      const out = doc.components.schemas.EndpointHeadersOut;
      expect(out.required.sort()).toEqual(['headers', 'sensitive']);
      expect(out.properties.sensitive).toMatchObject({ type: 'array', items: { type: 'string' } });
      expect(out.properties.sensitive.description).toMatch(/Authorization, Cookie.*secret, token, key, auth, password or signature/);
      for (const name of ['EndpointHeadersIn', 'EndpointHeadersPatchIn']) {
        expect(doc.components.schemas[name].properties.headers.description, name).toMatch(/Content-Encoding.*X-Real-IP and X-Forwarded-\*/);
      }
    });
  });

  describe('health', () => {
    it('GET /api/v1/health → 200 JSON with the store ok, without a token', async () => {
      const res = await api('GET', '/api/v1/health', undefined, { token: null });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ status: 'ok', store: { status: 'ok', kind: backend } });
      expect(res.body.worker).toMatchObject({ status: 'ok' });
    });

    it('GET /api/v1/health/ping → 204 with no body', async () => {
      const res = await api('GET', '/api/v1/health/ping', undefined, { token: null });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
    });
  });
});
