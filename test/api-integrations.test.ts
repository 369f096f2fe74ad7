// Integrations (Svix's integration keys) through both official client majors: every method of the
// client's Integration API round-trips its fields with Svix's status codes; the key is a bearer
// token for its own application only (admin routes refuse it, another application is a 404), it is
// shown again by GET …/key, sealed at rest, and dead at once after a rotation or a delete.
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { ApiException, Svix as Svix1 } from 'svix';
import { generateEncryptionKey } from '../src/storage/shared/secret-box.js';
import { Svix as Svix2 } from 'svix2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectNo5xx, guardApi, guardedFetch, type ApiFn } from './helpers/api-guard.js';
import { backends, withClient } from './helpers/postgres.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

/** What the tests use of either client major (the 2.x client has no getKey: that call goes by raw HTTP). */
interface IntegrationClient {
  list(appId: string, options?: { limit?: number; iterator?: string | null }): Promise<{ data: { id: string; name: string }[]; iterator: string | null; done: boolean }>;
  create(appId: string, body: { name: string; featureFlags?: string[] }): Promise<{ id: string; name: string; featureFlags?: string[]; createdAt: Date; updatedAt: Date }>;
  get(appId: string, integId: string): Promise<{ id: string; name: string; featureFlags?: string[]; createdAt: Date; updatedAt: Date }>;
  update(appId: string, integId: string, body: { name: string; featureFlags?: string[] }): Promise<{ id: string; name: string; featureFlags?: string[]; updatedAt: Date }>;
  delete(appId: string, integId: string): Promise<void>;
  rotateKey(appId: string, integId: string): Promise<{ key: string }>;
}

const MAJORS = [
  { major: '1.x', client: (token: string, url: string) => new Svix1(token, { serverUrl: url, fetch: guardedFetch }) },
  { major: '2.x', client: (token: string, url: string) => new Svix2(token, { serverUrl: url, fetch: guardedFetch }) },
] as const;

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

  /** The integrations table as stored (the key column), as text. */
  async function storedKeys(): Promise<string> {
    if (tw.backend === 'sqlite') {
      const db = new Database(tw.config.databaseUrl, { readonly: true });
      try {
        return JSON.stringify(db.prepare('SELECT key FROM integrations').all());
      } finally {
        db.close();
      }
    }
    return withClient(tw.config.databaseUrl, async (client) => JSON.stringify((await client.query('SELECT key FROM integrations')).rows));
  }

  describe.each(MAJORS)('the official svix client $major', ({ major, client }) => {
    let admin: Svix1 | Svix2;
    let integrations: IntegrationClient;
    let appId: string;
    let otherAppId: string;

    beforeAll(async () => {
      admin = client(ADMIN_TOKEN, tw.url);
      integrations = admin.integration as unknown as IntegrationClient;
      appId = (await admin.application.create({ name: `Integrations ${major}`, uid: `integ-app-${randomUUID().slice(0, 8)}` })).id;
      otherAppId = (await admin.application.create({ name: 'Someone else' })).id;
    });

    /** The key by GET …/key: the 1.x client's getKey, raw HTTP for 2.x (its client dropped the method). */
    async function getKey(integId: string): Promise<string> {
      if (major === '1.x') return (await (admin as Svix1).integration.getKey(appId, integId)).key;
      const res = await api('GET', `/api/v1/app/${appId}/integration/${integId}/key`);
      expect(res.status).toBe(200);
      return res.body.key;
    }

    it('creates, gets, lists, updates and deletes integrations with Svix\'s shapes', async () => {
      const created = await integrations.create(appId, { name: 'Zapier', featureFlags: ['beta'] });
      expect(created.id).toMatch(/^integ_[0-9A-Za-z]{27}$/);
      expect(created).toMatchObject({ name: 'Zapier', featureFlags: ['beta'] });
      expect(created.createdAt).toBeInstanceOf(Date);
      expect(Number.isNaN(created.updatedAt.getTime())).toBe(false);
      const second = await integrations.create(appId, { name: 'Partner script' });
      expect(second.featureFlags).toEqual([]);

      expect(await integrations.get(appId, created.id)).toEqual(created);
      const page = await integrations.list(appId, { limit: 1 });
      expect(page.data.map((i) => i.id)).toEqual([second.id]);
      expect(page.done).toBe(false);
      const next = await integrations.list(appId, { limit: 1, iterator: page.iterator });
      expect(next.data.map((i) => i.id)).toEqual([created.id]);
      expect((await integrations.list(otherAppId)).data).toEqual([]);

      const updated = await integrations.update(appId, created.id, { name: 'Zapier (prod)', featureFlags: ['beta', 'v2'] });
      expect(updated).toMatchObject({ id: created.id, name: 'Zapier (prod)', featureFlags: ['beta', 'v2'] });
      expect((await integrations.get(appId, created.id)).name).toBe('Zapier (prod)');

      await integrations.delete(appId, second.id);
      const missing = await integrations.get(appId, second.id).then(() => null, (e: unknown) => e);
      expect(missing).toBeInstanceOf(Error);
      expect((missing as ApiException<unknown>).code).toBe(404);
      // Another application's integration is not found through this one.
      expectError(await api('GET', `/api/v1/app/${otherAppId}/integration/${created.id}`), 404, 'not_found');
      expectError(await api('DELETE', `/api/v1/app/${appId}/integration/${second.id}`), 404, 'not_found');
      expect((await api('POST', `/api/v1/app/${appId}/integration`, { name: '' })).status).toBe(422);
    });

    it('the key is a bearer token for its own application only, and shown again by GET …/key, sealed at rest', async () => {
      const integration = await integrations.create(appId, { name: 'Scoped' });
      const key = await getKey(integration.id);
      expect(key).toMatch(/^tw_integ_[A-Za-z0-9_-]{43}$/);
      expect(await getKey(integration.id)).toBe(key);
      expect(await storedKeys()).not.toContain(key.slice('tw_integ_'.length));

      const asKey = client(key, tw.url);
      expect((await asKey.endpoint.list(appId)).data).toEqual([]);
      const ep = await asKey.endpoint.create(appId, { url: 'http://127.0.0.1:9/hook' });
      expect(ep.id).toMatch(/^ep_/);
      // Another tenant's application does not exist for it; admin routes refuse it.
      expectError(await api('GET', `/api/v1/app/${otherAppId}/endpoint`, undefined, { token: key }), 404, 'not_found');
      expect((await api('GET', '/api/v1/app', undefined, { token: key })).status).toBe(403);
      expect((await api('GET', `/api/v1/app/${appId}/integration`, undefined, { token: key })).status).toBe(403);
      expect((await api('POST', `/api/v1/app/${appId}/integration/${integration.id}/key/rotate`, undefined, { token: key })).status).toBe(403);
      // It is not a session: logout refuses it and it keeps working; expire-all leaves it alone.
      expectError(await api('POST', '/api/v1/auth/logout', undefined, { token: key }), 400, 'generic_error');
      expect((await api('POST', `/api/v1/auth/app/${appId}/expire-all`, {})).status).toBe(204);
      expect((await api('GET', `/api/v1/app/${appId}/endpoint`, undefined, { token: key })).status).toBe(200);
    });

    it('rotating the key kills the old one at once; deleting the integration kills its key', async () => {
      const integration = await integrations.create(appId, { name: 'Rotated' });
      const oldKey = await getKey(integration.id);
      expect((await api('GET', `/api/v1/app/${appId}/endpoint`, undefined, { token: oldKey })).status).toBe(200);

      const { key: newKey } = await integrations.rotateKey(appId, integration.id);
      expect(newKey).toMatch(/^tw_integ_/);
      expect(newKey).not.toBe(oldKey);
      expect(await getKey(integration.id)).toBe(newKey);
      expectError(await api('GET', `/api/v1/app/${appId}/endpoint`, undefined, { token: oldKey }), 401, 'authentication_failed');
      expect((await api('GET', `/api/v1/app/${appId}/endpoint`, undefined, { token: newKey })).status).toBe(200);
      // A repeated rotate with the same idempotency-key rotates again (a key is never replayed from storage).
      const headers = { 'idempotency-key': `rotate-${randomUUID()}` };
      const first = await api('POST', `/api/v1/app/${appId}/integration/${integration.id}/key/rotate`, undefined, { headers });
      const again = await api('POST', `/api/v1/app/${appId}/integration/${integration.id}/key/rotate`, undefined, { headers });
      expect(first.status).toBe(200);
      expect(again.body.key).not.toBe(first.body.key);
      expect(await storedKeys()).not.toContain(again.body.key.slice('tw_integ_'.length));

      await integrations.delete(appId, integration.id);
      expectError(await api('GET', `/api/v1/app/${appId}/endpoint`, undefined, { token: again.body.key }), 401, 'authentication_failed');
    });

    it('deleting the application ends its integrations\' keys', async () => {
      const doomed = (await admin.application.create({ name: 'Doomed' })).id;
      const integration = await integrations.create(doomed, { name: 'Gone with it' });
      const { key } = await integrations.rotateKey(doomed, integration.id);
      expect((await api('GET', `/api/v1/app/${doomed}/endpoint`, undefined, { token: key })).status).toBe(200);
      await admin.application.delete(doomed);
      expectError(await api('GET', `/api/v1/app/${doomed}/endpoint`, undefined, { token: key }), 401, 'authentication_failed');
    });
  });

  it('keeps integration keys readable across a TAPWIRE_ENCRYPTION_KEY rotation: resealed under the new key', async () => {
    const [oldKey, newKey] = [generateEncryptionKey(), generateEncryptionKey()];
    const first = await startTapwire({ TAPWIRE_ENCRYPTION_KEY: oldKey });
    try {
      const app = (await first.api('POST', '/api/v1/app', { name: 'Resealed' })).body;
      const integ = (await first.api('POST', `/api/v1/app/${app.id}/integration`, { name: 'Kept' })).body;
      const key = (await first.api('GET', `/api/v1/app/${app.id}/integration/${integ.id}/key`)).body.key as string;
      const rotated = await startTapwire({ TAPWIRE_DATABASE_URL: first.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: `${newKey},${oldKey}` });
      try {
        // The server's own pass at start may be doing the same; then there is nothing left.
        let afterId: string | null = null;
        do afterId = (await rotated.server.store.resealIntegrationKeys({ afterId, limit: 1 })).lastId;
        while (afterId !== null);
        expect((await rotated.server.store.resealIntegrationKeys({ afterId: null, limit: 100 })).resealed).toBe(0);
      } finally {
        await rotated.close();
      }
      const onlyNew = await startTapwire({ TAPWIRE_DATABASE_URL: first.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: newKey });
      try {
        expect((await onlyNew.api('GET', `/api/v1/app/${app.id}/integration/${integ.id}/key`)).body.key).toBe(key);
        expect((await onlyNew.api('GET', `/api/v1/app/${app.id}/endpoint`, undefined, { token: key })).status).toBe(200);
      } finally {
        await onlyNew.close();
      }
    } finally {
      await first.close();
    }
  });
});
