// The small interface between the inbox's runner and its two databases. Each method is one atomic
// step (a statement or one short transaction); the SQL lives in sqlite-inbox-store.ts and
// postgres-inbox-store.ts. Choosing the backend from the `database` string happens here, and the
// backend modules load their driver only when opened, so importing the receiver loads neither.
import { fileURLToPath } from 'node:url';

/** Where an event is in its life. See `InboxStatus` in inbox.ts for the meaning of each. */
export type InboxStatusName = 'pending' | 'running' | 'succeeded' | 'skipped' | 'dead';

/** Every status, in life order. */
export const INBOX_STATUSES: readonly InboxStatusName[] = Object.freeze(['pending', 'running', 'succeeded', 'skipped', 'dead']);

/** One row of `tapwire_inbox_events`, with times as epoch ms. */
export interface InboxRow {
  /** Insertion order; the row's handle inside the store. */
  seq: number;
  source: string;
  id: string;
  type: string | null;
  body: Buffer;
  /** JSON object text. */
  headers: string;
  status: InboxStatusName;
  /** Attempts started so far. */
  attempts: number;
  receivedAt: number;
  /** pending: when the next attempt may start; running: when the lease expires; otherwise null. */
  dueAt: number | null;
  /** The inbox instance holding the lease while running. */
  leaseOwner: string | null;
  completedAt: number | null;
  lastError: string | null;
}

/** A received event to store; it starts pending, due at `receivedAt`. */
export interface NewInboxRow {
  source: string;
  id: string;
  type: string | null;
  body: Buffer;
  headers: string;
  receivedAt: number;
}

/** What {@link InboxStore.claim} leases, for whom and for how long. */
export interface ClaimInput {
  now: number;
  /** Most rows to lease. */
  limit: number;
  leaseMs: number;
  owner: string;
  maxAttempts: number;
}

/** What one claim did. */
export interface ClaimResult {
  /** Rows now `running` under `owner`, `attempts` already counting this attempt, oldest due first. */
  claimed: InboxRow[];
  /**
   * Rows whose lease expired after their last allowed attempt, moved to `dead` by this call
   * (a handler that crashes its process every time must not be retried forever).
   */
  buried: number;
  /** The earliest due time after `now` of a pending row or another owner's lease, or null when none. */
  nextDueAt: number | null;
}

/** How an attempt ended, as recorded. */
export interface CompleteInput {
  seq: number;
  owner: string;
  /** The attempt number the lease was taken for: a stale completion matches no row. */
  attempt: number;
  status: 'succeeded' | 'skipped' | 'pending' | 'dead';
  now: number;
  /** For `pending`: when to try again. */
  dueAt: number | null;
  lastError: string | null;
}

/** One backend's statements. Implemented by SqliteInboxStore and PostgresInboxStore; not exported from the package. */
export interface InboxStore {
  readonly backend: 'sqlite' | 'postgres';
  /** Insert unless (source, id) exists. Resolves after commit: true when inserted, false for a duplicate. */
  insert(row: NewInboxRow): Promise<boolean>;
  /** Lease due rows (pending and due, or running with an expired lease) to `owner`. */
  claim(input: ClaimInput): Promise<ClaimResult>;
  /** Extend the lease of every row `owner` is running. Returns how many rows were extended. */
  renewLeases(input: { owner: string; leaseUntil: number }): Promise<number>;
  /** Record an attempt's outcome if `owner` still holds that attempt's lease. True when recorded. */
  complete(input: CompleteInput): Promise<boolean>;
  /** The row for (source, id); with no source, the latest received row with that id. */
  get(key: { source: string | undefined; id: string }): Promise<InboxRow | undefined>;
  /** Newest first. */
  list(query: { status: InboxStatusName | undefined; limit: number }): Promise<InboxRow[]>;
  /** A dead, skipped or succeeded row back to pending, due at `now`, attempts reset. True when moved. */
  replay(input: { seq: number; now: number }): Promise<boolean>;
  /** Every dead row back to pending. Returns how many. */
  replayAllDead(input: { now: number }): Promise<number>;
  /** Delete rows of the given statuses completed before `before`. Returns how many. */
  deleteCompleted(input: { statuses: InboxStatusName[]; before: number }): Promise<number>;
  /** How many rows are in each status. */
  countByStatus(): Promise<Record<InboxStatusName, number>>;
  close(): Promise<void>;
}

/** What `database` names, once parsed. */
export type InboxDatabase =
  | { backend: 'sqlite'; path: string }
  | { backend: 'postgres'; url: string; schema: string | undefined };

/** Schema names accepted for PostgreSQL: they are written into SQL and a startup option. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Reads the `database` option: a `postgres://` / `postgresql://` URL (optional `?schema=`), a
 * `sqlite:` or `file:` prefixed path (`file://` URLs too), or a plain file path.
 * @throws TypeError for another URL scheme, an unusable schema name, or two different schemas.
 */
export function parseInboxDatabase(database: string, schemaOption: string | undefined): InboxDatabase {
  if (typeof database !== 'string' || database.trim() === '') throw new TypeError('database must be a non-empty string');
  if (/^postgres(ql)?:\/\//i.test(database)) {
    let url: URL;
    try {
      url = new URL(database);
    } catch (cause) {
      throw new TypeError('database: the PostgreSQL URL cannot be parsed', { cause });
    }
    const fromUrl = url.searchParams.get('schema') ?? undefined;
    if (fromUrl !== undefined && schemaOption !== undefined && fromUrl !== schemaOption) {
      throw new TypeError(`database names schema '${fromUrl}' but the schema option says '${schemaOption}'`);
    }
    const schema = schemaOption ?? fromUrl;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new TypeError(`Invalid schema '${schema}': use lowercase letters, digits and '_' (at most 63, not starting with a digit)`);
    }
    url.searchParams.delete('schema');
    return { backend: 'postgres', url: url.toString(), schema };
  }
  if (schemaOption !== undefined) throw new TypeError('The schema option applies to PostgreSQL only');
  if (/^file:\/\//i.test(database)) return { backend: 'sqlite', path: fileURLToPath(database) };
  const prefixed = /^(sqlite|file):(.*)$/i.exec(database);
  if (prefixed) {
    if (prefixed[2] === '') throw new TypeError(`database '${database}' names no file`);
    return { backend: 'sqlite', path: prefixed[2]! };
  }
  // Anything else that looks like a URL is a mistake (mysql://…), not a file name with a colon.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(database)) {
    throw new TypeError(`database: unsupported URL scheme in '${database.replace(/\/\/[^@/]*@/, '//***@')}'; use a file path or postgres://`);
  }
  return { backend: 'sqlite', path: database };
}

/** Open (creating the tables if needed) the store `database` names. Loads that backend's driver only. */
export async function openInboxStore(database: InboxDatabase, options: { now: () => number; onPoolError: (error: Error) => void }): Promise<InboxStore> {
  if (database.backend === 'sqlite') {
    const { SqliteInboxStore } = await import('./sqlite-inbox-store.js');
    return SqliteInboxStore.open({ path: database.path, now: options.now });
  }
  const { PostgresInboxStore } = await import('./postgres-inbox-store.js');
  return PostgresInboxStore.open({ url: database.url, schema: database.schema, now: options.now, onPoolError: options.onPoolError });
}
