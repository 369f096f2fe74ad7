// The durable inbox: `receive()` commits a verified webhook to a database before the sender gets its
// 2xx, and a runner hands each stored event to your handler with retries, a dead-letter state and
// dedupe by the sender's event id. SQLite or PostgreSQL; several processes may share one database.
//
// Delivery to handlers is at least once. An event is recorded `succeeded` only after its handler
// resolved, in a separate commit; a process killed between the two runs the event again after its
// lease expires. Handlers should therefore be idempotent (most senders retry anyway).
import { createHash, randomUUID } from 'node:crypto';

import type { ReceiveResult, VerifiedWebhook, WebhookSink } from '../types.js';
import { resolveBackoff, retryDelayMs, type BackoffOptions, type ResolvedBackoff } from './backoff.js';
import { InboxError, isInboxError } from './inbox-error.js';
import {
  INBOX_STATUSES,
  type CompleteInput,
  type InboxRow,
  type InboxStatusName,
  type InboxStore,
} from './inbox-store.js';
import { openInboxStore, parseInboxDatabase } from './open-inbox-store.js';

export { DEFAULT_BACKOFF, retryDelayMs, type BackoffOptions } from './backoff.js';
export { InboxError, isInboxError, type InboxErrorCode } from './inbox-error.js';

/**
 * Where an event is in its life:
 * - `pending`: waiting for its first attempt or, after a failure, for its retry (`nextAttemptAt`);
 * - `running`: an inbox has leased it and its handler is running (`leaseExpiresAt`);
 * - `succeeded`: its handler resolved;
 * - `skipped`: no handler matched its type and there is no `'*'` handler; it counts as processed;
 * - `dead`: its handler failed `maxAttempts` times (or its process died during every attempt). It
 *   stays until {@link Inbox.replay}ed or purged with {@link Inbox.purgeDead}.
 *
 * Succeeded and skipped events are kept for `retentionMs`, so a redelivery of the same id is
 * recognised as a duplicate, then pruned.
 */
export type InboxStatus = InboxStatusName;

/** Epoch milliseconds. Injected so retry and retention tests move time instead of waiting. */
export interface InboxClock {
  now(): number;
}

/** A stored event as a handler sees it. */
export interface InboxEvent {
  /** The sender's event id, or `sha256:<hex>` of the body when the sender gave none. */
  readonly id: string;
  /** The scheme that verified it (`standard-webhooks`, `stripe`, a generic verifier's name…). */
  readonly source: string;
  /** The event type, when the scheme carries one. */
  readonly type: string | undefined;
  /** The body bytes exactly as received and verified. */
  readonly body: Buffer;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly receivedAt: Date;
  /** 1 on the first attempt, counting up with each retry (reset by a replay). */
  readonly attempt: number;
  /**
   * Aborted when `close()` stops waiting for this handler. A handler that honours it lets the
   * process exit sooner; the event then runs again later (its result was never recorded).
   */
  readonly signal: AbortSignal;
  /** The body parsed as JSON (parsed once). Throws SyntaxError when it is not JSON. */
  json<T = unknown>(): T;
  /** The body as UTF-8 text. */
  text(): string;
}

/**
 * Processes one event. Resolving (with anything) marks it succeeded; throwing or rejecting schedules
 * a retry. Runs at least once per event: see the file header.
 */
export type InboxHandler = (event: InboxEvent) => unknown;

/** Options of {@link createInbox}. Only `handlers` is required. */
export interface InboxOptions {
  /**
   * Where events are stored: a SQLite file path (also as `sqlite:<path>`, `file:<path>` or a
   * `file://` URL; its directory is created), or a `postgres://` / `postgresql://` URL. Default
   * `./webhook-inbox.db`. SQLite runs in WAL mode with `synchronous = FULL`: a `receive()` that
   * resolved survives a power cut. The tables (`tapwire_inbox_*`) are created on open.
   */
  database?: string;
  /**
   * PostgreSQL only: the schema for the tables, created if missing (also `?schema=` in the URL).
   * Lowercase letters, digits and `_`. Default: the connection's search_path (usually `public`).
   */
  schema?: string;
  /**
   * Handlers by event type; `'*'` handles every type without its own handler (and events without
   * a type). An event no handler matches is marked `skipped` rather than failed: an app usually
   * subscribes to more types than it acts on, and retrying those would only fill the dead letters.
   * Register `'*'` to see every event.
   *
   * Delivery to handlers is at least once: a process that dies after a handler resolved but before
   * the success was committed runs that event again once its lease expires. Make handlers
   * idempotent (key side effects by `event.id`).
   */
  handlers: Readonly<Record<string, InboxHandler>>;
  /** Attempts per event before it is dead. Default 10. */
  maxAttempts?: number;
  /** Delays between attempts. Default 1 s, doubling, at most 1 h, ±20 % jitter. */
  backoff?: BackoffOptions;
  /** Most handlers this inbox runs at once. Default 4. */
  concurrency?: number;
  /**
   * How long a leased event stays reserved to this process, in ms. The inbox renews the lease
   * every `leaseMs / 3` while the handler runs, so a handler may take longer; but when a process
   * dies (crash, SIGKILL, power loss), its events are taken over by another inbox on the same
   * database (or this one, restarted) once `leaseMs` has passed since the last renewal. Also how
   * long a stuck event loop may stall renewals before another process starts the same event.
   * Default 300,000 (5 min).
   */
  leaseMs?: number;
  /**
   * How often to look for events that other processes received or that became due, in ms. Events
   * this inbox receives itself start at once, and a retry due sooner is not made to wait. Default 1000.
   */
  pollIntervalMs?: number;
  /**
   * How long succeeded and skipped events are kept, in ms: a redelivery within this time is a
   * duplicate; after it, the same id is accepted as new. Default 604,800,000 (7 days).
   */
  retentionMs?: number;
  /** How often the running inbox prunes, in ms (also once at start). Default 3,600,000 (1 h). */
  pruneIntervalMs?: number;
  /** The clock for stored times (received, due, completed, leases). Default `Date.now`. */
  clock?: InboxClock;
  /** Random numbers in [0, 1) for retry jitter. Default `Math.random`. */
  random?: () => number;
  /** Start running handlers as soon as the inbox is open. Default true; false to only store (call `start()`). */
  autoStart?: boolean;
  /**
   * Told about every handler failure (with the event) and every database failure of the runner
   * (event undefined). Must not throw. Default: one `console.error` line each.
   */
  onError?: (error: unknown, event: InboxEvent | undefined) => void;
}

/** A stored event, for inspection. */
export interface InboxRecord {
  source: string;
  id: string;
  type: string | undefined;
  status: InboxStatus;
  /** Attempts started so far. */
  attempts: number;
  receivedAt: Date;
  /** When the next attempt may start (pending only). */
  nextAttemptAt: Date | undefined;
  /** When the running attempt's lease expires unless renewed (running only). */
  leaseExpiresAt: Date | undefined;
  /** When it succeeded, was skipped or died. */
  completedAt: Date | undefined;
  /** The last failure (pending after a failure, dead), or why it was skipped. */
  lastError: string | undefined;
  body: Buffer;
  headers: Readonly<Record<string, string>>;
}

/** An event's key: the source (scheme) and the id within it. */
export interface InboxKey {
  source: string;
  id: string;
}

/** How many events are in each status. */
export type InboxStats = Record<InboxStatus, number>;

/** A durable inbox. Create with {@link createInbox}. */
export interface Inbox extends WebhookSink {
  /** Which database it stores in. */
  readonly backend: 'sqlite' | 'postgres';
  /**
   * Store a verified webhook under (source = `webhook.scheme`, id = `webhook.id` or `sha256:` of
   * the body). Resolves only after the row is committed; answer the sender 2xx only then.
   * `duplicate` is true when that key is already stored, whatever its status: it is not stored or
   * processed again.
   * @throws InboxError `database_error` (answer 5xx so the sender retries), `inbox_closed`.
   */
  receive(webhook: VerifiedWebhook): Promise<ReceiveResult>;
  /**
   * Start running handlers (once at creation unless `autoStart: false`). Events whose lease
   * expired (a crashed process) are taken over at once. Idempotent.
   * @throws InboxError `inbox_closed` after `close()`.
   */
  start(): void;
  /**
   * Stop claiming and refuse new `receive()`s, wait for running handlers (up to `timeoutMs`,
   * default 10 s; then their signals are aborted and their events run again after the lease
   * expires), and close the database. Idempotent.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Resolves once this inbox has nothing due to claim and no handler running, looking afresh
   * when called (after you move an injected clock, say). Events leased by other processes and
   * retries due later do not count. For tests and scripts.
   * @throws InboxError `not_started`, `inbox_closed`; rejects with the error when the database fails.
   */
  whenIdle(): Promise<void>;
  /** The event with this id (the latest received, should several sources use it), or with this key. */
  get(idOrKey: string | InboxKey): Promise<InboxRecord | undefined>;
  /** The event (source, id). */
  get(source: string, id: string): Promise<InboxRecord | undefined>;
  /** Events, newest first, optionally of one status. `limit` default 100. */
  list(query?: { status?: InboxStatus; limit?: number }): Promise<InboxRecord[]>;
  /** Dead events, newest first. `limit` default 100. */
  deadLetters(query?: { limit?: number }): Promise<InboxRecord[]>;
  /**
   * Run an event again: a dead, skipped or succeeded event goes back to pending, due now, with
   * its attempts reset. False when there is no such event or it is pending or running.
   */
  replay(idOrKey: string | InboxKey): Promise<boolean>;
  /** Every dead event back to pending, due now. Returns how many. */
  replayAllDead(): Promise<number>;
  /** Delete succeeded and skipped events completed more than `retentionMs` ago. Returns how many. */
  prune(): Promise<number>;
  /** Delete dead events (those that died before `before`, when given). Returns how many. */
  purgeDead(options?: { before?: Date }): Promise<number>;
  /** Counts by status. */
  stats(): Promise<InboxStats>;
}

/** The defaults of {@link InboxOptions} (and of `close()`'s timeout). */
export const INBOX_DEFAULTS = Object.freeze({
  database: './webhook-inbox.db',
  maxAttempts: 10,
  concurrency: 4,
  leaseMs: 300_000,
  pollIntervalMs: 1_000,
  retentionMs: 7 * 24 * 3_600_000,
  pruneIntervalMs: 3_600_000,
  closeTimeoutMs: 10_000,
  listLimit: 100,
});

/** The runner never sleeps less than this between looks (unless the poll interval is shorter): no busy loop. */
const MIN_SLEEP_MS = 10;
/** Stored failure messages are cut to this many characters. */
const MAX_ERROR_CHARS = 2_000;

/**
 * Open (creating the tables if needed) an inbox and, unless `autoStart: false`, start running
 * handlers. Loads the database driver (better-sqlite3 or pg) only now, for the backend chosen.
 * Handlers run at least once per event (see the note on {@link InboxOptions.handlers}).
 * @throws TypeError for invalid options; InboxError `database_error` when the database cannot be
 * opened, `schema_too_new` when its tables are newer than this code.
 */
export async function createInbox(options: InboxOptions): Promise<Inbox> {
  const settings = resolveOptions(options);
  const store = await openInboxStore(settings.database, {
    now: () => settings.clock.now(),
    onPoolError: (error) => settings.report(new InboxError('database_error', `An idle database connection failed: ${error.message}`, { cause: error }), undefined),
  });
  const impl = new InboxImpl(store, settings);
  if (settings.autoStart) impl.start();
  return impl;
}

interface Settings {
  database: ReturnType<typeof parseInboxDatabase>;
  handlers: Map<string, InboxHandler>;
  maxAttempts: number;
  backoff: ResolvedBackoff;
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  retentionMs: number;
  pruneIntervalMs: number;
  clock: InboxClock;
  random: () => number;
  autoStart: boolean;
  report: (error: unknown, event: InboxEvent | undefined) => void;
}

/** One handler this inbox is running. */
interface RunningAttempt {
  /** The attempt number of our lease; updated if we re-lease the same row (see startAttempt). */
  attempt: number;
  controller: AbortController;
  done: Promise<void>;
}

type Phase = 'stopped' | 'started' | 'closing' | 'closed';

class InboxImpl implements Inbox {
  readonly backend: 'sqlite' | 'postgres';
  private readonly store: InboxStore;
  private readonly settings: Settings;
  /** This instance's name on its leases: a completion only lands while we still hold the lease. */
  private readonly owner = randomUUID();
  private readonly running = new Map<number, RunningAttempt>();
  private phase: Phase = 'stopped';
  private passing: Promise<void> | undefined;
  private passAgain = false;
  private sleepTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private idleWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private closing: Promise<void> | undefined;
  /** Store calls of the public methods in progress: close() lets them finish before closing the database. */
  private readonly calls = new Set<Promise<unknown>>();

  constructor(store: InboxStore, settings: Settings) {
    this.store = store;
    this.settings = settings;
    this.backend = store.backend;
  }

  async receive(webhook: VerifiedWebhook): Promise<ReceiveResult> {
    this.assertAccepting();
    if (typeof webhook?.scheme !== 'string' || webhook.scheme === '') throw new TypeError('receive() needs a VerifiedWebhook with a scheme');
    const body = Buffer.isBuffer(webhook.body) ? webhook.body : Buffer.from(webhook.body);
    const id = typeof webhook.id === 'string' && webhook.id !== '' ? webhook.id : `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const inserted = await this.call(() =>
      this.store.insert({
        source: webhook.scheme,
        id,
        type: webhook.type ?? null,
        body,
        headers: JSON.stringify(webhook.headers ?? {}),
        receivedAt: this.settings.clock.now(),
      }),
    );
    // Our own receives start at once; other processes' are found by the poll.
    if (inserted) this.wake();
    return { id, duplicate: !inserted };
  }

  start(): void {
    if (this.phase === 'closing' || this.phase === 'closed') throw new InboxError('inbox_closed', 'The inbox is closed');
    if (this.phase === 'started') return;
    this.phase = 'started';
    const { leaseMs, pruneIntervalMs } = this.settings;
    this.renewTimer = setInterval(() => this.renewLeases(), Math.max(1, Math.floor(leaseMs / 3))).unref();
    this.pruneTimer = setInterval(() => this.pruneInBackground(), pruneIntervalMs).unref();
    this.pruneInBackground();
    this.wake();
  }

  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutDown(options.timeoutMs ?? INBOX_DEFAULTS.closeTimeoutMs);
    return this.closing;
  }

  whenIdle(): Promise<void> {
    if (this.phase === 'stopped') return Promise.reject(new InboxError('not_started', 'whenIdle() on an inbox that was not started would wait forever'));
    if (this.phase !== 'started') return Promise.reject(new InboxError('inbox_closed', 'The inbox is closed'));
    return new Promise((resolve, reject) => {
      this.idleWaiters.push({ resolve, reject });
      this.wake();
    });
  }

  async get(idOrKeyOrSource: string | InboxKey, maybeId?: string): Promise<InboxRecord | undefined> {
    const key = toKey(idOrKeyOrSource, maybeId);
    return this.call(async () => {
      const row = await this.store.get(key);
      return row && toRecord(row);
    });
  }

  async list(query: { status?: InboxStatus; limit?: number } = {}): Promise<InboxRecord[]> {
    const limit = query.limit ?? INBOX_DEFAULTS.listLimit;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`limit must be a positive integer, got ${String(query.limit)}`);
    if (query.status !== undefined && !INBOX_STATUSES.includes(query.status)) {
      throw new TypeError(`status must be one of ${INBOX_STATUSES.join(', ')}, got ${String(query.status)}`);
    }
    return this.call(async () => (await this.store.list({ status: query.status, limit })).map(toRecord));
  }

  deadLetters(query: { limit?: number } = {}): Promise<InboxRecord[]> {
    return this.list({ status: 'dead', limit: query.limit });
  }

  async replay(idOrKey: string | InboxKey): Promise<boolean> {
    const key = toKey(idOrKey, undefined);
    return this.call(async () => {
      const row = await this.store.get(key);
      if (!row) return false;
      const moved = await this.store.replay({ seq: row.seq, now: this.settings.clock.now() });
      if (moved) this.wake();
      return moved;
    });
  }

  replayAllDead(): Promise<number> {
    return this.call(async () => {
      const count = await this.store.replayAllDead({ now: this.settings.clock.now() });
      if (count > 0) this.wake();
      return count;
    });
  }

  prune(): Promise<number> {
    return this.call(() =>
      this.store.deleteCompleted({ statuses: ['succeeded', 'skipped'], before: this.settings.clock.now() - this.settings.retentionMs }),
    );
  }

  async purgeDead(options: { before?: Date } = {}): Promise<number> {
    const before = options.before === undefined ? Number.MAX_SAFE_INTEGER : options.before.getTime();
    if (!Number.isFinite(before)) throw new TypeError('purgeDead: before must be a valid Date');
    return this.call(() => this.store.deleteCompleted({ statuses: ['dead'], before }));
  }

  stats(): Promise<InboxStats> {
    return this.call(() => this.store.countByStatus());
  }

  // The runner --------------------------------------------------------------------------------------
  // One claim pass at a time. A pass leases as many due events as there are free slots and starts
  // their handlers without awaiting them; then it sleeps until the next known due time or the poll
  // interval, whichever is sooner. A receive, a replay or a handler finishing wakes it early.

  /** Run a claim pass now (or right after the one in progress). */
  private wake(): void {
    if (this.phase !== 'started') return;
    if (this.passing) {
      this.passAgain = true;
      return;
    }
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
    this.passing = this.pass().finally(() => {
      this.passing = undefined;
      if (this.passAgain) {
        this.passAgain = false;
        this.wake();
      }
    });
  }

  private async pass(): Promise<void> {
    const free = this.settings.concurrency - this.running.size;
    // All slots busy: a finishing handler wakes us, no timer needed.
    if (free <= 0) return;
    const { clock, leaseMs, maxAttempts, pollIntervalMs } = this.settings;
    let sleepMs = pollIntervalMs;
    let claimed: InboxRow[];
    try {
      const now = clock.now();
      const result = await this.store.claim({ now, limit: free, leaseMs, owner: this.owner, maxAttempts });
      claimed = result.claimed;
      if (result.nextDueAt !== null) sleepMs = Math.max(Math.min(result.nextDueAt - now, pollIntervalMs), Math.min(MIN_SLEEP_MS, pollIntervalMs));
    } catch (error) {
      const wrapped = toDatabaseError(error, 'Claiming due events failed');
      this.settings.report(wrapped, undefined);
      for (const waiter of this.idleWaiters.splice(0)) waiter.reject(wrapped);
      claimed = [];
    }
    for (const row of claimed) this.startAttempt(row);
    if (this.phase === 'started' && !this.passAgain) {
      this.sleepTimer = setTimeout(() => {
        this.sleepTimer = undefined;
        this.wake();
      }, sleepMs).unref();
    }
    if (claimed.length === 0 && this.running.size === 0 && !this.passAgain) {
      for (const waiter of this.idleWaiters.splice(0)) waiter.resolve();
    }
  }

  private startAttempt(row: InboxRow): void {
    const existing = this.running.get(row.seq);
    if (existing) {
      // We re-leased a row our own handler is still running: our renewals fell behind the clock
      // (a blocked event loop). Keep the one handler and let its result count for the new lease.
      existing.attempt = row.attempts;
      return;
    }
    const entry: RunningAttempt = { attempt: row.attempts, controller: new AbortController(), done: Promise.resolve() };
    this.running.set(row.seq, entry);
    entry.done = this.runAttempt(row, entry).finally(() => {
      // Only now, after the outcome is committed: an idle inbox has no result left unwritten.
      this.running.delete(row.seq);
      this.wake();
    });
  }

  private async runAttempt(row: InboxRow, entry: RunningAttempt): Promise<void> {
    const { clock, maxAttempts, backoff, random, report } = this.settings;
    const event = toEvent(row, entry.controller.signal);
    const handler = this.handlerFor(row.type);
    let outcome: Pick<CompleteInput, 'status' | 'dueAt' | 'lastError'>;
    if (handler === undefined) {
      outcome = { status: 'skipped', dueAt: null, lastError: `No handler for type ${row.type === null ? '(none)' : JSON.stringify(row.type)} and no '*' handler` };
    } else {
      try {
        await handler(event);
        outcome = { status: 'succeeded', dueAt: null, lastError: null };
      } catch (error) {
        report(error, event);
        const attempt = entry.attempt;
        outcome =
          attempt >= maxAttempts
            ? { status: 'dead', dueAt: null, lastError: errorText(error) }
            : { status: 'pending', dueAt: clock.now() + retryDelayMs(attempt, backoff, random), lastError: errorText(error) };
      }
    }
    if (this.phase === 'closed') {
      report(new InboxError('inbox_closed', 'The inbox closed before this handler finished; the event runs again once its lease expires'), event);
      return;
    }
    try {
      const recorded = await this.store.complete({ seq: row.seq, owner: this.owner, attempt: entry.attempt, now: clock.now(), ...outcome });
      if (!recorded) {
        report(new InboxError('lease_lost', 'The lease expired and another process took the event over; this result was discarded'), event);
      }
    } catch (error) {
      report(toDatabaseError(error, 'Recording the result failed; the event runs again once its lease expires'), event);
    }
  }

  private handlerFor(type: string | null): InboxHandler | undefined {
    return (type === null ? undefined : this.settings.handlers.get(type)) ?? this.settings.handlers.get('*');
  }

  private renewLeases(): void {
    if (this.running.size === 0 || this.phase === 'closed') return;
    const { clock, leaseMs, report } = this.settings;
    this.store
      .renewLeases({ owner: this.owner, leaseUntil: clock.now() + leaseMs })
      .catch((error: unknown) => report(toDatabaseError(error, 'Renewing leases failed'), undefined));
  }

  private pruneInBackground(): void {
    this.prune().catch((error: unknown) => this.settings.report(error, undefined));
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    this.phase = 'closing';
    clearTimeout(this.sleepTimer);
    clearInterval(this.pruneTimer);
    await this.passing;
    const handlers = Promise.allSettled([...this.running.values()].map((entry) => entry.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      handlers.then(() => false),
      // Not unref'd: the caller asked to close and awaits it; the process should not exit mid-close.
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) for (const entry of this.running.values()) entry.controller.abort(new InboxError('inbox_closed', 'The inbox is closing'));
    clearInterval(this.renewTimer);
    // A receive() or prune that got in before close() still finishes on an open database.
    while (this.calls.size > 0) await Promise.allSettled([...this.calls]);
    this.phase = 'closed';
    for (const waiter of this.idleWaiters.splice(0)) waiter.resolve();
    await this.store.close();
  }

  private assertAccepting(): void {
    if (this.phase === 'closing' || this.phase === 'closed') throw new InboxError('inbox_closed', 'The inbox is closed');
  }

  /** A store call from a public method, its failures as InboxError. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    if (this.phase === 'closed') throw new InboxError('inbox_closed', 'The inbox is closed');
    const running = work();
    this.calls.add(running);
    try {
      return await running;
    } catch (error) {
      throw toDatabaseError(error, 'The inbox database failed');
    } finally {
      this.calls.delete(running);
    }
  }
}

function resolveOptions(options: InboxOptions): Settings {
  if (options === null || typeof options !== 'object') throw new TypeError('createInbox needs an options object');
  const handlers = new Map<string, InboxHandler>();
  if (options.handlers === null || typeof options.handlers !== 'object') throw new TypeError('handlers must be an object of functions by event type');
  // Own properties only: an event type such as "constructor" must not find Object.prototype's.
  for (const [type, handler] of Object.entries(options.handlers)) {
    if (typeof handler !== 'function') throw new TypeError(`handlers[${JSON.stringify(type)}] must be a function`);
    handlers.set(type, handler);
  }
  const onError = options.onError ?? defaultOnError;
  if (typeof onError !== 'function') throw new TypeError('onError must be a function');
  const clock = options.clock ?? { now: () => Date.now() };
  if (typeof clock?.now !== 'function') throw new TypeError('clock must have a now() returning epoch ms');
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new TypeError('random must be a function returning [0, 1)');
  const database = parseInboxDatabase(options.database ?? INBOX_DEFAULTS.database, options.schema);
  return {
    database,
    handlers,
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts, INBOX_DEFAULTS.maxAttempts),
    backoff: resolveBackoff(options.backoff),
    concurrency: positiveInteger('concurrency', options.concurrency, INBOX_DEFAULTS.concurrency),
    leaseMs: positiveInteger('leaseMs', options.leaseMs, INBOX_DEFAULTS.leaseMs),
    pollIntervalMs: positiveInteger('pollIntervalMs', options.pollIntervalMs, INBOX_DEFAULTS.pollIntervalMs),
    retentionMs: nonNegativeInteger('retentionMs', options.retentionMs, INBOX_DEFAULTS.retentionMs),
    pruneIntervalMs: positiveInteger('pruneIntervalMs', options.pruneIntervalMs, INBOX_DEFAULTS.pruneIntervalMs),
    clock,
    random,
    autoStart: options.autoStart ?? true,
    // A throwing onError must not break the runner.
    report: (error, event) => {
      try {
        onError(error, event);
      } catch {
        // Nothing sensible left to tell.
      }
    },
  };
}

function defaultOnError(error: unknown, event: InboxEvent | undefined): void {
  const where = event ? ` (${event.source} ${event.id}, attempt ${event.attempt})` : '';
  console.error(`tapwire inbox${where}:`, error);
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 1) throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  return resolved;
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 0) throw new TypeError(`${name} must be an integer ≥ 0, got ${String(value)}`);
  return resolved;
}

function toKey(idOrKeyOrSource: string | InboxKey, maybeId: string | undefined): { source: string | undefined; id: string } {
  if (typeof idOrKeyOrSource === 'string') {
    return maybeId === undefined ? { source: undefined, id: idOrKeyOrSource } : { source: idOrKeyOrSource, id: maybeId };
  }
  if (typeof idOrKeyOrSource?.source !== 'string' || typeof idOrKeyOrSource.id !== 'string') {
    throw new TypeError('Expected an id, or { source, id }');
  }
  return { source: idOrKeyOrSource.source, id: idOrKeyOrSource.id };
}

function toDatabaseError(error: unknown, what: string): InboxError {
  if (isInboxError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InboxError('database_error', `${what}: ${message}`, { cause: error });
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}

function toEvent(row: InboxRow, signal: AbortSignal): InboxEvent {
  let parsed: { value: unknown } | undefined;
  return {
    id: row.id,
    source: row.source,
    type: row.type ?? undefined,
    body: row.body,
    headers: JSON.parse(row.headers) as Record<string, string>,
    receivedAt: new Date(row.receivedAt),
    attempt: row.attempts,
    signal,
    text: () => row.body.toString('utf8'),
    json<T = unknown>(): T {
      parsed ??= { value: JSON.parse(row.body.toString('utf8')) as unknown };
      return parsed.value as T;
    },
  };
}

function toRecord(row: InboxRow): InboxRecord {
  return {
    source: row.source,
    id: row.id,
    type: row.type ?? undefined,
    status: row.status,
    attempts: row.attempts,
    receivedAt: new Date(row.receivedAt),
    nextAttemptAt: row.status === 'pending' && row.dueAt !== null ? new Date(row.dueAt) : undefined,
    leaseExpiresAt: row.status === 'running' && row.dueAt !== null ? new Date(row.dueAt) : undefined,
    completedAt: row.completedAt === null ? undefined : new Date(row.completedAt),
    lastError: row.lastError ?? undefined,
    body: row.body,
    headers: JSON.parse(row.headers) as Record<string, string>,
  };
}
