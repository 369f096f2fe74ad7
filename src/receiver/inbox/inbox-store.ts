// The small interface between the inbox's runner and its two databases. Each method is one atomic
// step (a statement or one short transaction); the SQL lives in sqlite-inbox-store.ts and
// postgres-inbox-store.ts, and open-inbox-store.ts chooses between them.

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
