// Prometheus metrics for GET /metrics: what an operator needs to see whether webhooks flow. Counters
// are updated by the worker as attempts finish; queue depth is read from the store at scrape time, so
// it is the same figure whichever process is scraped. Each server has its own registry (tests run
// several servers in one process, and the global registry would mix them).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the store reports about the delivery queue. */
export interface QueueSnapshot {
  /** Deliveries waiting for an attempt (due now or later), excluding those in flight. */
  pending: number;
  /** Of those, how many are due now. */
  due: number;
  /** The due time of the oldest due delivery, or null when nothing is due. */
  oldestDueAt: Date | null;
}

/** How one attempt ended, as counted. */
export type AttemptOutcome = 'success' | 'retry' | 'fail' | 'canceled';

/** How one run of an endpoint transformation ended, as counted. */
export type TransformationRunOutcome = 'ok' | 'cancel' | 'error' | 'timeout' | 'memory' | 'invalid';
const TRANSFORMATION_RUN_OUTCOMES: readonly TransformationRunOutcome[] = ['ok', 'cancel', 'error', 'timeout', 'memory', 'invalid'];

/** Seconds buckets for transformation runs: a small handler takes well under a millisecond, the deadline is 100 ms by default. */
const TRANSFORMATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export interface TapwireMetricsOptions {
  /** Reads the queue at scrape time; omitted on API-only processes with no store access for it. */
  readQueue?: () => Promise<QueueSnapshot>;
  /** The current time, for the age of the oldest due delivery. */
  now: () => Date;
  /** Also export Node.js process metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean;
  /** The delivery worker's limits at scrape time; omitted where no worker runs. */
  readConcurrency?: () => ConcurrencySnapshot;
  /** How many `tapwire listen` sessions this process holds; omitted where no worker runs. */
  readListenSessions?: () => number;
  /** Reads, at scrape time, how many FIFO endpoints have a failed head waiting for its retry (docs/fifo.md). */
  readBlockedFifoEndpoints?: () => Promise<number>;
}

/** Each endpoint's current limit and each application's requests in flight, in this process's worker. */
export interface ConcurrencySnapshot {
  endpoints: Array<{ endpointId: string; limit: number }>;
  apps: Array<{ appId: string; inFlight: number }>;
}

let sharedProcessRegistry: Registry | null = null;
/**
 * Node.js process metrics (CPU, memory, event loop lag, GC), registered once per process: their
 * collectors install process-wide monitors, which one registry per server would multiply.
 */
function processRegistry(): Registry {
  if (!sharedProcessRegistry) {
    sharedProcessRegistry = new Registry();
    collectDefaultMetrics({ register: sharedProcessRegistry, prefix: 'tapwire_' });
  }
  return sharedProcessRegistry;
}

/** Seconds buckets for attempt latency: loopback receivers answer in milliseconds, bad ones time out. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];

/** The metrics of one Tapwire server. */
export class TapwireMetrics {
  readonly registry = new Registry();
  private readonly attempts: Counter<'outcome'>;
  private readonly latency: Histogram<'outcome'>;
  private readonly blocked: Counter;
  private readonly transformationRuns: Counter<'outcome'>;
  private readonly transformationDuration: Histogram;
  private readonly inFlightByEndpoint = new Map<string, number>();
  private readonly readQueue: (() => Promise<QueueSnapshot>) | undefined;
  private scrapeQueue: Promise<QueueSnapshot> | null = null;
  private readonly processMetrics: boolean;

  constructor(options: TapwireMetricsOptions) {
    const registers = [this.registry];
    this.attempts = new Counter({
      name: 'tapwire_delivery_attempts_total',
      help: 'Delivery attempts by outcome: success, retry (failed, another attempt scheduled), fail (no more attempts) or canceled (dropped unsent: endpoint disabled or deleted, payload gone)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['success', 'retry', 'fail', 'canceled'] as const) this.attempts.inc({ outcome }, 0);
    this.latency = new Histogram({
      name: 'tapwire_attempt_duration_seconds',
      help: 'Time from the start of an attempt to the end of the response (or the failure), in seconds',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.blocked = new Counter({
      name: 'tapwire_ssrf_blocked_total',
      help: 'Connections refused because the endpoint resolved to a non-public address',
      registers,
    });
    this.transformationRuns = new Counter({
      name: 'tapwire_transformation_runs_total',
      help: 'Runs of endpoint transformations by outcome: ok (a request to send), cancel, error (the code threw), timeout, memory (over its limit) or invalid (returned something unusable)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of TRANSFORMATION_RUN_OUTCOMES) this.transformationRuns.inc({ outcome }, 0);
    this.transformationDuration = new Histogram({
      name: 'tapwire_transformation_duration_seconds',
      help: 'Time an endpoint transformation took, from handing it to a sandbox thread to its result, in seconds',
      buckets: TRANSFORMATION_BUCKETS,
      registers,
    });
    const inFlight = this.inFlightByEndpoint;
    new Gauge({
      name: 'tapwire_endpoint_in_flight',
      help: 'Attempts in flight in this process, per endpoint',
      labelNames: ['endpoint_id'],
      registers,
      collect() {
        this.reset();
        for (const [endpointId, count] of inFlight) this.set({ endpoint_id: endpointId }, count);
      },
    });
    const { readConcurrency } = options;
    if (readConcurrency) {
      new Gauge({
        name: 'tapwire_endpoint_concurrency_limit',
        help: 'Requests an endpoint may have in flight now (its adaptive limit), per endpoint this process delivered to lately',
        labelNames: ['endpoint_id'],
        registers,
        collect() {
          this.reset();
          for (const { endpointId, limit } of readConcurrency().endpoints) this.set({ endpoint_id: endpointId }, limit);
        },
      });
      new Gauge({
        name: 'tapwire_app_in_flight',
        help: 'Attempts in flight in this process, per application',
        labelNames: ['app_id'],
        registers,
        collect() {
          this.reset();
          for (const { appId, inFlight } of readConcurrency().apps) this.set({ app_id: appId }, inFlight);
        },
      });
    }
    const { readListenSessions } = options;
    if (readListenSessions) {
      new Gauge({
        name: 'tapwire_listen_sessions',
        help: 'tapwire listen sessions whose WebSocket this process holds',
        registers,
        collect() {
          this.set(readListenSessions());
        },
      });
    }
    const { readBlockedFifoEndpoints } = options;
    if (readBlockedFifoEndpoints) {
      new Gauge({
        name: 'tapwire_fifo_blocked_endpoints',
        help: 'FIFO endpoints whose head delivery has failed at least once and is waiting for a retry, holding up the deliveries behind it',
        registers,
        async collect() {
          // As the queue gauges: NaN when the store cannot answer, never a failed scrape.
          this.set(await readBlockedFifoEndpoints().catch(() => Number.NaN));
        },
      });
    }
    const { readQueue, now } = options;
    if (readQueue) {
      // One store read per scrape feeds all three gauges: render() starts it, collect() awaits it.
      // When the store cannot answer, the queue gauges read NaN rather than failing the whole scrape.
      const unknown: QueueSnapshot = { pending: Number.NaN, due: Number.NaN, oldestDueAt: null };
      const read = (): Promise<QueueSnapshot> => (this.scrapeQueue ??= readQueue()).catch(() => unknown);
      this.readQueue = readQueue;
      new Gauge({
        name: 'tapwire_queue_depth',
        help: 'Deliveries waiting for an attempt (due now or scheduled for later)',
        registers,
        async collect() {
          this.set((await read()).pending);
        },
      });
      new Gauge({
        name: 'tapwire_queue_due',
        help: 'Deliveries due now and not yet being attempted',
        registers,
        async collect() {
          this.set((await read()).due);
        },
      });
      new Gauge({
        name: 'tapwire_queue_oldest_due_age_seconds',
        help: 'How long the oldest due delivery has been waiting past its due time, in seconds (0 when none)',
        registers,
        async collect() {
          const snapshot = await read();
          if (Number.isNaN(snapshot.pending)) this.set(Number.NaN);
          else this.set(snapshot.oldestDueAt === null ? 0 : Math.max(0, (now().getTime() - snapshot.oldestDueAt.getTime()) / 1000));
        },
      });
    }
    this.processMetrics = options.processMetrics ?? true;
  }

  /** A request to `endpointId` started. */
  attemptStarted(endpointId: string): void {
    this.inFlightByEndpoint.set(endpointId, (this.inFlightByEndpoint.get(endpointId) ?? 0) + 1);
  }

  /** The request to `endpointId` ended (answered, failed or timed out). */
  attemptEnded(endpointId: string): void {
    const left = (this.inFlightByEndpoint.get(endpointId) ?? 1) - 1;
    if (left <= 0) this.inFlightByEndpoint.delete(endpointId);
    else this.inFlightByEndpoint.set(endpointId, left);
  }

  /** An attempt was recorded with `outcome`; `durationMs` is its request time (0 when none was made). */
  attemptRecorded(outcome: AttemptOutcome, durationMs: number): void {
    this.attempts.inc({ outcome });
    this.latency.observe({ outcome }, durationMs / 1000);
  }

  /** An endpoint transformation ran (for a delivery, or simulated through the API). */
  transformationRan(outcome: TransformationRunOutcome, durationMs: number): void {
    this.transformationRuns.inc({ outcome });
    this.transformationDuration.observe(durationMs / 1000);
  }

  /** A connection was refused by the SSRF guard. */
  ssrfBlocked(): void {
    this.blocked.inc();
  }

  /** The Prometheus text exposition. */
  async render(): Promise<string> {
    this.scrapeQueue = this.readQueue ? this.readQueue() : null;
    this.scrapeQueue?.catch(() => undefined);
    try {
      const own = await this.registry.metrics();
      return this.processMetrics ? `${own}\n${await processRegistry().metrics()}` : own;
    } finally {
      this.scrapeQueue = null;
    }
  }

  /** The content type of {@link render}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
