// The Store contract on SQLite (a fresh temp file per test), plus what only SQLite has: files,
// directories, migrations on disk and several connections to one file.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { newId } from '../src/domain/ids.js';
import { TapwireError } from '../src/errors/tapwire-error.js';
import { describeDatabaseUrl, openStore } from '../src/storage/open-store.js';
import { readMigrations } from '../src/storage/shared/migrations.js';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import { runStoreContract } from './store-contract/index.js';

/** The migrations on disk: the tests follow new ones without listing them. */
const MIGRATIONS = readMigrations(new URL('../src/storage/sqlite/migrations/', import.meta.url));
const VERSIONS = MIGRATIONS.map((m) => m.version);

function makeTempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tapwire-sqlite-'));
}

runStoreContract('sqlite', async () => {
  const dir = makeTempDir();
  const store = SqliteStore.open({ path: join(dir, 'tapwire.db') });
  await store.migrate();
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// The same contract through the worker thread the server runs SQLite on by default
// (TAPWIRE_SQLITE_THREAD): every call and every error crosses the thread boundary.
runStoreContract('sqlite (thread)', async () => {
  const dir = makeTempDir();
  const store = await openStore(join(dir, 'tapwire.db'), { thread: true, migrate: true });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore (SQLite only)', () => {
  let dir: string;

  beforeEach(() => {
    dir = makeTempDir();
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies migrations once, records them, and applies nothing the second time', async () => {
    const path = join(dir, 'tapwire.db');
    const store = SqliteStore.open({ path });
    const lines: { obj: object; msg: string }[] = [];
    const logged = SqliteStore.open({ path: join(dir, 'logged.db'), logger: { info: (obj, msg) => lines.push({ obj, msg }), warn: () => {} } });
    try {
      expect(await store.migrate()).toEqual({ applied: VERSIONS });
      expect(await store.migrate()).toEqual({ applied: [] });
      await logged.migrate();
      expect(lines).toEqual(MIGRATIONS.map((m) => ({ obj: { version: m.version, file: m.file }, msg: 'migration applied' })));
    } finally {
      await store.close();
      await logged.close();
    }
    const raw = new Database(path, { readonly: true });
    try {
      const rows = raw.prepare('SELECT version, applied_at FROM schema_migrations').all() as { version: number; applied_at: string }[];
      expect(rows.map((r) => r.version)).toEqual(VERSIONS);
      expect(Number.isNaN(Date.parse(rows[0]!.applied_at))).toBe(false);
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('refuses a database migrated by a newer Tapwire, naming both versions', async () => {
    const path = join(dir, 'tapwire.db');
    const store = SqliteStore.open({ path });
    await store.migrate();
    const raw = new Database(path);
    raw.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, '2030-01-01T00:00:00Z')").run();
    raw.close();
    try {
      await expect(store.migrate()).rejects.toMatchObject({ code: 'schema_too_new', detail: expect.stringMatching(new RegExp(`9999.*\\b${VERSIONS.at(-1)}\\b`)) });
    } finally {
      await store.close();
    }
  });

  it('opens with WAL, synchronous FULL, a busy timeout and foreign keys', async () => {
    const store = SqliteStore.open({ path: join(dir, 'tapwire.db') });
    // The pragmas are per connection, so look at the store's own connection.
    const db = (store as unknown as { db: Database.Database }).db;
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('keeps committed data across close and reopen', async () => {
    const path = join(dir, 'nested', 'deeper', 'tapwire.db');
    const first = await openStore(path, { migrate: true });
    const app = await first.createApplication({
      id: newId('app'),
      uid: 'durable',
      name: 'Durable',
      throttleRate: null,
      metadata: {},
      createdAt: new Date(0),
      updatedAt: new Date(0),
    });
    await first.close();

    const second = await openStore(`sqlite:${path}`);
    expect(await second.migrate()).toEqual({ applied: [] });
    try {
      expect(await second.getApplication('durable')).toEqual(app);
    } finally {
      await second.close();
    }
  });

  it('lets two connections to one file claim without ever sharing a delivery', async () => {
    const path = join(dir, 'tapwire.db');
    const a = await openStore(path, { migrate: true });
    const b = await openStore(`file:${path}`, { migrate: true });
    try {
      const now = new Date(0);
      const app = await a.createApplication({ id: newId('app'), uid: null, name: 'x', throttleRate: null, metadata: {}, createdAt: now, updatedAt: now });
      await a.createEndpoint({
        id: newId('ep'), appId: app.id, uid: null, url: 'https://r.example', description: '', disabled: false, eventTypes: null,
        channels: null, throttleRate: null, version: 1, metadata: {}, secret: 'whsec_x', oldSecrets: [], headers: {}, createdAt: now, updatedAt: now,
      });
      for (let i = 0; i < 10; i++) {
        await a.createMessage(
          { id: newId('msg'), appId: app.id, eventId: null, eventType: 't', payload: '{}', channels: null, createdAt: now, payloadExpiresAt: now },
          now,
        );
      }
      const claimed: string[] = [];
      for (let round = 0; round < 4; round++) {
        for (const store of [a, b]) {
          const jobs = await store.claimDueDeliveries({ now: new Date(1000), limit: 2, leaseMs: 60_000 });
          claimed.push(...jobs.map((j) => j.delivery.id));
        }
      }
      expect(claimed).toHaveLength(10);
      expect(new Set(claimed).size).toBe(10);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('throws store_unavailable naming the path when the directory cannot be created', async () => {
    // A regular file where a directory should be fails even for root, unlike permission bits.
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const path = join(blocker, 'tapwire.db');
    const error = await openStore(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TapwireError);
    expect(error).toMatchObject({ code: 'store_unavailable', status: 503 });
    expect((error as TapwireError).detail).toContain(path);
  });

  it.skipIf(process.getuid?.() === 0)('throws store_unavailable for a read-only directory', async () => {
    const readOnly = join(dir, 'read-only');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    try {
      await expect(openStore(join(readOnly, 'tapwire.db'))).rejects.toMatchObject({ code: 'store_unavailable' });
    } finally {
      chmodSync(readOnly, 0o755);
    }
  });

  it('reports store_unavailable after close and a failing ping', async () => {
    const store = await openStore(':memory:');
    await store.close();
    expect((await store.ping()).ok).toBe(false);
    await expect(store.getApplication('x')).rejects.toMatchObject({ code: 'store_unavailable' });
    await store.close(); // closing twice is harmless
  });

  it('on its thread: open errors, closed-store errors and a method it lacks come back as TapwireErrors', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const path = join(blocker, 'tapwire.db');
    const error = await openStore(path, { thread: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TapwireError);
    expect(error).toMatchObject({ code: 'store_unavailable', status: 503 });
    expect((error as TapwireError).detail).toContain(path);

    const store = await openStore(join(dir, 'threaded.db'), { thread: true, migrate: true });
    expect(store.kind).toBe('sqlite');
    // Not a thenable, or `await store` would call into the thread.
    expect(await Promise.resolve(store)).toBe(store);
    const missing = await (store as unknown as { noSuchMethod(): Promise<unknown> }).noSuchMethod().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TapwireError);
    expect(missing).toMatchObject({ code: 'server_error' });
    // Calls already sent when close() starts are answered first.
    const pending = store.listApplications({ limit: 10 });
    await store.close();
    await expect(pending).resolves.toMatchObject({ data: [] });
    expect((await store.ping()).ok).toBe(false);
    await expect(store.getApplication('x')).rejects.toMatchObject({ code: 'store_unavailable' });
    await store.close();
  });

  it('refuses unknown URL schemes with generic_error', async () => {
    await expect(openStore('mysql://localhost/db')).rejects.toMatchObject({ code: 'generic_error' });
    await expect(openStore('redis://localhost/0')).rejects.toMatchObject({ code: 'generic_error' });
  });

  it('describes database URLs without their password', () => {
    expect(describeDatabaseUrl('postgres://tapwire:s3cret@db.internal:5432/tapwire')).toBe('postgres://tapwire:***@db.internal:5432/tapwire');
    expect(describeDatabaseUrl('postgresql://tapwire@db/tapwire')).toBe('postgresql://tapwire@db/tapwire');
    expect(describeDatabaseUrl('/var/lib/tapwire/tapwire.db')).toBe('/var/lib/tapwire/tapwire.db');
    expect(describeDatabaseUrl('sqlite:./data/tapwire.db')).toBe('sqlite:./data/tapwire.db');
    expect(describeDatabaseUrl(':memory:')).toBe(':memory:');
    expect(describeDatabaseUrl('weird//user:pw@host')).not.toContain('pw');
    expect(describeDatabaseUrl('postgres://db/tapwire?sslmode=require&password=s3cret')).not.toContain('s3cret');
  });
});
