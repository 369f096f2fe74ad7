// Migration 0011 lets a background task belong to no application (the statistics tasks run over
// every application). On SQLite the table is rebuilt: the tasks written before the upgrade, their
// leases and the cascade from their application must come through unchanged. The database is
// put back in its pre-0011 shape, with a task in it, and then 0011 runs as it runs on an upgrade.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundTask } from '../src/domain/background-tasks.js';
import { newId } from '../src/domain/ids.js';
import { PostgresStore } from '../src/storage/postgres/postgres-store.js';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../src/storage/store.js';
import { backends, dropSchema, freshSchemaUrl, withClient } from './helpers/postgres.js';

const VERSION = 11;
const NOW = new Date('2026-01-01T00:00:00.000Z');
const later = (ms: number) => new Date(NOW.getTime() + ms);

/** The pre-0011 table, as 0004 made it. */
const SQLITE_BEFORE = `
  CREATE TABLE background_tasks_old (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    data TEXT NOT NULL DEFAULT '{}',
    cursor TEXT, lease_owner TEXT, locked_until INTEGER,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
  INSERT INTO background_tasks_old SELECT id, app_id, task, status, data, cursor, lease_owner, locked_until, created_at, updated_at FROM background_tasks;
  DROP TABLE background_tasks;
  ALTER TABLE background_tasks_old RENAME TO background_tasks;
  CREATE INDEX background_tasks_app ON background_tasks (app_id, id);
  CREATE INDEX background_tasks_running ON background_tasks (id) WHERE status = 'running';
  DELETE FROM schema_migrations WHERE version = ${VERSION};`;

interface Subject {
  store: Store;
  /** Put the database back as it was before 0011 (keeping its rows), and reopen the store on it. */
  undo0011(): Promise<void>;
  cleanup(): Promise<void>;
}

async function openSubject(backend: 'sqlite' | 'postgres'): Promise<Subject> {
  if (backend === 'postgres') {
    const url = freshSchemaUrl('tasks0011');
    const subject: Subject = {
      store: await PostgresStore.open({ url, poolSize: 2 }),
      undo0011: async () => {
        await withClient(url, async (client) => {
          await client.query('ALTER TABLE background_tasks ALTER COLUMN app_id SET NOT NULL');
          await client.query('DELETE FROM schema_migrations WHERE version = $1', [VERSION]);
        });
      },
      cleanup: async () => {
        await subject.store.close();
        await dropSchema(url);
      },
    };
    await subject.store.migrate();
    return subject;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-0011-'));
  const path = join(dir, 'tapwire.db');
  const subject: Subject = {
    store: SqliteStore.open({ path }),
    undo0011: async () => {
      await subject.store.close();
      const db = new Database(path);
      try {
        db.pragma('foreign_keys = ON');
        db.transaction(() => db.exec(SQLITE_BEFORE)).immediate();
      } finally {
        db.close();
      }
      subject.store = SqliteStore.open({ path });
    },
    cleanup: async () => {
      await subject.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await subject.store.migrate();
  return subject;
}

function task(appId: string | null, overrides: Partial<BackgroundTask> = {}): BackgroundTask {
  return {
    id: newId('qtask', NOW.getTime()),
    appId,
    task: 'endpoint.replay',
    status: 'running',
    data: { endpointId: 'ep_x', since: NOW.toISOString(), until: NOW.toISOString(), scanned: 1, queued: 1, skippedExpired: 0, batches: 1 },
    cursor: 'msg_cursor',
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

describe.each(await backends())('%s', (backend) => {
  let subject: Subject | undefined;
  afterEach(async () => {
    await subject?.cleanup();
    subject = undefined;
  });

  it('0011 keeps the tasks written before it, their leases and their cascade, and lets a task belong to no application', async () => {
    subject = await openSubject(backend);
    const app = await subject.store.createApplication({ id: newId('app', NOW.getTime()), uid: null, name: 'Old', throttleRate: null, metadata: {}, createdAt: NOW, updatedAt: NOW });
    const old = await subject.store.createBackgroundTask(task(app.id), { owner: 'runner_old', until: later(60_000) });

    await subject.undo0011();
    // The undone schema is the old one: a task of no application does not fit in it.
    await expect(subject.store.createBackgroundTask(task(null, { id: newId('qtask') }))).rejects.toThrow();

    expect(await subject.store.migrate()).toEqual({ applied: [VERSION] });
    expect(await subject.store.getBackgroundTask(old.id)).toEqual(old);
    // The lease came through: nobody takes the task before it ends, anybody after.
    expect(await subject.store.claimBackgroundTasks({ now: later(59_000), leaseOwner: 'runner_new', leaseMs: 1000, limit: 10 })).toEqual([]);
    expect(await subject.store.claimBackgroundTasks({ now: later(61_000), leaseOwner: 'runner_new', leaseMs: 1000, limit: 10 })).toEqual([old]);

    const everyApp = await subject.store.createBackgroundTask(task(null, { id: newId('qtask'), task: 'application.stats', data: { appStats: [] } }));
    expect(await subject.store.getBackgroundTask(everyApp.id)).toEqual(everyApp);
    expect((await subject.store.listBackgroundTasks({ limit: 10, appId: app.id })).data).toEqual([old]);
    // The application's tasks still go with it; the task of no application stays.
    expect(await subject.store.deleteApplication(app.id)).toBe(true);
    expect(await subject.store.getBackgroundTask(old.id)).toBeNull();
    expect(await subject.store.getBackgroundTask(everyApp.id)).toEqual(everyApp);
  });
});
