// LISTEN/NOTIFY: how workers in every process sharing the database hear that deliveries were queued.
// Accepts announce after their commit (QueuedAnnouncer); each onDeliveriesQueued subscription keeps
// a connection of its own listening (DeliveriesListener), reconnecting with backoff until stopped.
import pg from 'pg';
import type { ClientConfig, Notification } from 'pg';

import { DELIVERIES_CHANNEL } from '../deliveries/sql.js';
import type { StoreLogger } from '../store.js';

/** Reconnect delays of the LISTEN connection: doubling from the first to the last, with jitter. */
const LISTENER_BACKOFF_MS = { first: 100, max: 10_000 } as const;

/**
 * Tells the workers of every process (LISTEN) that deliveries were queued, after the commit that
 * queued them, in a statement of its own, at most one at a time: accepts made meanwhile share the
 * next one. A commit that carries a NOTIFY takes a database-wide lock that serialises every such
 * commit, flush to disk included; sent with each accept, it kept PostgreSQL from committing
 * accepts in groups. It is only a wake-up: one lost (the connection failed) delays those
 * deliveries to the workers' next poll, and the worker in this process is woken directly.
 */
export class QueuedAnnouncer {
  private announcing = false;
  private again = false;

  /** `notify` sends one NOTIFY; `closed` tells when to stop. */
  constructor(
    private readonly notify: () => Promise<unknown>,
    private readonly closed: () => boolean,
  ) {}

  announce(): void {
    if (this.closed()) return;
    if (this.announcing) {
      this.again = true;
      return;
    }
    this.announcing = true;
    void Promise.resolve()
      .then(() => this.notify())
      .catch(() => undefined)
      .finally(() => {
        this.announcing = false;
        if (this.again) {
          this.again = false;
          this.announce();
        }
      });
  }
}

/** One `onDeliveriesQueued` subscription: a connection of its own that reconnects until stopped. */
export class DeliveriesListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  /** Connection attempts so far; every connect after the first reports once (see connect()). */
  private connectAttempts = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The schema this store's tables live in; notifications from other schemas are not for us. */
  private schema: string | null = null;

  constructor(
    private readonly config: ClientConfig,
    private readonly listener: () => void,
    private readonly logger: StoreLogger | undefined,
  ) {}

  /** Connect once; on failure keep retrying in the background (never throws). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.connectAttempts++;
    const client = new pg.Client(this.config);
    let lost = false;
    const onLost = (error?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger?.warn({ err: error }, 'postgres listen connection lost; reconnecting');
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (notification: Notification) => {
      if (notification.channel !== DELIVERIES_CHANNEL) return;
      if (this.schema !== null && notification.payload !== this.schema) return;
      this.notify();
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ schema: string | null }>('SELECT current_schema() AS schema');
      this.schema = rows[0]?.schema ?? null;
      await client.query(`LISTEN ${DELIVERIES_CHANNEL}`);
    } catch (error) {
      onLost(error as Error);
      return;
    }
    if (lost) return;
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    // Deliveries queued since the first attempt, while we were not listening, sent notifications
    // nobody heard.
    if (this.connectAttempts > 1) this.notify();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const base = Math.min(LISTENER_BACKOFF_MS.max, LISTENER_BACKOFF_MS.first * 2 ** this.failures);
    this.failures++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  /** Call the listener; its errors are its own and must not kill the connection or the process. */
  private notify(): void {
    try {
      this.listener();
    } catch (error) {
      this.logger?.warn({ err: error }, 'deliveries-queued listener threw');
    }
  }
}
