// An ingest source's provider signing secret and URL token are sealed in the database like endpoint
// secrets (TAPWIRE_ENCRYPTION_KEY), read back through a ring of keys, and resealed under a new first
// key by the same pass as endpoint secrets, after which the new key alone opens them and the ingest
// URL still verifies the provider's signature.
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { stripe } from '../src/receiver/index.js';
import { resealEndpointSecrets } from '../src/services/endpoints.js';
import { generateEncryptionKey } from '../src/storage/shared/secret-box.js';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { backends, withClient } from './helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const PROVIDER_SECRET = 'whsec_provider_secret_at_rest_0123';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  const [oldKey, newKey] = [generateEncryptionKey(), generateEncryptionKey()];
  let sealed: TestTapwire;
  let api: ApiFn;

  beforeAll(async () => {
    sealed = await startTapwire({ TAPWIRE_ENCRYPTION_KEY: oldKey });
    api = guardApi(sealed);
  });
  afterAll(async () => {
    await sealed?.close();
  });
  afterEach(() => expectNo5xx());

  async function storedSources(tw: TestTapwire): Promise<string> {
    if (tw.backend === 'sqlite') {
      const db = new Database(tw.config.databaseUrl, { readonly: true });
      try {
        return JSON.stringify(db.prepare('SELECT config, token FROM ingest_sources').all());
      } finally {
        db.close();
      }
    }
    return withClient(tw.config.databaseUrl, async (client) => JSON.stringify((await client.query('SELECT config, token FROM ingest_sources')).rows));
  }

  async function postSigned(url: string): Promise<number> {
    const signed = stripe({ secret: PROVIDER_SECRET }).sign({ body: `{"id":"evt_${Math.random().toString(36).slice(2)}","type":"charge.succeeded"}` });
    return (await fetch(url, { method: 'POST', body: new Uint8Array(signed.body), headers: { ...signed.headers, 'content-type': 'application/json' } })).status;
  }

  it('keeps the provider secret and the URL token sealed, and reseals them under a new first key', async () => {
    const source = (await api('POST', '/ingest/api/v1/source', { name: 'Sealed', type: 'stripe', config: { secret: PROVIDER_SECRET } })).body;
    const token = (source.ingestUrl as string).split('/').at(-1)!;
    const before = await storedSources(sealed);
    expect(before).not.toContain('provider_secret_at_rest');
    expect(before).not.toContain(token);
    expect(before).toContain('tw1:');
    expect(await postSigned(source.ingestUrl)).toBe(200);

    const rotated = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    try {
      await resealEndpointSecrets(rotated.server.store);
      expect((await rotated.server.store.resealIngestSources({ afterId: null, limit: 1_000 })).resealed).toBe(0);
      expect(await storedSources(sealed)).not.toEqual(before);
    } finally {
      await rotated.close();
    }
    const onlyNew = await startTapwire({ TAPWIRE_DATABASE_URL: sealed.config.databaseUrl, TAPWIRE_ENCRYPTION_KEY: newKey });
    try {
      const read = (await onlyNew.api('GET', `/ingest/api/v1/source/${source.id}`)).body;
      expect(read.ingestUrl.split('/').at(-1)).toBe(token);
      expect(await postSigned(`${onlyNew.url}/ingest/in/${token}`)).toBe(200);
    } finally {
      await onlyNew.close();
    }
  });
});
