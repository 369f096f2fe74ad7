// Opening the SQLite file: its directory made first (with a clear error when it cannot be), then the
// connection set up for durability and for several processes sharing the file.
import { accessSync, constants as fsConstants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

import { TapwireError } from '../../errors/tapwire-error.js';
import type { StoreLogger } from '../store.js';

/**
 * Open (creating if needed) the database file and its parent directory, and set the connection up:
 * WAL, `synchronous = FULL`, `busy_timeout = 5000`, foreign keys on. Returns the resolved path.
 * Throws TapwireError('store_unavailable') naming the path when the file cannot be opened.
 */
export function openDatabaseFile(path: string, logger: StoreLogger | undefined): { db: Database.Database; path: string } {
  const inMemory = path === ':memory:';
  const resolved = inMemory ? path : resolve(path);
  if (!inMemory) ensureWritableDirectory(resolved);
  let db: Database.Database | undefined;
  try {
    db = new Database(resolved);
    const journalMode = db.pragma('journal_mode = WAL', { simple: true });
    if (!inMemory && journalMode !== 'wal') {
      logger?.warn({ path: resolved, journalMode }, 'sqlite WAL mode unavailable');
    }
    // FULL: a commit is fsynced before it returns; NORMAL could lose the last commits on power loss.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    return { db, path: resolved };
  } catch (error) {
    db?.close();
    throw new TapwireError('store_unavailable', {
      detail: `Cannot open the SQLite database at '${resolved}': ${(error as Error).message}`,
      cause: error,
    });
  }
}

/** Create the directory of `path` (mkdir -p) and check it can be written; store_unavailable naming it when not. */
export function ensureWritableDirectory(path: string): void {
  const dir = dirname(path);
  try {
    createDirectory(dir);
    accessSync(dir, fsConstants.W_OK);
  } catch (error) {
    throw new TapwireError('store_unavailable', {
      detail: `Cannot use '${path}' for the SQLite database: the directory '${dir}' cannot be created or written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      cause: error,
    });
  }
}

/**
 * mkdir -p, one level at a time. Not `mkdirSync(dir, { recursive: true })`: on Node 20 that spins
 * forever at 100 % CPU where a parent refuses creation with ENOENT (e.g. under /proc), so
 * `tapwire migrate --database-url /proc/x/y.db` hung instead of failing.
 */
function createDirectory(dir: string): void {
  try {
    if (statSync(dir).isDirectory()) return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const parent = dirname(dir);
    if (parent !== dir) createDirectory(parent);
    try {
      mkdirSync(dir);
    } catch (mkdirError) {
      // Another process may have created it between our stat and mkdir.
      if ((mkdirError as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(dir).isDirectory()) throw mkdirError;
    }
    return;
  }
  throw Object.assign(new Error(`'${dir}' is not a directory`), { code: 'ENOTDIR' });
}
