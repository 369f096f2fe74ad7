// The embedded Store: one SQLite file through better-sqlite3, no database server to run. This class
// only opens, migrates and closes; every operation is its subject's (src/storage/<subject>/sqlite.ts),
// and every statement runs through SqliteDatabase (connection, transactions, group commit).
import type Database from 'better-sqlite3';

import { SqliteApplications } from '../applications/sqlite.js';
import { SqliteAttempts } from '../attempts/sqlite.js';
import { SqliteAuth } from '../auth/sqlite.js';
import { SqliteBackgroundTasks } from '../background-tasks/sqlite.js';
import { SqliteClaims } from '../deliveries/claims/sqlite.js';
import { SqliteCompletion } from '../deliveries/completion/sqlite.js';
import { SqliteDeliveries } from '../deliveries/sqlite.js';
import { SqliteEndpoints } from '../endpoints/sqlite.js';
import { SqliteEventTypes } from '../event-types/sqlite.js';
import { SqliteIntegrations } from '../integrations/sqlite.js';
import { SqliteIngestSources } from '../ingest-sources/sqlite.js';
import { SqliteListenSessions } from '../listen-sessions/sqlite.js';
import { SqliteMessages } from '../messages/sqlite.js';
import { SqliteRetention } from '../retention/sqlite.js';
import { sealerFor } from '../shared/secret-box.js';
import { StoreOfParts, type StoreParts } from '../shared/store-of-parts.js';
import { SqliteStats } from '../stats/sqlite.js';
import type { StoreHealth, StoreLogger } from '../store.js';
import { SqliteDatabase } from './database.js';
import { openDatabaseFile } from './database-file.js';
import { migrateSqlite } from './migrate.js';

export type { StoreLogger } from '../store.js';

export interface SqliteStoreOptions {
  /** Database file, or `:memory:` for a private in-memory database. Parent directories are created. */
  path: string;
  /** Receives one line per applied migration and open-time warnings. Default: silent. */
  logger?: StoreLogger;
  /** Keys that seal endpoint secrets and header values at rest (the first seals, all open); none: stored as given. */
  encryptionKeys?: Buffer[] | null;
}

/** Each subject's SQLite part, sharing one connection. */
function sqliteParts(database: SqliteDatabase): StoreParts {
  const messages = new SqliteMessages(database);
  return {
    applications: new SqliteApplications(database),
    endpoints: new SqliteEndpoints(database, messages),
    eventTypes: new SqliteEventTypes(database),
    messages,
    deliveries: new SqliteDeliveries(database),
    claims: new SqliteClaims(database),
    completion: new SqliteCompletion(database, messages),
    attempts: new SqliteAttempts(database),
    auth: new SqliteAuth(database),
    integrations: new SqliteIntegrations(database),
    ingestSources: new SqliteIngestSources(database),
    listenSessions: new SqliteListenSessions(database),
    backgroundTasks: new SqliteBackgroundTasks(database),
    retention: new SqliteRetention(database),
    stats: new SqliteStats(database),
  };
}

/**
 * A SQLite-backed {@link Store}. Open with {@link SqliteStore.open} (synchronous), then call
 * `migrate()` before use. Durability: WAL with `synchronous = FULL`, so a resolved write survives a
 * power cut — an accepted message is on disk before the API answers 202.
 */
export class SqliteStore extends StoreOfParts {
  readonly kind = 'sqlite' as const;
  private readonly database: SqliteDatabase;

  private constructor(
    /** The better-sqlite3 connection. */
    private readonly db: Database.Database,
    /** The resolved database file, or `:memory:`. */
    readonly path: string,
    private readonly logger: StoreLogger | undefined,
    encryptionKeys: Buffer[] | null = null,
  ) {
    const database = new SqliteDatabase(db, sealerFor(encryptionKeys));
    super(sqliteParts(database));
    this.database = database;
  }

  /**
   * Open (creating if needed) the database file and its parent directory, and set the connection
   * up: WAL, `synchronous = FULL`, `busy_timeout = 5000`, foreign keys on. Does not migrate.
   * Throws TapwireError('store_unavailable') naming the path when the file cannot be opened.
   */
  static open(options: SqliteStoreOptions): SqliteStore {
    const { db, path } = openDatabaseFile(options.path, options.logger);
    return new SqliteStore(db, path, options.logger, options.encryptionKeys ?? null);
  }

  async migrate(): Promise<{ applied: number[] }> {
    return this.database.guard(() => migrateSqlite(this.db, this.logger));
  }

  async ping(): Promise<StoreHealth> {
    try {
      this.database.get('SELECT 1 AS one', {});
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  /** Writes already handed to the group commit are committed (or fail) before the file closes. */
  async close(): Promise<void> {
    this.database.close();
  }

  /** One process owns a SQLite file, so there is nobody else to hear from: the worker polls. */
  async onDeliveriesQueued(_listener: () => void): Promise<() => Promise<void>> {
    return async () => undefined;
  }
}
