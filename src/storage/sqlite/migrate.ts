// Applying SQLite's numbered migrations (migrations/*.sql), each in an IMMEDIATE transaction so two
// processes starting together apply it once.
import type Database from 'better-sqlite3';

import { readMigrations, refuseNewerSchema } from '../shared/migrations.js';
import type { StoreLogger } from '../store.js';

/** Where the numbered `.sql` files live; the build copies this folder next to the compiled file. */
const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export function migrateSqlite(db: Database.Database, logger: StoreLogger | undefined): { applied: number[] } {
  const applied: number[] = [];
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  const migrations = readMigrations(MIGRATIONS_DIR);
  refuseNewerSchema((db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0, migrations);
  for (const migration of migrations) {
    // Checked inside an IMMEDIATE transaction so two processes starting together apply it once.
    // A migration that widens a CHECK constraint rewrites its table's definition in place
    // (writable_schema, see 0009), which better-sqlite3's defensive default forbids: allowed for
    // that migration only, and only while it runs.
    const rewritesSchema = /\bwritable_schema\b/i.test(migration.sql);
    if (rewritesSchema) db.unsafeMode(true);
    let didApply: boolean;
    try {
      didApply = db
        .transaction(() => {
          if (isApplied.get(migration.version)) return false;
          db.exec(migration.sql);
          record.run(migration.version, new Date().toISOString());
          return true;
        })
        .immediate();
    } finally {
      if (rewritesSchema) db.unsafeMode(false);
    }
    if (didApply) {
      applied.push(migration.version);
      logger?.info({ version: migration.version, file: migration.file }, 'migration applied');
    }
  }
  return { applied };
}
