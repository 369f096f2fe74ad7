// The shared Store for running many Tapwire processes on many machines: PostgreSQL through a pg
// connection pool. This class only opens, migrates, listens and closes; every operation is its
// subject's (src/storage/<subject>/postgres.ts), and every statement runs through PostgresDatabase.
import { PostgresApplications } from '../applications/postgres.js';
import { PostgresAttempts } from '../attempts/postgres.js';
import { PostgresAuth } from '../auth/postgres.js';
import { PostgresBackgroundTasks } from '../background-tasks/postgres.js';
import { PostgresClaims } from '../deliveries/claims/postgres.js';
import { PostgresCompletion } from '../deliveries/completion/postgres.js';
import { PostgresDeliveries } from '../deliveries/postgres.js';
import { postgres as deliveriesSql } from '../deliveries/sql.js';
import { PostgresEndpoints } from '../endpoints/postgres.js';
import { PostgresEventTypes } from '../event-types/postgres.js';
import { PostgresIntegrations } from '../integrations/postgres.js';
import { PostgresIngestSources } from '../ingest-sources/postgres.js';
import { PostgresListenSessions } from '../listen-sessions/postgres.js';
import { PostgresMessages } from '../messages/postgres.js';
import { PostgresRetention } from '../retention/postgres.js';
import { StoreOfParts, type StoreParts } from '../shared/store-of-parts.js';
import { PostgresStats } from '../stats/postgres.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import type { StoreHealth } from '../store.js';
import { PostgresDatabase, type PostgresStoreOptions } from './database.js';
import { migratePostgres } from './migrate.js';
import { DeliveriesListener, QueuedAnnouncer } from './notifications.js';

export { POSTGRES_DEFAULTS, type PostgresStoreOptions } from './database.js';
export { parsePostgresUrl, withSessionOptions } from './url.js';

/** Each subject's PostgreSQL part, sharing one database's pools. */
function postgresParts(db: PostgresDatabase): StoreParts {
  const announcer = new QueuedAnnouncer(
    () => db.run(deliveriesSql.notifyDeliveriesQueued, {}),
    () => db.closed,
  );
  const messages = new PostgresMessages(db, announcer);
  return {
    applications: new PostgresApplications(db),
    endpoints: new PostgresEndpoints(db, messages),
    eventTypes: new PostgresEventTypes(db),
    messages,
    deliveries: new PostgresDeliveries(db),
    claims: new PostgresClaims(db),
    completion: new PostgresCompletion(db, messages),
    attempts: new PostgresAttempts(db),
    auth: new PostgresAuth(db),
    integrations: new PostgresIntegrations(db),
    ingestSources: new PostgresIngestSources(db),
    listenSessions: new PostgresListenSessions(db),
    backgroundTasks: new PostgresBackgroundTasks(db),
    retention: new PostgresRetention(db),
    stats: new PostgresStats(db),
  };
}

/**
 * A PostgreSQL-backed {@link Store}. Open with {@link PostgresStore.open}, then call `migrate()`
 * before use. Many processes may share one database: claims never hand a delivery out twice,
 * migrations are applied once, and `onDeliveriesQueued` wakes workers in every process.
 *
 * While PostgreSQL is unreachable every method rejects with TapwireError('store_unavailable')
 * (HTTP 503) and nothing crashes; once it is back, the next calls open fresh connections.
 * Connect directly or through a session-pooling proxy: LISTEN, prepared statements and the
 * `search_path` startup option need a session of their own.
 */
export class PostgresStore extends StoreOfParts {
  readonly kind = 'postgres' as const;
  private readonly listeners = new Set<DeliveriesListener>();

  private constructor(private readonly db: PostgresDatabase) {
    super(postgresParts(db));
  }

  /** The schema from the URL's `schema` parameter, or null for the connection's default search_path. */
  get schema(): string | null {
    return this.db.schema;
  }

  /**
   * Create the pool and check that the server answers (one `SELECT 1`). Does not migrate.
   * Throws TapwireError('store_unavailable') naming the server (never the password) when it cannot
   * connect, and TapwireError('generic_error') for a URL it cannot use.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    return new PostgresStore(await PostgresDatabase.connect(options));
  }

  async migrate(): Promise<{ applied: number[] }> {
    return this.db.guard(() => migratePostgres(this.db.clientConfig, this.db.schema, this.db.logger));
  }

  /**
   * A dedicated connection (not from the pool) runs `LISTEN tapwire_deliveries` and calls
   * `listener` for each notification from this schema. If that connection drops it reconnects with
   * backoff, and calls `listener` once when back (notifications sent meanwhile are lost). Never
   * throws for connection trouble: the worker's slow poll covers the gap.
   */
  async onDeliveriesQueued(listener: () => void): Promise<() => Promise<void>> {
    if (this.db.closed) throw new TapwireError('store_unavailable', { detail: 'The store is closed' });
    const config = this.db.clientConfig;
    const subscription = new DeliveriesListener({ ...config, application_name: `${config.application_name}-listener` }, listener, this.db.logger);
    this.listeners.add(subscription);
    await subscription.start();
    return async () => {
      this.listeners.delete(subscription);
      await subscription.stop();
    };
  }

  async ping(): Promise<StoreHealth> {
    return this.db.ping();
  }

  async close(): Promise<void> {
    await this.db.close(async () => {
      const listeners = [...this.listeners];
      this.listeners.clear();
      await Promise.all(listeners.map((listener) => listener.stop()));
    });
  }
}
