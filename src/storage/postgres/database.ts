// What every PostgreSQL statement of every subject runs through: the pools (the API's and the
// delivery worker's own), named statements prepared once per connection, transactions, cursor
// pages, and the translation of driver errors.
import pg from 'pg';
import type { ClientConfig, CustomTypesConfig, PoolClient, PoolConfig, QueryResult, QueryResultRow } from 'pg';

import { TapwireError } from '../../errors/tapwire-error.js';
import type { ErrorContext } from '../shared/conflicts.js';
import { sealerFor, type SecretSealer } from '../shared/secret-box.js';
import { planPage, toPage, withScan, type PageArgs, type Scan } from '../shared/paging.js';
import type { Page, StoreLogger } from '../store.js';
import { reasonOf, translateError } from './errors.js';
import { parsePostgresUrl, serverOf, withSessionOptions } from './url.js';

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:port/database?…` (or `postgresql://`). Any libpq-style parameter
   * pg understands may be given (`sslmode`, `application_name`, `options`…). One of our own:
   * `schema=NAME` keeps Tapwire's tables in that schema (created by `migrate()`), so several
   * installations (or test runs) can share one database. NAME: lowercase letters, digits and `_`.
   */
  url: string;
  /** Receives one line per applied migration and connection trouble. Default: silent. */
  logger?: StoreLogger;
  /**
   * Most connections this process opens (the pool; the LISTEN connection and `migrate()` use one
   * more each). Default 10. Size it so processes × poolSize stays under the server's
   * max_connections (100 by default) with room for administration.
   */
  poolSize?: number;
  /** How long to wait for a new connection (or a free one when the pool is busy). Default 5000 ms. */
  connectionTimeoutMs?: number;
  /** Idle pooled connections are closed after this long. Default 30000 ms. */
  idleTimeoutMs?: number;
  /**
   * Server-side limit for one statement (`statement_timeout`); a statement cut off reports
   * `store_unavailable`. Every Store method is a handful of indexed statements, so this only fires
   * when the database is overloaded or locked. Default 10000 ms, so a request never waits long for
   * its 503 when the network to the database is gone. Migrations run without it.
   */
  statementTimeoutMs?: number;
  /** `application_name` shown in pg_stat_activity (the LISTEN connection adds `-listener`). Default `tapwire`. */
  applicationName?: string;
  /** Keys that seal endpoint secrets and header values at rest (the first seals, all open); none: stored as given. */
  encryptionKeys?: Buffer[] | null;
}

/** Defaults of {@link PostgresStoreOptions}. */
export const POSTGRES_DEFAULTS = {
  poolSize: 10,
  /**
   * Connections of the delivery worker's own pool (claims, attempt records), opened on a worker's
   * first claim: its statements never queue behind the API's, so a busy API cannot starve delivery.
   */
  deliveryPoolSize: 4,
  connectionTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  statementTimeoutMs: 10_000,
  applicationName: 'tapwire',
  /** A transaction left open this long by a stuck caller is ended by the server, releasing its locks. */
  idleInTransactionTimeoutMs: 60_000,
  /** Probe a quiet connection after this long, so a dead server or network is noticed. */
  keepAliveInitialDelayMs: 10_000,
} as const;

/** Runs of one statement or transaction PostgreSQL ended to break a deadlock (see retryingConflicts). */
const CONFLICT_RETRIES = 3;

/** How long a health probe waits for PostgreSQL before reporting it unavailable. */
const PING_TIMEOUT_MS = 2_000;
const PING = 'SELECT 1 AS one';

/**
 * Planner settings of the delivery worker's connections. Every statement they run (claims, the
 * reads after a claim, attempt records) finds its rows through an index by design, but the planner
 * only knows that once ANALYZE has seen the tables: on a fresh or fast-growing database it has no
 * statistics yet (autovacuum analyzes at most once a minute), estimates a handful of rows, and picks
 * a sequential scan or a bitmap scan plus a sort of every due delivery, which the prepared statement
 * then keeps. Such a plan costs time in proportion to the whole queue on every claim. Discouraging
 * those two scan kinds keeps the plans that are right at any size (an index scan costs little more
 * on a tiny table); a scan with no index to use still runs.
 */
const DELIVERY_SESSION_OPTIONS = '-c enable_seqscan=off -c enable_bitmapscan=off';

/**
 * int8 (bigint, count(*)) as a JS number instead of pg's default string. Safe here: every bigint
 * we store is epoch milliseconds or a row count, far below 2^53. Set per pool, not globally, so
 * other pg users in the same process are unaffected.
 */
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

/** Something that runs queries: a pool, or one client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | PoolClient;

/** A statement compiled from `@name` to `$n` form, with the parameter names in `$n` order. */
interface CompiledStatement {
  /** Prepared-statement name, one per statement text (and scan direction). */
  name: string;
  text: string;
  params: string[];
}

const compiled = new Map<string, CompiledStatement>();
const compiledScans = new Map<string, { up?: CompiledStatement; down?: CompiledStatement }>();

function compile(sql: string): CompiledStatement {
  let statement = compiled.get(sql);
  if (!statement) {
    const params: string[] = [];
    // `@` followed by a letter is a parameter; PostgreSQL's own `@>` / `<@` operators never are.
    const text = sql.replace(/@([A-Za-z][A-Za-z0-9]*)/g, (_, param: string) => {
      let index = params.indexOf(param);
      if (index < 0) index = params.push(param) - 1;
      return `$${index + 1}`;
    });
    statement = { name: `tapwire_${compiled.size + 1}`, text, params };
    compiled.set(sql, statement);
  }
  return statement;
}

function compileScan(sql: string, scan: Scan): CompiledStatement {
  let byScan = compiledScans.get(sql);
  if (!byScan) {
    byScan = {};
    compiledScans.set(sql, byScan);
  }
  return (byScan[scan] ??= compile(withScan(sql, scan)));
}

/** See PostgresDatabase.retryingConflicts. */
export async function retryingConflicts<T>(work: () => Promise<T>, runs = CONFLICT_RETRIES): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: unknown })?.code;
      if (attempt >= runs || (code !== '40P01' && code !== '40001')) throw error;
    }
  }
}

/**
 * The connections of one PostgresStore. While PostgreSQL is unreachable every call rejects with
 * TapwireError('store_unavailable') and nothing crashes; once it is back, the next calls open
 * fresh connections.
 */
export class PostgresDatabase {
  /** The delivery worker's pool (see POSTGRES_DEFAULTS.deliveryPoolSize); null until the first claim. */
  private deliveryPoolOrNull: pg.Pool | null = null;
  private closedFlag = false;

  private constructor(
    readonly pool: pg.Pool,
    private readonly poolConfig: PoolConfig,
    /** Connection settings shared by the pools, the LISTEN connection and migrations. */
    readonly clientConfig: ClientConfig,
    /** The schema from the URL's `schema` parameter, or null for the connection's default search_path. */
    readonly schema: string | null,
    readonly logger: StoreLogger | undefined,
    /** Seals endpoint secrets and header values at rest (PLAINTEXT without TAPWIRE_ENCRYPTION_KEY). */
    readonly secrets: SecretSealer,
  ) {}

  /**
   * Create the pool and check that the server answers (one `SELECT 1`). Throws
   * TapwireError('store_unavailable') naming the server (never the password) when it cannot
   * connect, and TapwireError('generic_error') for a URL it cannot use.
   */
  static async connect(options: PostgresStoreOptions): Promise<PostgresDatabase> {
    const { connectionString, schema } = parsePostgresUrl(options.url);
    const clientConfig: ClientConfig = {
      connectionString,
      application_name: options.applicationName ?? POSTGRES_DEFAULTS.applicationName,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? POSTGRES_DEFAULTS.connectionTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: POSTGRES_DEFAULTS.keepAliveInitialDelayMs,
      types: TYPES,
    };
    const statementTimeoutMs = options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs;
    const poolConfig: PoolConfig = {
      ...clientConfig,
      max: options.poolSize ?? POSTGRES_DEFAULTS.poolSize,
      idleTimeoutMillis: options.idleTimeoutMs ?? POSTGRES_DEFAULTS.idleTimeoutMs,
      statement_timeout: statementTimeoutMs,
      // The server's statement_timeout cannot fire when the network is what is gone.
      query_timeout: statementTimeoutMs + 2_000,
      idle_in_transaction_session_timeout: POSTGRES_DEFAULTS.idleInTransactionTimeoutMs,
    };
    const pool = new pg.Pool(poolConfig);
    // An idle pooled connection dropped by the server (restart, failover, pg_terminate_backend) is
    // reported here and removed from the pool; without a listener it would crash the process.
    pool.on('error', (error) => options.logger?.warn({ err: error }, 'postgres idle connection lost'));
    try {
      await pool.query(PING);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new TapwireError('store_unavailable', {
        detail: `Cannot connect to PostgreSQL at ${serverOf(connectionString)}: ${reasonOf(error)}`,
        cause: error,
      });
    }
    return new PostgresDatabase(pool, poolConfig, clientConfig, schema, options.logger, sealerFor(options.encryptionKeys));
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The delivery worker's own pool, opened on first use (only processes that deliver need it). */
  get deliveryPool(): pg.Pool {
    // Once closed, calls fail on the ended main pool (store_unavailable) instead of opening a new one.
    if (this.closedFlag) return this.pool;
    if (!this.deliveryPoolOrNull) {
      const pool = new pg.Pool({
        ...this.poolConfig,
        connectionString: withSessionOptions(this.poolConfig.connectionString!, DELIVERY_SESSION_OPTIONS),
        max: POSTGRES_DEFAULTS.deliveryPoolSize,
      });
      pool.on('error', (error) => this.logger?.warn({ err: error }, 'postgres idle connection lost'));
      this.deliveryPoolOrNull = pool;
    }
    return this.deliveryPoolOrNull;
  }

  async ping(): Promise<{ ok: boolean; detail?: string }> {
    if (this.closedFlag) return { ok: false, detail: 'The store is closed' };
    try {
      // Health must answer quickly even when the network to the database silently drops packets.
      // pg honours a per-query `query_timeout`, though its type definitions omit it.
      await this.pool.query({ text: PING, query_timeout: PING_TIMEOUT_MS } as pg.QueryConfig);
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: reasonOf(error) };
    }
  }

  /** Refuse further calls, run `before` (stop listening), then close both pools. Closing twice does nothing. */
  async close(before: () => Promise<void> = async () => undefined): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    await before();
    await Promise.all([this.pool.end(), this.deliveryPoolOrNull?.end()]);
  }

  /** Run `work`, turning every driver error into a TapwireError (nothing from the driver leaks). */
  async guard<T>(work: () => Promise<T>, context: ErrorContext = {}): Promise<T> {
    if (this.closedFlag) throw new TapwireError('store_unavailable', { detail: 'The store is closed' });
    try {
      return await work();
    } catch (error) {
      throw translateError(error, context);
    }
  }

  /**
   * Run `work` again, up to CONFLICT_RETRIES times, when PostgreSQL ended it to break a deadlock
   * (40P01) or a serialization conflict (40001). Only for work that is one statement or one
   * transaction: its failure rolled everything back, so running it again is running it once. A
   * delete that fails open deliveries locks the endpoint, then its deliveries; an attempt being
   * recorded locks a delivery, then its endpoint: the two can meet, and the loser should not answer 503.
   */
  retryingConflicts<T>(work: () => Promise<T>): Promise<T> {
    return retryingConflicts(work);
  }

  /**
   * Run `work` in one transaction on one pooled connection. A connection that broke on the way
   * (the ROLLBACK fails, or it reported an error while checked out) is destroyed, not pooled again.
   */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // The pool listens for errors only on idle connections; one dropped while we hold it would
    // otherwise be an unhandled 'error' event.
    const onError = (error: Error): void => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken ??= rollbackError as Error;
      }
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** Run a statement (prepared once per connection) with named parameters, on the pool unless `on` is given. */
  run<R extends QueryResultRow = QueryResultRow>(sql: string, params: Record<string, unknown>, on: Queryable = this.pool): Promise<QueryResult<R>> {
    return this.execute<R>(compile(sql), params, on);
  }

  async one<R extends QueryResultRow>(sql: string, params: Record<string, unknown>, on?: Queryable): Promise<R | undefined> {
    return (await this.run<R>(sql, params, on)).rows[0];
  }

  /** Rows of an `id = ANY(@ids)` statement, by id. */
  async byId<R extends QueryResultRow & { id: string }>(sql: string, ids: string[], on: Queryable = this.pool): Promise<Map<string, R>> {
    if (ids.length === 0) return new Map();
    const { rows } = await this.run<R>(sql, { ids: [...new Set(ids)] }, on);
    return new Map(rows.map((row) => [row.id, row]));
  }

  /** One cursor page of a `{cmp}` / `{dir}` list statement (see shared/paging.ts). */
  async page<R extends QueryResultRow, T>(...[sql, query, defaultOrder, params, keyOf, toItem]: PageArgs<R, T>): Promise<Page<T>> {
    const plan = planPage(query, defaultOrder);
    const { rows } = await this.execute<R>(compileScan(sql, plan.scan), { ...params, cursor: plan.cursor, limit: plan.limit }, this.pool);
    return toPage(rows, query, plan, keyOf, toItem);
  }

  private execute<R extends QueryResultRow>(statement: CompiledStatement, params: Record<string, unknown>, on: Queryable): Promise<QueryResult<R>> {
    const values = statement.params.map((param) => {
      if (!(param in params)) throw new Error(`Statement ${statement.name} needs @${param}: ${statement.text.trim().slice(0, 80)}`);
      return params[param];
    });
    return (on as pg.Pool).query<R>({ name: statement.name, text: statement.text, values });
  }
}
