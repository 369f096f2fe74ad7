// With TAPWIRE_ENCRYPTION_KEY, endpoint signing secrets (current and previous) and custom header
// values are sealed in the database (AES-256-GCM), and everything reads and signs as before; a ring of
// keys opens values sealed under any of them, and values stored before the key was set still read.
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { generateEncryptionKey } from '../src/storage/shared/secret-box.js';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { eventually } from './helpers/delivery.js';
import { backends, withClient } from './helpers/postgres.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BEARER = 'Bearer customer-credential-0123456789';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  const [oldKey, newKey] = [generateEncryptionKey(), generateEncryptionKey()];
  let sealed: TestTapwire;
  let receiver: Receiver;
  let api: ApiFn;

  beforeAll(async () => {
    receiver = await startReceiver();
    sealed = await startTapwire({ TAPWIRE_ENCRYPTION_KEY: oldKey, TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8', TAPWIRE_HTTPS_ONLY: 'false' });
    api = guardApi(sealed);
  });
  afterAll(async () => {
    await sealed?.close();
    await receiver?.close();
  });
  afterEach(() => expectNo5xx());

  /** The endpoints table as stored: secret, old secrets and headers columns as text. */
  async function storedEndpoints(tw: TestTapwire): Promise<string> {
    if (tw.backend === 'sqlite') {
      const db = new Database(tw.config.databaseUrl, { readonly: true });
      try {
        return JSON.stringify(db.prepare('SELECT secret, old_secrets, headers FROM endpoints').all());
      } finally {
        db.close();
      }
    }
    return withClient(tw.config.databaseUrl, async (client) => JSON.stringify((await client.query('SELECT secret, old_secrets, headers FROM endpoints')).rows));
  }

  it('keeps secrets and header values sealed in the database, and reads and signs with them as before', async () => {
    const app = (await api('POST', '/api/v1/app', { name: 'Sealed' })).body;
    const endpoint = (await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/sealed`, secret: SECRET })).body;
    expect((await api('PUT', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`, { headers: { Authorization: BEARER, 'X-Plain': 'visible-value' } })).status).toBe(204);
    expect((await api('POST', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret/rotate`, { key: 'whsec_QjOyIDhXu7yJB4B6sDfyZMZb8G1AyVJO' })).status).toBe(204);

    const stored = await storedEndpoints(sealed);
    for (const clear of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'QjOyIDhXu7yJB4B6sDfyZMZb8G1AyVJO', 'customer-credential', 'visible-value']) expect(stored).not.toContain(clear);
    expect(stored).toContain('tw1:');

    expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`)).body.key).toBe('whsec_QjOyIDhXu7yJB4B6sDfyZMZb8G1AyVJO');
    expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`)).body.headers).toEqual({ 'X-Plain': 'visible-value' });

    // A delivery carries the header and a signature by both the new and (for 24 h) the previous secret.
    const message = (await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'sealed.test', payload: { ok: true } })).body;
    const [request] = await receiver.waitFor((requests) => requests.some((r) => r.path === '/sealed'));
    expect(request!.headers.authorization).toBe(BEARER);
    const headers = request!.headers as Record<string, string>;
    for (const secret of [SECRET, 'whsec_QjOyIDhXu7yJB4B6sDfyZMZb8G1AyVJO']) {
      expect(new Webhook(secret).verify(request!.body.toString(), headers)).toEqual({ ok: true });
    }
    expect(headers['webhook-id']).toBe(message.id);
  });

  it('opens with a ring of keys after a rotation, and reads what was stored before a key was set', async () => {
    const app = (await api('POST', '/api/v1/app', { name: 'Ring' })).body;
    const endpoint = (await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/ring`, secret: SECRET })).body;
    // The same database through a server whose first key is new: it opens the old key's values.
    const rotated = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    try {
      const apiRotated = guardApi(rotated);
      expect((await apiRotated('GET', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`)).body.key).toBe(SECRET);
      // Without a key that sealed it the value cannot be opened: refused as unavailable, never shown sealed.
      const wrong = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: generateEncryptionKey() });
      try {
        const res = await wrong.api('GET', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`);
        expect(res.status).toBe(503);
        expect(res.text).not.toContain('tw1:');
      } finally {
        await wrong.close();
      }
    } finally {
      await rotated.close();
    }
    // Written without a key: stored as given, and still read once a key is set.
    const plain = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: 'none' });
    try {
      const other = (await plain.api('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/plain`, secret: 'whsec_bWVhc3VyZS1zdG9yZS1wbGFpbi0wMTIzNDU2Nzg=' })).body;
      expect(await storedEndpoints(sealed)).toContain('whsec_bWVhc3VyZS1zdG9yZS1wbGFpbi0wMTIzNDU2Nzg=');
      expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${other.id}/secret`)).body.key).toBe('whsec_bWVhc3VyZS1zdG9yZS1wbGFpbi0wMTIzNDU2Nzg=');
    } finally {
      await plain.close();
    }
  });
  it('reseals every endpoint under the first key in batches, the ones stored in clear included, and only those that need it', async () => {
    const app = (await api('POST', '/api/v1/app', { name: 'Reseal' })).body;
    const plain = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: 'none' });
    let clearId: string;
    try {
      clearId = (await plain.api('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/clear`, secret: SECRET })).body.id;
      expect((await plain.api('PUT', `/api/v1/app/${app.id}/endpoint/${clearId}/headers`, { headers: { Authorization: BEARER } })).status).toBe(204);
    } finally {
      await plain.close();
    }
    expect(await storedEndpoints(sealed)).toContain('customer-credential');
    const rotated = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    try {
      // The server's own pass at start may be doing the same: batches of 2 here, in whatever order.
      let afterId: string | null = null;
      do {
        const batch: { resealed: number; lastId: string | null } = await rotated.server.store.resealEndpoints({ afterId, limit: 2 });
        afterId = batch.lastId;
      } while (afterId !== null);
      // Nothing left to do the second time.
      expect((await rotated.server.store.resealEndpoints({ afterId: null, limit: 1_000 })).resealed).toBe(0);
      const stored = await storedEndpoints(sealed);
      expect(stored).not.toContain('customer-credential');
      expect(stored).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
      // Everything now opens with the new key alone.
      const onlyNew = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: newKey });
      try {
        expect((await onlyNew.api('GET', `/api/v1/app/${app.id}/endpoint/${clearId}/secret`)).body.key).toBe(SECRET);
        const everyone = (await onlyNew.api('GET', '/api/v1/app?limit=250')).body.data as { id: string }[];
        for (const a of everyone) {
          for (const e of (await onlyNew.api('GET', `/api/v1/app/${a.id}/endpoint?limit=250`)).body.data as { id: string }[]) {
            expect((await onlyNew.api('GET', `/api/v1/app/${a.id}/endpoint/${e.id}/secret`)).status).toBe(200);
          }
        }
      } finally {
        await onlyNew.close();
      }
    } finally {
      await rotated.close();
    }
  });

  // PostgreSQL without a key refuses to start instead (test/cli-backends.test.ts).
  it.skipIf(backend !== 'sqlite')('without TAPWIRE_ENCRYPTION_KEY, seals with a key file beside a SQLite database (created once, owner-only), and warns at every start with none', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const byDefault = await startTapwire({}, { logger });
    try {
      const keyFile = join(dirname(byDefault.config.databaseUrl), 'tapwire.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const app = (await byDefault.api('POST', '/api/v1/app', { name: 'Default' })).body;
      await byDefault.api('POST', `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/default`, secret: SECRET });
      expect(await storedEndpoints(byDefault)).not.toContain('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
      // The same key on the next start.
      const again = await startTapwire({ TAPWIRE_DATABASE_URL: byDefault.config.databaseUrl });
      try {
        expect((await again.api('GET', `/api/v1/app/${app.id}/endpoint?limit=1`)).status).toBe(200);
        const [endpoint] = (await again.api('GET', `/api/v1/app/${app.id}/endpoint`)).body.data;
        expect((await again.api('GET', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`)).body.key).toBe(SECRET);
      } finally {
        await again.close();
      }
    } finally {
      await byDefault.close();
    }
    expect(lines.join('')).toMatch(/encryption key created beside the database/);
    const warned: string[] = [];
    const plain = await startTapwire({ TAPWIRE_ENCRYPTION_KEY: 'none' }, { logger: pino({ level: 'warn' }, { write: (line: string) => void warned.push(line) }) });
    await plain.close();
    expect(warned.join('')).toMatch(/TAPWIRE_ENCRYPTION_KEY=none: endpoint signing secrets and header values are stored in clear/);
  });

  it('seals at start, in the background, what was stored in clear before the key was set', async () => {
    const plain = await startTapwire({ TAPWIRE_ENCRYPTION_KEY: 'none' });
    let databaseUrl: string;
    let appId: string;
    try {
      databaseUrl = plain.config.databaseUrl;
      appId = (await plain.api('POST', '/api/v1/app', { name: 'Upgraded' })).body.id;
      const endpoint = (await plain.api('POST', `/api/v1/app/${appId}/endpoint`, { url: `${receiver.url}/upgraded`, secret: SECRET })).body;
      expect((await plain.api('PUT', `/api/v1/app/${appId}/endpoint/${endpoint.id}/headers`, { headers: { Authorization: BEARER } })).status).toBe(204);
      expect(await storedEndpoints(plain)).toContain('customer-credential');
      // The upgrade: the same database, now with a key.
      const keyed = await startTapwire({ TAPWIRE_DATABASE_URL: databaseUrl, TAPWIRE_ENCRYPTION_KEY: newKey });
      try {
        await eventually(() => storedEndpoints(plain), (stored) => !stored.includes('customer-credential') && !stored.includes('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), {
          what: 'the stored secret and header sealed',
        });
        expect((await keyed.api('GET', `/api/v1/app/${appId}/endpoint/${endpoint.id}/secret`)).body.key).toBe(SECRET);
      } finally {
        await keyed.close();
      }
    } finally {
      await plain.close();
    }
  });
});
