// The inbox on one SQLite file: nothing to run beside the app. better-sqlite3 is synchronous, so each
// method finishes its statement before it returns; BEGIN IMMEDIATE orders writers across processes
// sharing the file, which is what makes a claim safe when several processes run one inbox.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';

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
 * The schema, by version. Append-only: a change is a new entry, never an edit, and the same version
 * numbers as the PostgreSQL list. Times are INTEGER epoch ms.
 */
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE tapwire_inbox_events (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        source       TEXT NOT NULL,
        id           TEXT NOT NULL,
        type         TEXT,
        body         BLOB NOT NULL,
        headers      TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'skipped', 'dead')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        received_at  INTEGER NOT NULL,
        -- pending: when the next attempt may start; running: when the lease expires; else NULL.
        due_at       INTEGER,
        lease_owner  TEXT,
        completed_at INTEGER,
        last_error   TEXT,
        -- id first, so a lookup by id alone (any source) uses this index too.
        UNIQUE (id, source)
      );
      CREATE INDEX tapwire_inbox_events_due ON tapwire_inbox_events (due_at, seq) WHERE due_at IS NOT NULL;
      CREATE INDEX tapwire_inbox_events_status ON tapwire_inbox_events (status, seq);
      CREATE INDEX tapwire_inbox_events_completed ON tapwire_inbox_events (status, completed_at);`,
  },
];

const COLUMNS = 'seq, source, id, type, body, headers, status, attempts, received_at, due_at, lease_owner, completed_at, last_error';

const SQL = {
  insert: `
    INSERT INTO tapwire_inbox_events (source, id, type, body, headers, status, attempts, received_at, due_at)
    VALUES (@source, @id, @type, @body, @headers, 'pending', 0, @receivedAt, @receivedAt)
    ON CONFLICT (id, source) DO NOTHING`,
  // A lease that expired after the last allowed attempt means that attempt never reported back:
  // its process died (or hung) every time. Retrying forever could crash-loop the app.
  bury: `
    UPDATE tapwire_inbox_events
    SET status = 'dead', due_at = NULL, lease_owner = NULL, completed_at = @now,
        last_error = 'The lease of the last attempt expired without a result (the process stopped or the handler hung)'
    WHERE due_at <= @now AND status = 'running' AND attempts >= @maxAttempts`,
  // One statement inside an IMMEDIATE transaction: no other process can write between choosing the
  // rows and leasing them, so two processes never lease the same row.
  claim: `
    UPDATE tapwire_inbox_events
    SET status = 'running', attempts = attempts + 1, lease_owner = @owner, due_at = @leaseUntil
    WHERE seq IN (
      SELECT seq FROM tapwire_inbox_events
      WHERE due_at <= @now AND status IN ('pending', 'running') AND NOT (status = 'running' AND attempts >= @maxAttempts)
      ORDER BY due_at, seq
      LIMIT @limit)
    RETURNING ${COLUMNS}`,
  // Our own leases are left out: we renew them, so their expiry is no reason to wake.
  nextDueAt: `SELECT MIN(due_at) AS next FROM tapwire_inbox_events WHERE due_at > @now AND lease_owner IS NOT @owner`,
  renewLeases: `
    UPDATE tapwire_inbox_events SET due_at = @leaseUntil
    WHERE lease_owner = @owner AND status = 'running'`,
  complete: `
    UPDATE tapwire_inbox_events
    SET status = @status, due_at = @dueAt, lease_owner = NULL, completed_at = @completedAt, last_error = @lastError
    WHERE seq = @seq AND status = 'running' AND lease_owner = @owner AND attempts = @attempt`,
  getBySourceAndId: `SELECT ${COLUMNS} FROM tapwire_inbox_events WHERE id = @id AND source = @source`,
  getById: `SELECT ${COLUMNS} FROM tapwire_inbox_events WHERE id = @id ORDER BY seq DESC LIMIT 1`,
  list: `SELECT ${COLUMNS} FROM tapwire_inbox_events ORDER BY seq DESC LIMIT @limit`,
  listByStatus: `SELECT ${COLUMNS} FROM tapwire_inbox_events WHERE status = @status ORDER BY seq DESC LIMIT @limit`,
  replay: `
    UPDATE tapwire_inbox_events
    SET status = 'pending', attempts = 0, due_at = @now, lease_owner = NULL, completed_at = NULL, last_error = NULL
    WHERE seq = @seq AND status IN ('dead', 'skipped', 'succeeded')`,
  replayAllDead: `
    UPDATE tapwire_inbox_events
    SET status = 'pending', attempts = 0, due_at = @now, lease_owner = NULL, completed_at = NULL, last_error = NULL
    WHERE status = 'dead'`,
  deleteCompleted: `
    DELETE FROM tapwire_inbox_events
    WHERE status IN (SELECT value FROM json_each(@statuses)) AND completed_at < @before`,
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

/** The SQLite implementation of the inbox store. Open with {@link SqliteInboxStore.open}. */
export class SqliteInboxStore implements InboxStore {
  readonly backend = 'sqlite' as const;
  private readonly db: BetterSqlite3.Database;
  private readonly statements: { [K in keyof typeof SQL]: BetterSqlite3.Statement };

  private constructor(db: BetterSqlite3.Database) {
    this.db = db;
    this.statements = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as typeof this.statements;
  }

  /**
   * Open (creating the file and its directory if needed) in WAL mode with `synchronous = FULL`, and
   * create or upgrade the tables. `:memory:` works for tests but keeps nothing.
   * @throws InboxError `database_error` when the file cannot be opened, `schema_too_new` for newer tables.
   */
  static async open(options: { path: string; now: () => number }): Promise<SqliteInboxStore> {
    const { default: Database } = await import('better-sqlite3');
    const inMemory = options.path === ':memory:';
    const path = inMemory ? options.path : resolve(options.path);
    let db: BetterSqlite3.Database | undefined;
    try {
      if (!inMemory) mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      // FULL: a commit is fsynced before receive() resolves. The 2xx a sender gets is that promise;
      // NORMAL could lose the last commits on power loss.
      db.pragma('synchronous = FULL');
      // Other processes on the same file hold the write lock briefly; wait for them instead of failing.
      db.pragma('busy_timeout = 5000');
      migrate(db, options.now());
      return new SqliteInboxStore(db);
    } catch (error) {
      db?.close();
      if (error instanceof InboxError) throw error;
      throw new InboxError('database_error', `Cannot open the inbox database at '${path}': ${(error as Error).message}`, { cause: error });
    }
  }

  async insert(row: NewInboxRow): Promise<boolean> {
    return this.statements.insert.run(row).changes === 1;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const { now, limit, leaseMs, owner, maxAttempts } = input;
    return this.db
      .transaction((): ClaimResult => {
        const buried = this.statements.bury.run({ now, maxAttempts }).changes;
        const rows = limit > 0 ? (this.statements.claim.all({ now, limit, owner, maxAttempts, leaseUntil: now + leaseMs }) as EventRow[]) : [];
        const next = (this.statements.nextDueAt.get({ now, owner }) as { next: number | null }).next;
        // RETURNING gives no order guarantee; hand the batch out oldest due first.
        const claimed = rows.map(toInboxRow).sort((a, b) => a.seq - b.seq);
        return { claimed, buried, nextDueAt: next };
      })
      .immediate();
  }

  async renewLeases(input: { owner: string; leaseUntil: number }): Promise<number> {
    return this.statements.renewLeases.run(input).changes;
  }

  async complete(input: CompleteInput): Promise<boolean> {
    const terminal = input.status !== 'pending';
    return (
      this.statements.complete.run({
        seq: input.seq,
        owner: input.owner,
        attempt: input.attempt,
        status: input.status,
        dueAt: terminal ? null : input.dueAt,
        completedAt: terminal ? input.now : null,
        lastError: input.lastError,
      }).changes === 1
    );
  }

  async get(key: { source: string | undefined; id: string }): Promise<InboxRow | undefined> {
    const row = (key.source === undefined ? this.statements.getById.get({ id: key.id }) : this.statements.getBySourceAndId.get(key)) as
      | EventRow
      | undefined;
    return row && toInboxRow(row);
  }

  async list(query: { status: InboxStatusName | undefined; limit: number }): Promise<InboxRow[]> {
    const rows = (query.status === undefined ? this.statements.list.all({ limit: query.limit }) : this.statements.listByStatus.all(query)) as EventRow[];
    return rows.map(toInboxRow);
  }

  async replay(input: { seq: number; now: number }): Promise<boolean> {
    return this.statements.replay.run(input).changes === 1;
  }

  async replayAllDead(input: { now: number }): Promise<number> {
    return this.statements.replayAllDead.run(input).changes;
  }

  async deleteCompleted(input: { statuses: InboxStatusName[]; before: number }): Promise<number> {
    return this.statements.deleteCompleted.run({ statuses: JSON.stringify(input.statuses), before: input.before }).changes;
  }

  async countByStatus(): Promise<Record<InboxStatusName, number>> {
    const counts = Object.fromEntries(INBOX_STATUSES.map((status) => [status, 0])) as Record<InboxStatusName, number>;
    for (const row of this.statements.countByStatus.all() as { status: InboxStatusName; count: number }[]) counts[row.status] = row.count;
    return counts;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Creates missing tables in one IMMEDIATE transaction, so processes opening together apply each version once. */
function migrate(db: BetterSqlite3.Database, now: number): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS tapwire_inbox_schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const current = (db.prepare('SELECT MAX(version) AS v FROM tapwire_inbox_schema_version').get() as { v: number | null }).v ?? 0;
    const known = MIGRATIONS.at(-1)!.version;
    if (current > known) {
      throw new InboxError('schema_too_new', `The inbox tables are at version ${current}; this version of Tapwire knows up to ${known}: upgrade Tapwire`);
    }
    const record = db.prepare('INSERT INTO tapwire_inbox_schema_version (version, applied_at) VALUES (?, ?)');
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, now);
    }
  }).immediate();
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
