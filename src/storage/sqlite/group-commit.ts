// Group commit for SQLite's hot writes (accepting a message, recording an attempt): every call made in
// the same turn of the event loop joins one IMMEDIATE transaction, each in a savepoint of its own, so
// they share one fsync instead of paying one each; a call that fails rolls back only its own
// savepoint and rejects only its own promise. Each promise settles after the COMMIT, so "resolved"
// still means "on disk" (synchronous = FULL). Under load the batches grow by themselves: while one
// commit waits for the disk, the requests that arrive meanwhile form the next batch.
import type Database from 'better-sqlite3';

import type { Endpoint } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import type { ErrorContext } from '../shared/conflicts.js';
import { translateError } from './errors.js';

/** Most writes one group commit takes; the rest go in the next transaction of the same flush. */
const GROUP_COMMIT_MAX = 256;
/** Unsynced writes (attempt records) wait up to this long for others to share their commit… */
const UNSYNCED_GATHER_MS = 1;
/** …unless this many are already waiting. */
const UNSYNCED_GATHER_TARGET = 32;

interface GroupedWrite {
  work: () => unknown;
  context: ErrorContext;
  synced: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  private readonly waiting: GroupedWrite[] = [];
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | null = null;
  /**
   * Endpoints whose failure streak a success has cleared within the group commit running now (see
   * completeAttempt). Emptied whenever work may be rolled back, so it never outlives what it saw.
   */
  readonly healthyInCommit = new Set<string>();
  /**
   * What accepts handing deliveries off (see DeliveryHandoff) have read within the group commit
   * running now, by endpoint id: the room left under its lease budget, and its row. The accepts of one
   * commit then read each endpoint once, not once per message. Emptied with healthyInCommit.
   */
  readonly handoffInCommit = new Map<string, { room: number; endpoint: Endpoint | null }>();

  constructor(private readonly db: Database.Database) {}

  /**
   * Run `work` in the next group commit. `unsynced`: its commit need not wait for the disk (see
   * completeAttempt); one synced write in the batch makes the whole commit synced.
   */
  add<T>(work: () => T, context: ErrorContext, durability: 'synced' | 'unsynced'): Promise<T> {
    if (!this.db.open) return Promise.reject(new TapwireError('store_unavailable', { detail: 'The store is closed' }));
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ work, context, synced: durability === 'synced', resolve: resolve as (value: unknown) => void, reject });
      this.schedule(durability === 'synced' || this.waiting.length >= UNSYNCED_GATHER_TARGET);
    });
  }

  /** Commit (or fail) every write already handed over; for close(). */
  flushNow(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flush();
  }

  /**
   * Flush at the end of this turn of the event loop when `now` (a synced write waits: an API client
   * is waiting for its 202, or the batch is big enough), else within UNSYNCED_GATHER_MS. Attempt
   * records finish one HTTP response at a time; gathering them for a millisecond makes one commit of
   * what would be several, and a commit costs about as much as the rows it writes.
   */
  private schedule(now: boolean): void {
    if (this.flushScheduled) return;
    if (now) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    } else {
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = null;
        this.schedule(true);
      }, UNSYNCED_GATHER_MS);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, GROUP_COMMIT_MAX);
      if (!this.db.open) {
        for (const item of batch) item.reject(new TapwireError('store_unavailable', { detail: 'The store is closed' }));
        continue;
      }
      const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      const synced = batch.some((item) => item.synced);
      try {
        if (!synced) this.db.pragma('synchronous = NORMAL');
        this.db
          .transaction(() => {
            // Nearly always every item succeeds: run them all in one SAVEPOINT (a nested
            // better-sqlite3 transaction), saving two statements per item. Should one throw, that
            // savepoint is undone and the items run again, each in a savepoint of its own, so a throw
            // undoes only its own item.
            try {
              const values = this.db.transaction(() => batch.map((item) => item.work()))();
              for (const value of values) outcomes.push({ ok: true, value });
              return;
            } catch {
              // Rerun one by one below.
            }
            for (const item of batch) {
              this.healthyInCommit.clear();
              this.handoffInCommit.clear();
              try {
                outcomes.push({ ok: true, value: this.db.transaction(item.work)() });
              } catch (error) {
                outcomes.push({ ok: false, error });
              }
            }
          })
          .immediate();
      } catch (error) {
        // BEGIN or COMMIT failed (disk full, read-only file, locked): nothing of the batch is stored.
        for (const item of batch) item.reject(translateError(error, item.context));
        continue;
      } finally {
        this.healthyInCommit.clear();
        this.handoffInCommit.clear();
        if (!synced && this.db.open) this.db.pragma('synchronous = FULL');
      }
      batch.forEach((item, index) => {
        const outcome = outcomes[index]!;
        if (outcome.ok) item.resolve(outcome.value);
        else item.reject(translateError(outcome.error, item.context));
      });
    }
  }
}
