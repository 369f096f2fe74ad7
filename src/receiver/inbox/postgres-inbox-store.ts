// The inbox on PostgreSQL, for apps that run on several machines or already have a database. A small
// pg pool; claims use FOR UPDATE SKIP LOCKED so any number of processes lease rows at once without
// waiting on each other and without ever leasing the same row twice.
import type { CustomTypesConfig, Pool, PoolConfig, QueryResultRow } from 'pg';

import { InboxError } from './inbox-error.js';
import {
  INBOX_STATUSES,
  type ClaimInput,
  type ClaimResult,
  type CompleteInput,
  type InboxRow,
  type InboxStatusName,
  type InboxStore,
  type NewInboxRow,
} from './inbox-store.js';

/**
 * The schema, by version: append-only, the same version numbers as the SQLite list. Times are
 * bigint epoch ms (not timestamptz) so both backends store and compare the same numbers.
 */
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE tapwire_inbox_events (
        seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source       text NOT NULL,
        id           text NOT NULL,
        type         text,
        body         bytea NOT NULL,
        headers      text NOT NULL,
        status       text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'skipped', 'dead')),
        attempts     integer NOT NULL DEFAULT 0,
        received_at  bigint NOT NULL,
        -- pending: when the next attempt may start; running: when the lease expires; else NULL.
        due_at       bigint,
        lease_owner  text,
        completed_at bigint,
        last_error   text,
        -- id first, so a lookup by id alone (any source) uses this index too.
        CONSTRAINT tapwire_inbox_events_id_source UNIQUE (id, source)
      );
      CREATE INDEX tapwire_inbox_events_due ON tapwire_inbox_events (due_at, seq) WHERE due_at IS NOT NULL;
      CREATE INDEX tapwire_inbox_events_status ON tapwire_inbox_events (status, seq);
      CREATE INDEX tapwire_inbox_events_completed ON tapwire_inbox_events (status, completed_at);`,
  },
];

/**
 * pg_advisory_xact_lock key held while creating or upgrading the tables: concurrent
 * `CREATE TABLE IF NOT EXISTS` in PostgreSQL can fail with a unique violation on the catalog, so
 * processes opening at once take turns. ("twinbox\0" as a 64-bit integer.)
 */
const MIGRATION_LOCK_KEY = '8392585660683540480';

const COLUMNS = 'seq, source, id, type, body, headers, status, attempts, received_at, due_at, lease_owner, completed_at, last_error';

const SQL = {
  insert: `
    INSERT INTO tapwire_inbox_events (source, id, type, body, headers, status, attempts, received_at, due_at)
    VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)
    ON CONFLICT (id, source) DO NOTHING`,
  // A lease that expired after the last allowed attempt means that attempt never reported back:
  // its process died (or hung) every time. Retrying forever could crash-loop the app.
  bury: `
    UPDATE tapwire_inbox_events
    SET status = 'dead', due_at = NULL, lease_owner = NULL, completed_at = $1,
        last_error = 'The lease of the last attempt expired without a result (the process stopped or the handler hung)'
    WHERE seq IN (
      SELECT seq FROM tapwire_inbox_events
      WHERE due_at <= $1 AND status = 'running' AND attempts >= $2
      FOR UPDATE SKIP LOCKED)`,
  // SKIP LOCKED: a row another process is leasing right now is passed over instead of waited on.
  // A row whose lease another process committed after our snapshot is re-checked under its lock
  // (READ COMMITTED re-evaluates the WHERE on the newest version), sees the new due_at and drops out.
  claim: `
    UPDATE tapwire_inbox_events
    SET status = 'running', attempts = attempts + 1, lease_owner = $3, due_at = $4
    WHERE seq IN (
      SELECT seq FROM tapwire_inbox_events
      WHERE due_at <= $1 AND status IN ('pending', 'running') AND NOT (status = 'running' AND attempts >= $5)
      ORDER BY due_at, seq
      LIMIT $2
      FOR UPDATE SKIP LOCKED)
    RETURNING ${COLUMNS}`,
  // Our own leases are left out: we renew them, so their expiry is no reason to wake.
  nextDueAt: `SELECT MIN(due_at) AS next FROM tapwire_inbox_events WHERE due_at > $1 AND lease_owner IS DISTINCT FROM $2`,
  renewLeases: `
    UPDATE tapwire_inbox_events SET due_at = $2
    WHERE lease_owner = $1 AND status = 'running'`,
  complete: `
    UPDATE tapwire_inbox_events
    SET status = $4, due_at = $5, lease_owner = NULL, completed_at = $6, last_error = $7
    WHERE seq = $1 AND status = 'running' AND lease_owner = $2 AND attempts = $3`,
  getBySourceAndId: `SELECT ${COLUMNS} FROM tapwire_inbox_events WHERE id = $1 AND source = $2`,
  getById: `SELECT ${COLUMNS} FROM tapwire_inbox_events WHERE id = $1 ORDER BY seq DESC LIMIT 1`,
  list: `SELECT ${COLUMNS} FROM tapwire_inbox_events ORDER BY seq DESC LIMIT $1`,
  listByStatus: `SELECT ${COLUMNS} FROM tapwire_inbox_events WHERE status = $2 ORDER BY seq DESC LIMIT $1`,
  replay: `
    UPDATE tapwire_inbox_events
    SET status = 'pending', attempts = 0, due_at = $2, lease_owner = NULL, completed_at = NULL, last_error = NULL
    WHERE seq = $1 AND status IN ('dead', 'skipped', 'succeeded')`,
  replayAllDead: `
    UPDATE tapwire_inbox_events
    SET status = 'pending', attempts = 0, due_at = $1, lease_owner = NULL, completed_at = NULL, last_error = NULL
    WHERE status = 'dead'`,
  deleteCompleted: `DELETE FROM tapwire_inbox_events WHERE status = ANY($1::text[]) AND completed_at < $2`,
  countByStatus: `SELECT status, COUNT(*) AS count FROM tapwire_inbox_events GROUP BY status`,
} as const;

interface EventRow {
  seq: number;
  source: string;
  id: string;
  type: string | null;
  body: Buffer;
  headers: string;
  status: InboxStatusName;
  attempts: number;
  received_at: number;
  due_at: number | null;
  lease_owner: string | null;
  completed_at: number | null;
  last_error: string | null;
}

/** Connections the pool opens at most. Each store call is one short statement, so a few serve many handlers. */
const POOL_SIZE = 5;

/** The PostgreSQL implementation of the inbox store. Open with {@link PostgresInboxStore.open}. */
export class PostgresInboxStore implements InboxStore {
  readonly backend = 'postgres' as const;
  private readonly pool: Pool;

  private constructor(pool: Pool) {
    this.pool = pool;
  }

  /**
   * Create the pool, check the server answers, and create or upgrade the tables (and the schema,
   * when one is named, which is then the connections' search_path).
   * @throws InboxError `database_error` when the server cannot be reached, `schema_too_new` for newer tables.
   */
  static async open(options: { url: string; schema: string | undefined; now: () => number; onPoolError: (error: Error) => void }): Promise<PostgresInboxStore> {
    const { default: pg } = await import('pg');
    const config: PoolConfig = {
      connectionString: withSearchPath(options.url, options.schema),
      max: POOL_SIZE,
      application_name: 'tapwire-inbox',
      connectionTimeoutMillis: 5_000,
      statement_timeout: 30_000,
      // The inbox never keeps a process alive on its own (its timers are unref'd too): the app's server does.
      allowExitOnIdle: true,
      // int8 (seq, epoch ms, COUNT(*)) as a JS number, not pg's default string: all stay far below 2^53.
      // Set on this pool only, so other pg users in the process are unaffected.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
      },
    };
    const pool = new pg.Pool(config);
    // An idle connection the server drops is reported here; without a listener it would crash the app.
    pool.on('error', options.onPoolError);
    try {
      await migrate(pool, options.schema, options.now());
    } catch (error) {
      await pool.end().catch(() => undefined);
      if (error instanceof InboxError) throw error;
      throw new InboxError('database_error', `Cannot open the inbox database on PostgreSQL at ${serverOf(options.url)}: ${reasonOf(error)}`, {
        cause: error,
      });
    }
    return new PostgresInboxStore(pool);
  }

  async insert(row: NewInboxRow): Promise<boolean> {
    const result = await this.pool.query(SQL.insert, [row.source, row.id, row.type, row.body, row.headers, row.receivedAt]);
    return result.rowCount === 1;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const { now, limit, leaseMs, owner, maxAttempts } = input;
    // Three autocommit statements, no transaction: each is atomic on its own, and nextDueAt is
    // only a hint for when to look again.
    const buried = (await this.pool.query(SQL.bury, [now, maxAttempts])).rowCount ?? 0;
    const rows = limit > 0 ? (await this.rows<EventRow>(SQL.claim, [now, limit, owner, now + leaseMs, maxAttempts])) : [];
    const [next] = await this.rows<{ next: number | null }>(SQL.nextDueAt, [now, owner]);
    // RETURNING gives no order guarantee; hand the batch out oldest first.
    const claimed = rows.map(toInboxRow).sort((a, b) => a.seq - b.seq);
    return { claimed, buried, nextDueAt: next?.next ?? null };
  }

  async renewLeases(input: { owner: string; leaseUntil: number }): Promise<number> {
    return (await this.pool.query(SQL.renewLeases, [input.owner, input.leaseUntil])).rowCount ?? 0;
  }

  async complete(input: CompleteInput): Promise<boolean> {
    const terminal = input.status !== 'pending';
    const result = await this.pool.query(SQL.complete, [
      input.seq,
      input.owner,
      input.attempt,
      input.status,
      terminal ? null : input.dueAt,
      terminal ? input.now : null,
      input.lastError,
    ]);
    return result.rowCount === 1;
  }

  async get(key: { source: string | undefined; id: string }): Promise<InboxRow | undefined> {
    const rows =
      key.source === undefined
        ? await this.rows<EventRow>(SQL.getById, [key.id])
        : await this.rows<EventRow>(SQL.getBySourceAndId, [key.id, key.source]);
    return rows[0] && toInboxRow(rows[0]);
  }

  async list(query: { status: InboxStatusName | undefined; limit: number }): Promise<InboxRow[]> {
    const rows =
      query.status === undefined
        ? await this.rows<EventRow>(SQL.list, [query.limit])
        : await this.rows<EventRow>(SQL.listByStatus, [query.limit, query.status]);
    return rows.map(toInboxRow);
  }

  async replay(input: { seq: number; now: number }): Promise<boolean> {
    return (await this.pool.query(SQL.replay, [input.seq, input.now])).rowCount === 1;
  }

  async replayAllDead(input: { now: number }): Promise<number> {
    return (await this.pool.query(SQL.replayAllDead, [input.now])).rowCount ?? 0;
  }

  async deleteCompleted(input: { statuses: InboxStatusName[]; before: number }): Promise<number> {
    return (await this.pool.query(SQL.deleteCompleted, [input.statuses, input.before])).rowCount ?? 0;
  }

  async countByStatus(): Promise<Record<InboxStatusName, number>> {
    const counts = Object.fromEntries(INBOX_STATUSES.map((status) => [status, 0])) as Record<InboxStatusName, number>;
    for (const row of await this.rows<{ status: InboxStatusName; count: number }>(SQL.countByStatus, [])) counts[row.status] = row.count;
    return counts;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async rows<T extends QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }
}

/** Creates the schema and missing tables in one transaction under an advisory lock. */
async function migrate(pool: Pool, schema: string | undefined, now: number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await client.query('CREATE TABLE IF NOT EXISTS tapwire_inbox_schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
      const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM tapwire_inbox_schema_version');
      const current = rows[0]?.v ?? 0;
      const known = MIGRATIONS.at(-1)!.version;
      if (current > known) {
        throw new InboxError('schema_too_new', `The inbox tables are at version ${current}; this version of Tapwire knows up to ${known}: upgrade Tapwire`);
      }
      for (const migration of MIGRATIONS) {
        if (migration.version <= current) continue;
        await client.query(migration.sql);
        await client.query('INSERT INTO tapwire_inbox_schema_version (version, applied_at) VALUES ($1, $2)', [migration.version, now]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    client.release();
  }
}

/**
 * The URL with `-c search_path=SCHEMA` added to its `options` parameter (kept, when it has one): pg
 * lets the connection string's parameters override the config object's, so it has to go here.
 */
function withSearchPath(url: string, schema: string | undefined): string {
  if (schema === undefined) return url;
  const parsed = new URL(url);
  const options = parsed.searchParams.get('options');
  parsed.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=${schema}`);
  return parsed.toString();
}

/** `host:port/database` of a URL, for messages (never the user or password). */
function serverOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host || 'localhost'}${parsed.pathname}`;
  } catch {
    return 'the configured server';
  }
}

/** The driver's own words (the first of a Node AggregateError's, as a refused connection gives). */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  const message = error instanceof Error ? error.message : String(error);
  return message || ((error as { code?: string })?.code ?? 'unknown error');
}

function toInboxRow(r: EventRow): InboxRow {
  return {
    seq: r.seq,
    source: r.source,
    id: r.id,
    type: r.type,
    body: r.body,
    headers: r.headers,
    status: r.status,
    attempts: r.attempts,
    receivedAt: r.received_at,
    dueAt: r.due_at,
    leaseOwner: r.lease_owner,
    completedAt: r.completed_at,
    lastError: r.last_error,
  };
}
