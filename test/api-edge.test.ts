// Edges of the API that sit outside the resource suites: HTTP that never reaches a route, PUT
// against ids we never issued, and eventIds that would shadow message ids.
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectNo5xx, expectValidation, guardApi, type ApiFn } from './helpers/api-guard.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';
import { backends } from './helpers/postgres.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
  });
  afterAll(async () => tw.close());
  afterEach(() => expectNo5xx());

  /** Send raw bytes on a fresh socket and return everything the server answers. */
  function rawRequest(bytes: string): Promise<string> {
    const { port, hostname } = new URL(tw.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.end(bytes));
      let out = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (out += chunk));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
    });
  }

  describe('malformed HTTP', () => {
    it('answers a garbage request line with a JSON 400 in our error shape', async () => {
      const answer = await rawRequest('THIS IS NOT HTTP\r\n\r\n');
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
      expect(body).toEqual({ code: 'generic_error', detail: 'Malformed HTTP request' });
    });

    it('answers oversized headers with a JSON 431', async () => {
      const answer = await rawRequest(`GET /api/v1/health/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 431 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'generic_error' });
    });
  });

  describe('PUT upserts', () => {
    it('creates under a uid from the path, but refuses to invent an id it never issued', async () => {
      const byUid = await api('PUT', '/api/v1/app/put-uid-app', { name: 'Put' });
      expect(byUid.status).toBe(201);
      expect(byUid.body.uid).toBe('put-uid-app');
      expect((await api('PUT', '/api/v1/app/put-uid-app', { name: 'Put again' })).status).toBe(200);

      const before = (await api('GET', '/api/v1/app?limit=250')).body.data.length;
      expectError(await api('PUT', '/api/v1/app/app_2NqDuMxTuM6i9ciqOwZFK1kcMoF', { name: 'Ghost' }), 404, 'not_found');
      expect((await api('GET', '/api/v1/app?limit=250')).body.data.length).toBe(before);

      const ep = await api('PUT', '/api/v1/app/put-uid-app/endpoint/ep_2NqDuMxTuM6i9ciqOwZFK1kcMoF', { url: 'http://127.0.0.1:9/x' });
      expectError(ep, 404, 'not_found');
      const created = await api('PUT', '/api/v1/app/put-uid-app/endpoint/main', { url: 'http://127.0.0.1:9/x' });
      expect(created.status).toBe(201);
      expect(created.body.uid).toBe('main');
    });

    it('concurrent PUTs of one new uid: exactly one 201, the others 200 on the same resource, never 409', async () => {
      const burst = async (method: string, path: string, body: unknown) => {
        const results = await Promise.all(Array.from({ length: 8 }, () => api(method, path, body)));
        expect(results.map((r) => r.status).sort(), results.map((r) => r.text).join('\n')).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
        return results;
      };
      const apps = await burst('PUT', '/api/v1/app/race-app', { name: 'Race' });
      expect(new Set(apps.map((r) => r.body.id)).size).toBe(1);
      const eps = await burst('PUT', '/api/v1/app/race-app/endpoint/race-ep', { url: 'http://127.0.0.1:9/race' });
      expect(new Set(eps.map((r) => r.body.id)).size).toBe(1);
      expect((await api('GET', '/api/v1/app/race-app/endpoint')).body.data).toHaveLength(1);
      const types = await burst('PUT', '/api/v1/event-type/race.type', { description: 'race' });
      expect(new Set(types.map((r) => r.body.createdAt)).size).toBe(1);
    });
  });

  describe('eventId', () => {
    it('may not start with msg_, so a path segment never means two messages', async () => {
      await api('POST', '/api/v1/app', { name: 'Ev', uid: 'ev-app' });
      const res = await api('POST', '/api/v1/app/ev-app/msg', { eventType: 'a.b', eventId: 'msg_123', payload: {} });
      expectValidation(res, ['body', 'eventId'], 'value_error.invalid_uid_prefix');
      expect((await api('GET', '/api/v1/app/ev-app/msg')).body.data).toEqual([]);
    });
  });
});
