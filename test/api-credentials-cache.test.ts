// Answers that carry a credential are never cached for idempotency replay (issue 15): the
// app-portal-access answer is a token, and a replay cache would keep it in clear in the database
// for 12 h. Each test reads the database directly, so nothing can hide behind the API.
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { TSchema } from '@sinclair/typebox';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../src/api/server.js';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { backends, withClient } from './helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

/** Every stored idempotent response body of `tw`'s database, read outside the server. */
async function storedIdempotentBodies(tw: TestTapwire): Promise<string[]> {
  if (tw.backend === 'postgres') {
    const result = await withClient(tw.config.databaseUrl, (client) => client.query<{ body: string }>('SELECT body FROM idempotency_responses'));
    return result.rows.map((r) => r.body);
  }
  const db = new Database(tw.config.databaseUrl, { readonly: true });
  try {
    return (db.prepare('SELECT body FROM idempotency_responses').all() as { body: string }[]).map((r) => r.body);
  } finally {
    db.close();
  }
}

/** Property names anywhere in `schema` (objects, arrays, unions). */
function propertyNames(schema: TSchema | null | undefined): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const s = schema as { properties?: Record<string, TSchema>; items?: TSchema; anyOf?: TSchema[]; oneOf?: TSchema[]; allOf?: TSchema[] };
  const own = Object.entries(s.properties ?? {}).flatMap(([name, sub]) => [name, ...propertyNames(sub)]);
  const nested = [s.items, ...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])].flatMap((sub) => propertyNames(sub));
  return [...own, ...nested];
}

describe('routes', () => {
  it('every POST route whose answer holds a token or a secret declares carriesCredentials, and only those', async () => {
    const tw = await startTapwire({}, { backend: 'sqlite' });
    try {
      const posts = apiRoutes(tw.server.context).filter((spec) => spec.method === 'POST');
      expect(posts.length).toBeGreaterThan(5);
      const holdsCredential = (spec: (typeof posts)[number]): boolean =>
        Object.entries(spec.responses)
          .filter(([status]) => Number(status) < 300)
          .some(([, schema]) => propertyNames(schema).some((name) => /token|secret|^key$|^ingestUrl$/i.test(name))); // an ingest URL holds its source's token
      const declared = posts.filter((spec) => spec.carriesCredentials).map((spec) => spec.operationId);
      expect(declared).toEqual(posts.filter(holdsCredential).map((spec) => spec.operationId));
      expect(declared).toContain('authentication.app_portal_access');
      expect(declared).toContain('integration.rotate_key');
    } finally {
      await tw.close();
    }
  });
});

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  it('app-portal-access with the same idempotency-key mints a fresh token each time and stores none', async () => {
    const app = await api('POST', '/api/v1/app', { name: 'Portal' });
    expect(app.status).toBe(201);
    const headers = { 'idempotency-key': `test_${randomUUID()}` };
    const first = await api('POST', `/api/v1/auth/app-portal-access/${app.body.id}`, {}, { headers });
    const second = await api('POST', `/api/v1/auth/app-portal-access/${app.body.id}`, {}, { headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.body.token).not.toBe(first.body.token);
    // Both tokens work: the second request really ran.
    for (const token of [first.body.token, second.body.token]) {
      expect((await api('GET', `/api/v1/app/${app.body.id}/endpoint`, undefined, { token })).status).toBe(200);
    }

    const bodies = await storedIdempotentBodies(tw);
    for (const token of [first.body.token, second.body.token]) {
      expect(bodies.filter((body) => body.includes(token))).toEqual([]);
    }
  });

  it('answers without a credential are still replayed', async () => {
    const headers = { 'idempotency-key': `test_${randomUUID()}` };
    const first = await api('POST', '/api/v1/app', { name: 'Replayed' }, { headers });
    const second = await api('POST', '/api/v1/app', { name: 'Replayed' }, { headers });
    expect(first.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
    expect(await storedIdempotentBodies(tw)).toContain(first.text);
  });
});
