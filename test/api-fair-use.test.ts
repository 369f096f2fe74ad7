// Fair use limits on what one tenant may take: endpoint metadata of at most 4 KB, at most
// TAPWIRE_MAX_ENDPOINTS_PER_APP endpoints per application, and an application's token cannot ask for
// more attempts in flight to one endpoint than the worker has slots.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { expectError, expectNo5xx, expectValidation, guardApi, type ApiFn } from './helpers/api-guard.js';
import { backends } from './helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;
  const url = (n: number | string): string => `https://receiver.example/hook-${n}`;

  beforeAll(async () => {
    tw = await startTapwire({ TAPWIRE_MAX_ENDPOINTS_PER_APP: '3', TAPWIRE_WORKER_CONCURRENCY: '32' });
    api = guardApi(tw);
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  async function app(): Promise<any> {
    return (await api('POST', '/api/v1/app', { name: 'Tenant', uid: unique('tenant') })).body;
  }

  it('refuses endpoint metadata over 4 KB (as JSON), on create and on change', async () => {
    const tenant = await app();
    const big = { notes: 'x'.repeat(4100) };
    expectValidation(await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url('meta'), metadata: big }), ['body', 'metadata']);
    const fits = { notes: 'x'.repeat(4000) };
    const created = await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url('meta'), metadata: fits });
    expect(created.status).toBe(201);
    expectValidation(await api('PATCH', `/api/v1/app/${tenant.id}/endpoint/${created.body.id}`, { metadata: big }), ['body', 'metadata']);
    expectValidation(await api('PUT', `/api/v1/app/${tenant.id}/endpoint/${created.body.id}`, { url: url('meta'), metadata: big }), ['body', 'metadata']);
    expect((await api('GET', `/api/v1/app/${tenant.id}/endpoint/${created.body.id}`)).body.metadata).toEqual(fits);
  });

  it('caps the endpoints of one application (TAPWIRE_MAX_ENDPOINTS_PER_APP), and frees a place when one is deleted', async () => {
    const [tenant, neighbour] = [await app(), await app()];
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url(n) });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    expectError(await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url(4) }), 400, 'limit_reached');
    expectError(await api('PUT', `/api/v1/app/${tenant.id}/endpoint/fourth-by-uid`, { url: url(4) }), 400, 'limit_reached');
    // Changing one of the three is still allowed, and another application has its own places.
    expect((await api('PATCH', `/api/v1/app/${tenant.id}/endpoint/${ids[0]}`, { description: 'still fine' })).status).toBe(200);
    expect((await api('POST', `/api/v1/app/${neighbour.id}/endpoint`, { url: url('n') })).status).toBe(201);
    expect((await api('DELETE', `/api/v1/app/${tenant.id}/endpoint/${ids[1]}`)).status).toBe(204);
    expect((await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url(5) })).status).toBe(201);
  });

  it("keeps an application's token from asking for more attempts in flight than the worker's slots; the admin may", async () => {
    const tenant = await app();
    const token = (await api('POST', `/api/v1/auth/app-portal-access/${tenant.id}`, {})).body.token as string;
    expectValidation(await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url('c'), concurrencyLimit: 33 }, { token }), ['body', 'concurrencyLimit']);
    const mine = await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url('c'), concurrencyLimit: 32 }, { token });
    expect(mine.status).toBe(201);
    expectValidation(await api('PATCH', `/api/v1/app/${tenant.id}/endpoint/${mine.body.id}`, { concurrencyLimit: 10_000 }, { token }), ['body', 'concurrencyLimit']);
    const admins = await api('POST', `/api/v1/app/${tenant.id}/endpoint`, { url: url('a'), concurrencyLimit: 500 });
    expect(admins.status).toBe(201);
    // A change that does not touch the limit an operator set is the tenant's to make.
    expect((await api('PATCH', `/api/v1/app/${tenant.id}/endpoint/${admins.body.id}`, { description: 'renamed' }, { token })).status).toBe(200);
    expect((await api('GET', `/api/v1/app/${tenant.id}/endpoint/${admins.body.id}`)).body.concurrencyLimit).toBe(500);
  });
});
