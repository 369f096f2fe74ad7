// Migration 0009 on a database an older Tapwire wrote (migrations up to 0008 only): an event type's
// singular feature_flag becomes its one-element featureFlags, and deliveries and attempts may then
// be canceled, the rows already there untouched (SQLite widens the CHECKs by rewriting the table
// definitions in place; PostgreSQL replaces the constraints).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { newId } from '../src/domain/ids.js';
import { readMigrations } from '../src/storage/shared/migrations.js';
import { PostgresStore } from '../src/storage/postgres/postgres-store.js';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../src/storage/store.js';
import { backends, dropSchema, freshSchemaUrl, schemaOf, withClient } from './helpers/postgres.js';

const VERSION = 9;
const T = Date.parse('2026-01-01T00:00:00.000Z');
const OLD_ROWS = `
  INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, created_at, updated_at)
  VALUES ('beta.thing', 'flagged', false, false, NULL, 'beta', ${T}, ${T}),
         ('open.thing', 'open', false, false, NULL, NULL, ${T}, ${T})`;

/** The statements of the migrations before 0009, for one database. */
function olderMigrations(kind: 'sqlite' | 'postgres'): { version: number; sql: string }[] {
  return readMigrations(new URL(`../src/storage/${kind}/migrations/`, import.meta.url)).filter((m) => m.version < VERSION);
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** A store over a database an older Tapwire migrated and filled; migrate() has not run yet. */
async function olderDatabase(backend: 'sqlite' | 'postgres'): Promise<Store> {
  if (backend === 'postgres') {
    const url = freshSchemaUrl('mig9');
    await withClient(url, async (client) => {
      await client.query(`CREATE SCHEMA "${schemaOf(url)}"`);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const m of olderMigrations('postgres')) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
      }
      await client.query(OLD_ROWS);
    });
    const store = await PostgresStore.open({ url, poolSize: 2 });
    cleanup = async () => {
      await store.close();
      await dropSchema(url);
    };
    return store;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-mig9-'));
  const path = join(dir, 'tapwire.db');
  const db = new Database(path);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  for (const m of olderMigrations('sqlite')) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date(T).toISOString());
  }
  db.exec(OLD_ROWS.replaceAll('false', '0'));
  db.close();
  const store = SqliteStore.open({ path });
  cleanup = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return store;
}

describe.each(await backends())('%s', (backend) => {
  it('0009 turns feature_flag into featureFlags and lets deliveries and attempts be canceled', async () => {
    const store = await olderDatabase(backend);
    // 0009 and every migration after it (the database is as it was before 0009).
    const pending = readMigrations(new URL('../src/storage/sqlite/migrations/', import.meta.url)).map((m) => m.version).filter((v) => v >= VERSION);
    expect(await store.migrate()).toEqual({ applied: pending });
    expect(await store.getEventType('beta.thing')).toMatchObject({ featureFlags: ['beta'], groupName: null });
    expect(await store.getEventType('open.thing')).toMatchObject({ featureFlags: null, groupName: null });
    expect((await store.listEventTypes({ limit: 10, includeArchived: false, featureFlags: ['beta'] })).data.map((t) => t.name)).toEqual(['beta.thing', 'open.thing']);
    expect((await store.listEventTypes({ limit: 10, includeArchived: false, featureFlags: [] })).data.map((t) => t.name)).toEqual(['open.thing']);

    const now = new Date(T + 1000);
    const app = await store.createApplication({ id: newId('app', T), uid: null, name: 'a', throttleRate: null, metadata: {}, createdAt: now, updatedAt: now });
    const endpoint = await store.createEndpoint({
      id: newId('ep', T), appId: app.id, uid: null, url: 'https://receiver.example/', description: '', disabled: false, eventTypes: null,
      channels: null, throttleRate: null, version: 1, metadata: {}, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', oldSecrets: [], headers: {},
      createdAt: now, updatedAt: now,
    });
    const { deliveries } = await store.createMessage(
      { id: newId('msg', T), appId: app.id, eventId: null, eventType: 'open.thing', payload: '{}', channels: null, createdAt: now, payloadExpiresAt: new Date(T + 86_400_000) },
      now,
    );
    const delivery = deliveries[0]!;
    await store.completeAttempt({
      attempt: {
        id: newId('atmpt', T + 2000), deliveryId: delivery.id, msgId: delivery.msgId, appId: app.id, endpointId: endpoint.id, url: endpoint.url,
        responseStatusCode: 0, response: 'The endpoint is disabled', responseDurationMs: 0, status: 'canceled', triggerType: 'scheduled', timestamp: new Date(T + 2000),
      },
      outcome: { status: 'canceled' },
      disableEndpoint: false,
      now: new Date(T + 2000),
    });
    expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'canceled', nextAttemptAt: null });
    expect((await store.listAttempts(app.id, { limit: 10, status: 'canceled' })).data).toHaveLength(1);
    // Other values are still refused.
    await expect(
      store.completeAttempt({
        attempt: {
          id: newId('atmpt', T + 3000), deliveryId: delivery.id, msgId: delivery.msgId, appId: app.id, endpointId: endpoint.id, url: endpoint.url,
          responseStatusCode: 0, response: '', responseDurationMs: 0, status: 'bogus' as 'fail', triggerType: 'scheduled', timestamp: new Date(T + 3000),
        },
        outcome: { status: 'fail' },
        disableEndpoint: false,
        now: new Date(T + 3000),
      }),
    ).rejects.toThrow();
    expect(await store.migrate()).toEqual({ applied: [] });
  });
});
