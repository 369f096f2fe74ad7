// Turns a database URL (TAPWIRE_DATABASE_URL) into a ready Store. The only module that knows every
// backend, so the rest of the server depends on the Store interface alone.
import { fileURLToPath } from 'node:url';

import { TapwireError } from '../errors/tapwire-error.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { openThreadedSqliteStore } from './sqlite/threaded-sqlite-store.js';
import type { Store, StoreLogger } from './store.js';

export interface OpenStoreOptions {
  /** Receives migration, open-time and connection-trouble log lines. Default: silent. */
  logger?: StoreLogger;
  /** Apply pending migrations before returning. Default: false — callers run `store.migrate()` and report what it applied. */
  migrate?: boolean;
  /** PostgreSQL only: most pooled connections per process. Default 10 (see PostgresStoreOptions). */
  poolSize?: number;
  /**
   * SQLite only: run the database on a worker thread of its own (see threaded-sqlite-store.ts), so
   * its statements and fsyncs do not hold up the main thread. Default: false here; the server turns
   * it on (TAPWIRE_SQLITE_THREAD).
   */
  thread?: boolean;
  /** Keys that seal endpoint secrets and header values at rest (TAPWIRE_ENCRYPTION_KEY); none: stored as given. */
  encryptionKeys?: Buffer[] | null;
}

/**
 * Open the store a database URL names. It is not migrated unless `migrate: true`; call
 * `store.migrate()` before use.
 *
 * Accepted forms: a plain file path (relative to the working directory), `sqlite:PATH`,
 * `sqlite:///abs/path`, `file:PATH`, `file:///abs/path`, and `:memory:` (or `sqlite::memory:`) for a
 * private in-memory database; `postgres://…` / `postgresql://…` for PostgreSQL, optionally with
 * `?schema=NAME` to keep Tapwire's tables in their own schema (see PostgresStoreOptions.url).
 * Throws TapwireError('store_unavailable') when the file or its directory cannot be created or
 * written or the PostgreSQL server cannot be reached, and TapwireError('generic_error') for a URL
 * it cannot use.
 */
export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  const url = databaseUrl.trim();
  if (url === '') throw new TapwireError('generic_error', { detail: 'The database URL is empty' });
  let store: Store;
  if (isPostgresUrl(url)) {
    // Loaded on demand: a SQLite installation never loads pg.
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    store = await PostgresStore.open({
      url,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
      encryptionKeys: options.encryptionKeys ?? null,
    });
  } else if (options.thread) {
    store = await openThreadedSqliteStore({ path: sqlitePathOf(url), ...(options.logger ? { logger: options.logger } : {}), encryptionKeys: options.encryptionKeys ?? null });
  } else {
    store = SqliteStore.open({ path: sqlitePathOf(url), ...(options.logger ? { logger: options.logger } : {}), encryptionKeys: options.encryptionKeys ?? null });
  }
  if (options.migrate ?? false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}

/**
 * The keys that seal secrets at rest (see shared/secret-box.ts), from TAPWIRE_ENCRYPTION_KEY when it
 * is set; `none` stores them in clear, with a warning at every start. Unset, a SQLite database file
 * gets a key file beside it (created at first start; an in-memory database keeps nothing to seal),
 * and PostgreSQL refuses: its many processes must share a key the operator chose.
 * Throws TapwireError('generic_error') for PostgreSQL without a key.
 */
export async function resolveEncryptionKeys(
  databaseUrl: string,
  configured: Buffer[] | 'none' | null,
  logger?: StoreLogger,
): Promise<Buffer[] | null> {
  if (Array.isArray(configured)) return configured;
  if (configured === 'none') {
    logger?.warn({}, 'TAPWIRE_ENCRYPTION_KEY=none: endpoint signing secrets and header values are stored in clear');
    return null;
  }
  const url = databaseUrl.trim();
  if (isPostgresUrl(url)) {
    throw new TapwireError('generic_error', {
      detail:
        'TAPWIRE_ENCRYPTION_KEY is required with PostgreSQL (every process must seal secrets with the same key): ' +
        'make one with `tapwire key generate`, or set TAPWIRE_ENCRYPTION_KEY=none to store them in clear on purpose',
    });
  }
  const path = sqlitePathOf(url);
  if (path === ':memory:') return null;
  const { readOrCreateKeyFile } = await import('./sqlite/key-file.js');
  return readOrCreateKeyFile(path, logger);
}

/** A `postgres://` or `postgresql://` URL (anything else names SQLite). */
function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The file path (or `:memory:`) a SQLite URL names. */
function sqlitePathOf(url: string): string {
  if (url === ':memory:' || url === 'sqlite::memory:' || url === 'sqlite://:memory:') return ':memory:';
  if (/^file:\/\//i.test(url)) return fileURLToPath(url);
  if (/^file:/i.test(url)) return url.slice('file:'.length);
  if (/^sqlite:\/\//i.test(url)) return url.slice('sqlite://'.length);
  if (/^sqlite:/i.test(url)) return url.slice('sqlite:'.length);
  // Any other `scheme://` is a database we do not speak; a bare path (even `C:\…`) is SQLite.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme) throw new TapwireError('generic_error', { detail: `Unsupported database URL scheme '${scheme[1]}:'; use a SQLite path or a postgres:// URL` });
  return url;
}

/** The URL with any password (`user:secret@` or a `password=` parameter) replaced by `***`, safe to log. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    let masked = false;
    if (parsed.password) {
      parsed.password = '***';
      masked = true;
    }
    for (const key of [...parsed.searchParams.keys()]) {
      if (/^(password|sslpassword)$/i.test(key)) {
        parsed.searchParams.set(key, '***');
        masked = true;
      }
    }
    if (masked) return parsed.toString();
  } catch {
    // Not a URL (a plain path): fall through to the patterns below.
  }
  // Mask `user:secret@` and `password=secret` wherever they appear, parsed or not.
  return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@').replace(/([?&](?:ssl)?password=)[^&]*/gi, '$1***');
}
