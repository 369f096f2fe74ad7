// The key that seals secrets at rest when TAPWIRE_ENCRYPTION_KEY is not set and the database is a
// SQLite file: `tapwire.key` beside it, created at first start, readable by the owner only. It keeps
// the embedded default one command to start while the database alone no longer holds any secret.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { TapwireError } from '../../errors/tapwire-error.js';
import { generateEncryptionKey, parseEncryptionKeys } from '../shared/secret-box.js';
import type { StoreLogger } from '../store.js';
import { ensureWritableDirectory } from './database-file.js';

/** Where the key of a SQLite database file lives. */
export function keyFileOf(databasePath: string): string {
  return join(dirname(resolve(databasePath)), 'tapwire.key');
}

/**
 * The keys in the key file beside the database, which is created (mode 0600) with a new key when
 * missing. Throws TapwireError('generic_error') naming the file when it holds no valid key.
 */
export function readOrCreateKeyFile(databasePath: string, logger: StoreLogger | undefined): Buffer[] {
  const path = keyFileOf(databasePath);
  for (let tries = 0; ; tries++) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || tries > 0) throw unreadable(path, error);
      ensureWritableDirectory(path);
      try {
        // `wx`: of two processes starting at once, one creates the file and the other reads it.
        writeFileSync(path, `${generateEncryptionKey()}\n`, { mode: 0o600, flag: 'wx' });
        logger?.info({ path }, 'encryption key created beside the database; keep it out of backups of the database');
      } catch (createError) {
        if ((createError as NodeJS.ErrnoException).code !== 'EEXIST') throw unreadable(path, createError);
      }
      continue;
    }
    try {
      return parseEncryptionKeys(text.trim());
    } catch (error) {
      throw new TapwireError('generic_error', { detail: `The key file ${path} does not hold a key: ${(error as Error).message}`, cause: error });
    }
  }
}

function unreadable(path: string, cause: unknown): TapwireError {
  return new TapwireError('store_unavailable', { detail: `Cannot read or create the key file ${path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, cause });
}
