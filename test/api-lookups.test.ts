// The API remembers tokens and applications it has just read (TAPWIRE_LOOKUP_CACHE_TTL). These
// tests pin down what that memory may and may not change: a change made through the same process
// is seen at once, and a change made through another process within the TTL still never stores a
// message for a deleted application nor answers 5xx.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { backends } from './helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let a: TestTapwire;
  let b: TestTapwire;
  let api: ApiFn;
  let apiB: ApiFn;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;
  const message = { eventType: 'order.created', payload: { n: 1 } };

  beforeAll(async () => {
    // A long TTL, so that nothing in these tests passes because an entry happened to expire.
    a = await startTapwire({ TAPWIRE_LOOKUP_CACHE_TTL: '60s' });
    // A second server on the same database, as a second API process would be.
    b = await startTapwire({ TAPWIRE_DATABASE_URL: a.config.databaseUrl, TAPWIRE_LOOKUP_CACHE_TTL: '60s' });
    api = guardApi(a);
    apiB = guardApi(b);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });
  afterEach(() => expectNo5xx());

  async function appWithToken(): Promise<{ app: any; token: string }> {
    const app = (await api('POST', '/api/v1/app', { name: 'Tenant', uid: unique('tenant') })).body;
    const minted = await api('POST', `/api/v1/auth/app-portal-access/${app.id}`, {});
    expect(minted.status).toBe(200);
    return { app, token: minted.body.token };
  }

  it('sees a rename through the same process at once: the old uid is gone, the new one works', async () => {
    const { app, token } = await appWithToken();
    expect((await api('POST', `/api/v1/app/${app.uid}/msg`, message)).status).toBe(202);
    expect((await api('GET', `/api/v1/app/${app.uid}/msg`, undefined, { token })).status).toBe(200);
    const renamed = unique('renamed');
    expect((await api('PATCH', `/api/v1/app/${app.uid}`, { uid: renamed })).status).toBe(200);
    expect((await api('POST', `/api/v1/app/${app.uid}/msg`, message)).status).toBe(404);
    expect((await api('GET', `/api/v1/app/${app.uid}/msg`, undefined, { token })).status).toBe(404);
    expect((await api('POST', `/api/v1/app/${renamed}/msg`, message)).status).toBe(202);
    expect((await api('GET', `/api/v1/app/${renamed}/msg`, undefined, { token })).status).toBe(200);
  });

  it('sees a delete through the same process at once: its messages 404, its tokens 401', async () => {
    const { app, token } = await appWithToken();
    expect((await api('POST', `/api/v1/app/${app.id}/msg`, message)).status).toBe(202);
    expect((await api('GET', `/api/v1/app/${app.id}/msg`, undefined, { token })).status).toBe(200);
    expect((await api('DELETE', `/api/v1/app/${app.id}`)).status).toBe(204);
    expect((await api('POST', `/api/v1/app/${app.id}/msg`, message)).status).toBe(404);
    expect((await api('POST', `/api/v1/app/${app.uid}/msg`, message)).status).toBe(404);
    expect((await api('GET', `/api/v1/app/${app.id}/msg`, undefined, { token })).status).toBe(401);
  });

  it('after a delete through another process, a message to the remembered application is refused with 404 and not stored', async () => {
    const { app, token } = await appWithToken();
    // Server A now remembers both the application and the token.
    expect((await api('POST', `/api/v1/app/${app.id}/msg`, message)).status).toBe(202);
    expect((await api('GET', `/api/v1/app/${app.uid}/msg`, undefined, { token })).status).toBe(200);
    expect((await apiB('DELETE', `/api/v1/app/${app.id}`)).status).toBe(204);
    const refused = await api('POST', `/api/v1/app/${app.uid}/msg`, { ...message, eventId: unique('evt') });
    expect(refused.status, refused.text).toBe(404);
    expect(refused.body).toMatchObject({ code: 'not_found' });
    // The remembered token may still pass for up to the TTL, but finds no application behind it.
    const refusedForToken = await api('GET', `/api/v1/app/${app.id}/msg`, undefined, { token });
    expect([401, 404]).toContain(refusedForToken.status);
    // Nothing was stored for it: the application (and so its messages) is gone for both servers.
    expect((await api('GET', `/api/v1/app/${app.id}`)).status).toBe(404);
    expect((await apiB('GET', `/api/v1/app/${app.id}/msg`)).status).toBe(404);
  });

  it('finds an application created through another process at once (misses are not remembered)', async () => {
    const uid = unique('later');
    expect((await api('POST', `/api/v1/app/${uid}/msg`, message)).status).toBe(404);
    expect((await apiB('POST', '/api/v1/app', { name: 'Later', uid })).status).toBe(201);
    expect((await api('POST', `/api/v1/app/${uid}/msg`, message)).status).toBe(202);
  });
});
