// Tokens can be revoked: logout ends the token presented, expire-all an application's tokens (now,
// after a grace period, or only some sessions'), a revocation reaches every process within the lookup
// cache's TTL, and TAPWIRE_ADMIN_TOKEN makes stored admin tokens stop working.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { newId } from '../src/domain/ids.js';
import { hashToken } from '../src/services/auth.js';
import { expectError, expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { eventually } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  /** The server's clock: real time plus whatever a test moves it on by. */
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  let tw: TestTapwire;
  let other: TestTapwire;
  let api: ApiFn;
  let apiOther: ApiFn;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;

  beforeAll(async () => {
    tw = await startTapwire({ TAPWIRE_LOOKUP_CACHE_TTL: '60s' }, { clock });
    // A second API process on the same database, with a short memory of tokens.
    other = await startTapwire({ TAPWIRE_DATABASE_URL: tw.config.databaseUrl, TAPWIRE_LOOKUP_CACHE_TTL: '200ms' });
    api = guardApi(tw);
    apiOther = guardApi(other);
  });
  afterAll(async () => {
    await other?.close();
    await tw?.close();
  });
  afterEach(() => {
    offsetMs = 0;
    expectNo5xx();
  });

  async function app(): Promise<any> {
    return (await api('POST', '/api/v1/app', { name: 'Tenant', uid: unique('tenant') })).body;
  }

  async function mint(appId: string, body: Record<string, unknown> = {}): Promise<string> {
    const minted = await api('POST', `/api/v1/auth/app-portal-access/${appId}`, body);
    expect(minted.status, minted.text).toBe(200);
    return minted.body.token as string;
  }

  const works = async (appId: string, token: string, on: ApiFn = api): Promise<number> => (await on('GET', `/api/v1/app/${appId}/endpoint`, undefined, { token })).status;

  it('logout ends the token presented at once, and only that one', async () => {
    const tenant = await app();
    const [first, second] = [await mint(tenant.id), await mint(tenant.id)];
    // Remembered by the lookup cache first: logout must not leave it usable from memory.
    expect(await works(tenant.id, first)).toBe(200);
    expect((await api('POST', '/api/v1/auth/logout', undefined, { token: first })).status).toBe(204);
    expectError(await api('GET', `/api/v1/app/${tenant.id}/endpoint`, undefined, { token: first }), 401, 'authentication_failed');
    expectError(await api('POST', '/api/v1/auth/logout', undefined, { token: first }), 401, 'authentication_failed');
    expect(await works(tenant.id, second)).toBe(200);
  });

  it('refuses to log out an admin token (it is replaced with tapwire token rotate-admin)', async () => {
    expectError(await api('POST', '/api/v1/auth/logout'), 400, 'generic_error');
    expect((await api('GET', '/api/v1/app')).status).toBe(200);
  });

  it("expire-all ends every token of the application at once, and no other application's", async () => {
    const [tenant, neighbour] = [await app(), await app()];
    const tokens = [await mint(tenant.id), await mint(tenant.id, { sessionId: 's1' })];
    const neighbours = await mint(neighbour.id);
    for (const token of tokens) expect(await works(tenant.id, token)).toBe(200);
    expect((await api('POST', `/api/v1/auth/app/${tenant.uid}/expire-all`, {})).status).toBe(204);
    for (const token of tokens) expect(await works(tenant.id, token)).toBe(401);
    expect(await works(neighbour.id, neighbours)).toBe(200);
    // A token minted afterwards works.
    expect(await works(tenant.id, await mint(tenant.id))).toBe(200);
    expectError(await api('POST', '/api/v1/auth/app/no-such-app/expire-all', {}), 404, 'not_found');
  });

  it('expire-all with sessionIds ends only the tokens of those sessions', async () => {
    const tenant = await app();
    const [s1, s2, none] = [await mint(tenant.id, { sessionId: 's1' }), await mint(tenant.id, { sessionId: 's2' }), await mint(tenant.id)];
    expect((await api('POST', `/api/v1/auth/app/${tenant.id}/expire-all`, { sessionIds: ['s1'] })).status).toBe(204);
    expect(await works(tenant.id, s1)).toBe(401);
    expect(await works(tenant.id, s2)).toBe(200);
    expect(await works(tenant.id, none)).toBe(200);
  });

  it('expire-all with an expiry leaves the tokens working until then', async () => {
    const tenant = await app();
    const token = await mint(tenant.id);
    expect((await api('POST', `/api/v1/auth/app/${tenant.id}/expire-all`, { expiry: 60 })).status).toBe(204);
    expect(await works(tenant.id, token)).toBe(200);
    offsetMs = 59_000;
    expect(await works(tenant.id, token)).toBe(200);
    offsetMs = 60_000;
    expect(await works(tenant.id, token)).toBe(401);
    // An app token cannot expire tokens itself.
    offsetMs = 0;
    expectError(await api('POST', `/api/v1/auth/app/${tenant.id}/expire-all`, {}, { token: await mint(tenant.id) }), 403, 'insufficient access');
  });

  it('a token revoked through one process stops working in another within its lookup cache TTL', async () => {
    const tenant = await app();
    const token = await mint(tenant.id);
    expect(await works(tenant.id, token, apiOther)).toBe(200);
    expect((await api('POST', '/api/v1/auth/logout', undefined, { token })).status).toBe(204);
    await eventually(() => works(tenant.id, token, apiOther), (status) => status === 401, { timeoutMs: 5_000, what: 'the other process refusing the revoked token' });
  });

  it('refuses stored admin tokens while TAPWIRE_ADMIN_TOKEN is set', async () => {
    const stored = `tw_admin_${unique('stored')}_0123456789`;
    const now = new Date();
    await tw.server.store.createToken({ id: newId('tok', now.getTime()), tokenHash: hashToken(stored), appId: null, createdAt: now, expiresAt: null });
    expectError(await api('GET', '/api/v1/app', undefined, { token: stored }), 401, 'authentication_failed');
    expect((await api('GET', '/api/v1/app')).status).toBe(200);
  });
});
