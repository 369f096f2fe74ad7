// Applying PostgreSQL's numbered migrations (migrations/*.sql) under an advisory lock, so several
// processes starting at once apply each one once; each migration commits with its record.
import pg from 'pg';
import type { ClientConfig } from 'pg';

import { readMigrations, refuseNewerSchema } from '../shared/migrations.js';
import type { StoreLogger } from '../store.js';
import { explainFailure } from './errors.js';

/** Where the numbered `.sql` files live; the build copies this folder next to the compiled file. */
const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/**
 * pg_advisory_lock key held for a whole `migrate()` run ("tapwire\0" as a 64-bit integer). One key
 * for every schema: migrations are short, and a per-schema key could not cover two URLs naming
 * the same schema differently (`?schema=public` and none).
 */
const MIGRATION_LOCK_KEY = '8386107639313097984';

export async function migratePostgres(clientConfig: ClientConfig, schema: string | null, logger: StoreLogger | undefined): Promise<{ applied: number[] }> {
  const applied: number[] = [];
  // One connection of its own for the whole run: the advisory lock belongs to the session, and
  // migrations (and waiting for another process's) must not be cut off by statement timeouts.
  const client = new pg.Client(clientConfig);
  client.on('error', (error) => logger?.warn({ err: error }, 'postgres migration connection lost'));
  await client.connect();
  try {
    await client.query('SET statement_timeout = 0');
    // Several processes starting at once queue here; each then sees what the first applied.
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    try {
      if (schema) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).catch(explainFailure(`Cannot create the schema '${schema}'`));
      }
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const migrations = readMigrations(MIGRATIONS_DIR);
      refuseNewerSchema(Math.max(0, ...done), migrations);
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        // Each migration and its record commit together, or not at all.
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          explainFailure(`Migration ${migration.file} failed`)(error);
        }
        applied.push(migration.version);
        logger?.info({ version: migration.version, file: migration.file }, 'migration applied');
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return { applied };
}

