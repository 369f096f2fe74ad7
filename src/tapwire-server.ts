// A whole Tapwire server in one object: store, API, delivery worker and periodic maintenance,
// with start() and a graceful close() that finishes in-flight attempts. The CLI and the tests
// both build servers through this, so what is tested is what runs.
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApiServer } from './api/server.js';
import type { TapwireConfig } from './config/config.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from './delivery/delivery-worker.js';
import { TransformationPool } from './delivery/transformation-pool.js';
import { Transformations } from './delivery/transformations.js';
import { ListenHub } from './delivery/listen-hub.js';
import { AddressPolicy } from './delivery/ssrf-guard.js';
import { setUpOperationalWebhooks } from './operational/set-up-operational-webhooks.js';
import { ensureAdminToken } from './services/auth.js';
import { BackgroundTaskRunner, type BackgroundTaskRunnerOptions } from './services/background-tasks.js';
import { systemClock, type Clock, type ServiceContext } from './services/context.js';
import { TapwireMetrics } from './metrics/metrics.js';
import { resealEndpointSecrets } from './services/endpoints.js';
import { LookupCache } from './services/lookup-cache.js';
import { openStore, resolveEncryptionKeys } from './storage/open-store.js';
import type { Store } from './storage/store.js';

export interface TapwireServerOptions {
  config: TapwireConfig;
  /** Defaults to a pino JSON logger at config.logLevel on stdout. */
  logger?: Logger;
  clock?: Clock;
  /** Random source for retry jitter. */
  random?: () => number;
  /** Use this store instead of opening config.databaseUrl (the server then does not close it). */
  store?: Store;
  /** Longest worker sleep when idle; default 1 s. */
  workerMaxIdleMs?: number;
  /** How often payload expiry and idempotency cleanup run; default 60 s. */
  maintenanceIntervalMs?: number;
  /** Batch size and lease of background tasks (replay-missing); see BackgroundTaskRunnerOptions. */
  backgroundTasks?: BackgroundTaskRunnerOptions;
  /** The resolver the worker's SSRF guard wraps (default `dns.lookup`); tests inject fixed answers. */
  lookup?: DeliveryWorkerOptions['lookup'];
  /** Called once per attempt the SSRF guard refused (see DeliveryWorkerOptions.onBlocked). */
  onBlocked?: DeliveryWorkerOptions['onBlocked'];
}

/** Rows one cleanup transaction may touch, so cleanup never holds the database for long. */
const MAINTENANCE_BATCH = 500;
/** Batches of each kind per maintenance round. */
const MAINTENANCE_MAX_BATCHES = 20;

/** Run `step` until it does less than a full batch or the round's budget is spent; total rows. */
async function drainInBatches(step: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAINTENANCE_MAX_BATCHES; i++) {
    const done = await step(MAINTENANCE_BATCH);
    total += done;
    if (done < MAINTENANCE_BATCH) break;
    // Let deliveries and API requests in between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return total;
}

export class TapwireServer {
  readonly config: TapwireConfig;
  readonly logger: Logger;
  readonly store: Store;
  readonly context: ServiceContext;
  readonly api: FastifyInstance | null;
  readonly worker: DeliveryWorker | null;
  /** The `tapwire listen` sessions this process holds (null without a worker). */
  readonly listen: ListenHub | null;
  /** Runs background tasks (replay-missing), and resumes the ones stopped processes left running. */
  readonly backgroundTasks: BackgroundTaskRunner;
  /** Set when this start created the admin token: print it once. */
  readonly generatedAdminToken: string | null;
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private stopListening: (() => Promise<void>) | null = null;
  private readonly ownsStore: boolean;
  private closing: Promise<void> | null = null;

  private constructor(init: {
    config: TapwireConfig;
    logger: Logger;
    store: Store;
    context: ServiceContext;
    api: FastifyInstance | null;
    worker: DeliveryWorker | null;
    listen: ListenHub | null;
    backgroundTasks: BackgroundTaskRunner;
    generatedAdminToken: string | null;
    ownsStore: boolean;
  }) {
    this.config = init.config;
    this.logger = init.logger;
    this.store = init.store;
    this.context = init.context;
    this.api = init.api;
    this.worker = init.worker;
    this.listen = init.listen;
    this.backgroundTasks = init.backgroundTasks;
    this.generatedAdminToken = init.generatedAdminToken;
    this.ownsStore = init.ownsStore;
  }

  /** Open the store, run migrations, make sure an admin token exists, build API and worker. */
  static async create(options: TapwireServerOptions): Promise<TapwireServer> {
    const { config } = options;
    const logger =
      options.logger ??
      pino(
        {
          level: config.logLevel,
          base: { service: 'tapwire' },
          redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', 'secret'], censor: '[redacted]' },
        },
        // Asynchronous writes to stdout: a line goes out at once, but the write itself runs on
        // libuv's pool, and lines logged while one is in flight go out together, so a busy server
        // does not stop for a write(2) per attempt. Whatever is pending is flushed when the process
        // exits (pino flushes on exit); only a SIGKILL can lose the last lines.
        pino.destination({ dest: 1, sync: false }),
      );
    const storeLogger = logger.child({ component: 'store' });
    const encryptionKeys = options.store ? null : await resolveEncryptionKeys(config.databaseUrl, config.encryptionKeys, storeLogger);
    const store = options.store ?? (await openStore(config.databaseUrl, {
        poolSize: config.databasePoolSize,
        thread: config.sqliteThread,
        logger: storeLogger,
        encryptionKeys,
      }));
    try {
      const { applied } = await store.migrate();
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
      const clock = options.clock ?? systemClock;
      let worker: DeliveryWorker | null = null;
      let listen: ListenHub | null = null;
      const context: ServiceContext = {
        store,
        config,
        clock,
        logger,
        policy: new AddressPolicy(config.allowedNetworks),
        notifyDeliveriesQueued: () => worker?.wake(),
        lookups: new LookupCache(config.lookupCacheTtlMs),
      };
      // Queue gauges come from the store, so any API process reports the whole queue; attempt
      // counters and in-flight gauges are this process's own worker's.
      const metrics = new TapwireMetrics({
        now: () => clock.now(),
        readQueue: () => store.queueSnapshot(clock.now()),
        readBlockedFifoEndpoints: () => store.countBlockedFifoEndpoints(),
        ...(config.role !== 'api'
          ? { readConcurrency: () => worker?.concurrencySnapshot() ?? { endpoints: [], apps: [] }, readListenSessions: () => listen?.size ?? 0 }
          : {}),
      });
      // One sandbox pool per process, for the worker's deliveries and the simulate API; its threads
      // start on the first transformation, so a server whose endpoints have none never starts one.
      context.transformations = new Transformations(
        new TransformationPool({ threads: config.transformationThreads, timeoutMs: config.transformationTimeoutMs, memoryLimitBytes: config.transformationMemoryLimitBytes }),
        metrics,
      );
      // Before the API and the worker exist: both raise operational events through it.
      context.operational = await setUpOperationalWebhooks(context);
      if (config.role !== 'api') {
        // `tapwire listen` sessions live where a worker can push to them.
        listen = new ListenHub({ store, clock, logger, sessionTimeoutMs: config.listenSessionTimeoutMs, maxResponseBytes: config.maxResponseBytes });
        worker = new DeliveryWorker({
          listen,
          store,
          config,
          logger,
          clock,
          operational: context.operational,
          transformations: context.transformations,
          ...(options.random ? { random: options.random } : {}),
          ...(options.workerMaxIdleMs !== undefined ? { maxIdleMs: options.workerMaxIdleMs } : {}),
          ...(options.lookup ? { lookup: options.lookup } : {}),
          metrics,
          onBlocked: (event) => {
            metrics.ssrfBlocked();
            options.onBlocked?.(event);
          },
        });
        const running = worker;
        context.deliveryConcurrency = (endpointId) => running.endpointConcurrency(endpointId);
        context.deliveryHandoff = () => running.handoff();
        context.adoptDeliveries = (jobs) => running.adopt(jobs);
      }
      const backgroundTasks = new BackgroundTaskRunner(context, options.backgroundTasks);
      const generatedAdminToken = await ensureAdminToken(context);
      const api =
        config.role !== 'worker'
          ? await buildApiServer(context, {
              workerStatus: () => (worker ? { running: true, activeAttempts: worker.activeAttempts } : null),
              backgroundTasks,
              metrics,
              listen,
            })
          : null;
      const server = new TapwireServer({ config, logger, store, context, api, worker, listen, backgroundTasks, generatedAdminToken, ownsStore: !options.store });
      server.maintenanceInterval = options.maintenanceIntervalMs ?? 60_000;
      server.sealsSecrets = encryptionKeys !== null;
      return server;
    } catch (error) {
      if (!options.store) await store.close().catch(() => undefined);
      throw error;
    }
  }

  private maintenanceInterval = 60_000;
  /** This server seals endpoint secrets at rest (it has a key), so start() seals what an older version stored in clear. */
  private sealsSecrets = false;
  /** The pass of start() that seals stored secrets; close() waits for its batch to end. */
  private resealing: Promise<void> | null = null;
  private stopped = false;

  /** Start the worker and listen on config.host:config.port (port 0 picks a free one). Returns the URL. */
  async start(): Promise<string | null> {
    if (this.worker) {
      const worker = this.worker;
      // Deliveries queued by other processes (API-only nodes) wake this worker at once.
      this.stopListening = await this.store.onDeliveriesQueued(() => worker.wake());
      worker.start();
    }
    this.maintenanceTimer = setInterval(() => void this.runMaintenance(), this.maintenanceInterval);
    this.maintenanceTimer.unref();
    // Tasks a stopped process left running (this one before a restart included) go on at once.
    await this.backgroundTasks.resumeUnfinished();
    if (this.sealsSecrets) this.resealing = this.resealStoredSecrets();
    if (!this.api) return null;
    const address = await this.api.listen({ host: this.config.host, port: this.config.port });
    // With port 0 the public URL derived from the config (http://HOST:0) names no real port.
    if (this.config.port === 0 && this.config.publicUrl.endsWith(':0')) this.config.publicUrl = address;
    this.logger.info({ address, role: this.config.role, store: this.store.kind }, 'tapwire listening');
    return address;
  }

  /**
   * One round of cleanup: expired payloads, old attempts and idempotency entries. Each kind is
   * deleted in batches of MAINTENANCE_BATCH rows (one short transaction each) up to
   * MAINTENANCE_MAX_BATCHES per round, so cleanup never holds the database long enough to stall
   * deliveries; a larger backlog is worked off over the following rounds.
   */
  async runMaintenance(): Promise<{ expiredPayloads: number; prunedAttempts: number; prunedIdempotencyKeys: number }> {
    const totals = { expiredPayloads: 0, prunedAttempts: 0, prunedIdempotencyKeys: 0 };
    try {
      const now = this.context.clock.now();
      const retention = this.config.attemptRetentionMs;
      const attemptCutoff = retention === null ? null : new Date(now.getTime() - retention);
      totals.expiredPayloads = await drainInBatches((n) => this.store.expireMessagePayloads(now, n));
      if (attemptCutoff) totals.prunedAttempts = await drainInBatches((n) => this.store.pruneAttempts(attemptCutoff, n));
      totals.prunedIdempotencyKeys = await drainInBatches((n) => this.store.pruneIdempotency(now, n));
      // A task whose process stopped mid-way is taken over once its lease has expired.
      await this.backgroundTasks.resumeUnfinished();
      if (totals.expiredPayloads + totals.prunedAttempts + totals.prunedIdempotencyKeys > 0) {
        this.logger.info(totals, 'maintenance round');
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'maintenance round failed; will retry');
    }
    return totals;
  }

  /**
   * Seal, in the background and in batches, endpoint secrets and header values stored in clear (by a
   * version before sealing, or with TAPWIRE_ENCRYPTION_KEY=none) or under a key no longer first in the
   * ring: the upgrade's migration of existing rows. Each batch is one transaction holding its rows, so
   * it never undoes a change made meanwhile, and every process may run it at once.
   */
  private async resealStoredSecrets(): Promise<void> {
    try {
      const resealed = await resealEndpointSecrets(this.store, () => this.stopped);
      if (resealed > 0) this.logger.info({ resealed }, 'stored endpoint secrets sealed under the current key');
    } catch (error) {
      this.logger.warn({ err: error }, 'sealing stored endpoint secrets failed; the next start, or tapwire key rotate, tries again');
    }
  }

  /**
   * Graceful stop: refuse new requests, finish in-flight requests and attempts (recording their
   * outcome), then close the store. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopped = true;
      if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
      await this.resealing;
      await this.stopListening?.();
      // Every CLI is told the server is going (it reconnects); their unreported pushes wait, unrecorded.
      await this.listen?.close();
      await this.api?.close();
      // No request can start a task now; each running one ends its batch and gives its lease up.
      await this.backgroundTasks.close();
      await this.worker?.close();
      await this.context.transformations?.close();
      if (this.ownsStore) await this.store.close();
    })();
    return this.closing;
  }
}
