// Migration 0006 purges idempotent responses cached before credentials stopped being cached (an
// app-portal-access answer holds a token in clear) and keeps every other cached response. The
// rows are written as an older Tapwire wrote them; then 0006 runs as it runs on an upgrade.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/storage/postgres/postgres-store.js';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../src/storage/store.js';
import { backends, dropSchema, freshSchemaUrl, withClient } from './helpers/postgres.js';

const PURGE_VERSION = 6;
const NOW = new Date('2026-01-01T00:00:00.000Z');
const LATER = new Date(NOW.getTime() + 12 * 3600_000);

/** A store at the newest schema, plus a way to forget that 0006 ran (so migrate() runs it again). */
interface Subject {
  store: Store;
  forgetPurgeMigration(): Promise<void>;
  cleanup(): Promise<void>;
}

async function openSubject(backend: 'sqlite' | 'postgres'): Promise<Subject> {
  if (backend === 'postgres') {
    const url = freshSchemaUrl('purge');
    const store = await PostgresStore.open({ url, poolSize: 2 });
    await store.migrate();
    return {
      store,
      forgetPurgeMigration: async () => {
        await withClient(url, (client) => client.query('DELETE FROM schema_migrations WHERE version = $1', [PURGE_VERSION]));
      },
      cleanup: async () => {
        await store.close();
        await dropSchema(url);
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-purge-'));
  const path = join(dir, 'tapwire.db');
  const store = SqliteStore.open({ path });
  await store.migrate();
  return {
    store,
    forgetPurgeMigration: async () => {
      const db = new Database(path);
      try {
        db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(PURGE_VERSION);
      } finally {
        db.close();
      }
    },
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each(await backends())('%s', (backend) => {
  let subject: Subject | undefined;
  afterEach(async () => {
    await subject?.cleanup();
    subject = undefined;
  });

  it('0006 deletes cached responses that carry a token and keeps the others', async () => {
    subject = await openSubject(backend);
    const { store } = subject;
    await subject.forgetPurgeMigration();
    const json = 'application/json; charset=utf-8';
    const rows = {
      portalAccess: { statusCode: 200, body: '{"url":"https://tapwire.example/portal#token=appsk_abc.def","token":"appsk_abc.def"}', contentType: json },
      tokenReordered: { statusCode: 200, body: '{"token":"appsk_xyz.uvw","url":"https://tapwire.example/portal#token=appsk_xyz.uvw"}', contentType: json },
      portalLinkOnly: { statusCode: 200, body: '{"url":"https://tapwire.example/portal#token=appsk_q.r"}', contentType: json },
      message: { statusCode: 202, body: '{"id":"msg_1","eventType":"invoice.paid","payload":{"amount":10}}', contentType: json },
      application: { statusCode: 201, body: '{"id":"app_1","name":"Tokens & more","uid":"token-app"}', contentType: json },
      empty: { statusCode: 204, body: '', contentType: null },
    };
    for (const [key, response] of Object.entries(rows)) await store.saveIdempotentResponse(key, response, LATER);

    expect(await store.migrate()).toEqual({ applied: [PURGE_VERSION] });

    for (const key of ['portalAccess', 'tokenReordered', 'portalLinkOnly']) {
      expect(await store.getIdempotentResponse(key, NOW), key).toBeNull();
    }
    for (const key of ['message', 'application', 'empty'] as const) {
      expect(await store.getIdempotentResponse(key, NOW), key).toEqual(rows[key]);
    }
  });
});
