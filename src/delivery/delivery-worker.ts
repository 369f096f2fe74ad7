// The delivery worker: leases due deliveries from the Store, makes one signed HTTP attempt for
// each, and writes the attempt and the delivery's next state in one transaction. Nothing lives
// only in memory: a worker that dies leaves leases that expire and are claimed again.
import type { Logger } from 'pino';
import type { lookup as dnsLookup } from 'node:dns';
import type { Dispatcher } from 'undici';
import type { TapwireConfig } from '../config/config.js';
import { newId } from '../domain/ids.js';
import { nextRetryDelayMs } from '../domain/retry-policy.js';
import type { Attempt, Endpoint, Message } from '../domain/types.js';
import type { Clock } from '../services/context.js';
import type { AttemptOutcome } from '../metrics/metrics.js';
import { buildSignatureHeaders, signPayload } from '../signing/standard-webhooks.js';
import { FAILING_AFTER_ATTEMPTS, type AttemptEventType, type OperationalEvents } from '../operational/operational-events.js';
import type { ClaimDeliveriesInput, CompleteAttemptResult, DeliveryHandoff, DeliveryJob, DeliveryOutcome, HeldLease, Store } from '../storage/store.js';
import type { LimitSignal } from './adaptive-limit.js';
import { INITIAL_LIMIT } from './adaptive-limit.js';
import { DeliveryLanes, leaseBudgetFor, type EndpointConcurrency, type HeldJob } from './delivery-lanes.js';
import { createDeliveryAgent, sendWebhook, type SendWebhookResult } from './send-webhook.js';
import { AddressPolicy, refusalForUrl } from './ssrf-guard.js';
import { VERSION } from '../version.js';
import { listenSessionIdOf } from '../domain/listen.js';
import type { ListenHub, ListenOutcome } from './listen-hub.js';
import { CANCELED_BY_TRANSFORMATION, transformationFailure, type Transformations } from './transformations.js';
import type { TransformationMethod } from '../domain/transformation.js';

/** Sent on every delivery. */
export const USER_AGENT = `Tapwire/${VERSION}`;

/** How an attempt's outcome is counted in /metrics: a failure with another attempt scheduled is a retry. */
const METRIC_OUTCOME: Record<DeliveryOutcome['status'], AttemptOutcome> = { success: 'success', sending: 'retry', fail: 'fail', canceled: 'canceled' };

/** What the worker reports to /metrics (TapwireMetrics implements it). */
export interface DeliveryMetrics {
  attemptStarted(endpointId: string): void;
  attemptEnded(endpointId: string): void;
  attemptRecorded(outcome: AttemptOutcome, durationMs: number): void;
}

export interface DeliveryWorkerOptions {
  store: Store;
  config: TapwireConfig;
  logger: Logger;
  clock: Clock;
  /** Random source for retry jitter, in [0, 1). */
  random?: () => number;
  /** Longest sleep between polls when nothing is due and nobody wakes us. Default 1 s. */
  maxIdleMs?: number;
  /** Wait this long before retrying after a store error. Default 1 s. */
  errorBackoffMs?: number;
  /** Builds operational events (message.attempt.*, endpoint.disabled); none are raised without it. */
  operational?: OperationalEvents | null;
  /**
   * The resolver the SSRF guard wraps (default `dns.lookup`): every address it answers is still
   * judged, and only allowed ones are dialed. Tests inject fixed answers here; not used with a proxy.
   */
  lookup?: typeof dnsLookup;
  /**
   * Called once for each attempt the SSRF guard refused (no request was sent): the URL was refused
   * before connecting (IP literal, localhost or metadata name, http:// under TAPWIRE_HTTPS_ONLY) or
   * the address dialed was. The hook for a `blocked_by_ssrf` counter; it must not throw.
   */
  onBlocked?: (event: BlockedDelivery) => void;
  /** Told when requests start and end and when attempts are recorded (for /metrics). */
  metrics?: DeliveryMetrics;
  /**
   * The `tapwire listen` sessions this process holds: deliveries to a session's endpoint are pushed
   * to it instead of POSTed. Without it (or for a session held elsewhere) they wait, unrecorded.
   */
  listen?: ListenHub | null;
  /**
   * The sandbox that runs endpoint transformations. Without it, a delivery to an endpoint with an
   * enabled transformation fails (it is never sent untransformed).
   */
  transformations?: Transformations | null;
}

/** What an endpoint's transformation changed of a request: sent to `url` with `method`, plus `headers`. */
interface TransformedSend {
  method: TransformationMethod;
  url: string;
  headers: Record<string, string>;
}

/** An attempt the SSRF guard refused. */
export interface BlockedDelivery {
  appId: string;
  endpointId: string;
  url: string;
  /** The refusal as recorded in the attempt's response, e.g. `Blocked: 10.0.0.5 is in a non-public range (private); …`. */
  reason: string;
}

/**
 * How long a claimed delivery stays leased: twice the request deadline plus 5 s (35 s at the
 * default 15 s). It must outlast one attempt and the commit that records it, or a second worker
 * could claim a delivery still in flight (a duplicate). It is also how long the deliveries of a
 * worker that died mid-attempt wait before anyone retries them, so it scales with the deadline
 * instead of a fixed 30 s margin: with a 1 s deadline a crash delays them 7 s, not 31 s.
 */
export function leaseMsFor(requestTimeoutMs: number): number {
  return 2 * requestTimeoutMs + 5_000;
}
/** Deliveries leased per claim. */
const CLAIM_BATCH = 100;
/**
 * The worker holds up to this many deliveries per slot, in flight and buffered: a slot freed by a
 * finished request starts the next buffered delivery at once, while claims refill the buffers.
 */
const HOLD_PER_SLOT = 2;
/** A busy worker claims once this much room is free (or a quarter of its slots, if fewer)… */
const MIN_CLAIM_BATCH = 16;
/** …or once this long has passed since room became free, whichever is first. */
const CLAIM_COALESCE_MS = 2;
/** A buffered delivery whose lease has less than this share left is renewed (checked 8 times a lease). */
const RENEW_BELOW_SHARE = 0.75;
/** Longest wait between claims while the store keeps failing. */
const MAX_CLAIM_BACKOFF_MS = 5_000;
/**
 * A delivery to a listen session that is not attached to this process waits this long before it is
 * claimed again (by this process or the one holding the session's socket). No attempt is recorded:
 * the CLI was never reached, so the delivery's retry schedule is not spent while a laptop reconnects.
 */
const LISTEN_DETACHED_RETRY_MS = 1_000;

export class DeliveryWorker {
  private readonly store: Store;
  private readonly config: TapwireConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxIdleMs: number;
  private readonly errorBackoffMs: number;
  private readonly operational: OperationalEvents | null;
  private readonly agent: Dispatcher;
  private readonly policy: AddressPolicy;
  private readonly onBlocked: ((event: BlockedDelivery) => void) | undefined;
  private readonly metrics: DeliveryMetrics | undefined;
  private readonly listen: ListenHub | null;
  private readonly transformations: Transformations | null;
  /** Attempts under way, from the start of the request to the end of its recording. */
  private readonly work = new Set<Promise<void>>();
  /** Deliveries held by this worker, buffered per endpoint and in flight, with each endpoint's and application's limits. */
  private readonly lanes: DeliveryLanes;
  private renewTimer: NodeJS.Timeout | null = null;
  /**
   * The store failed the last claim or attempt record: no new request starts until it answers
   * again, since an attempt that cannot be recorded is sent again after its lease (a duplicate).
   */
  private storeTrouble = false;
  private renewing: Promise<void> | null = null;
  /** Worker slots only first attempts may use (TAPWIRE_FIRST_ATTEMPT_RESERVE; at least one is left for retries). */
  private readonly firstAttemptReserve: number;
  /** How long a claim leases (leaseMsFor the request timeout). */
  private readonly leaseMs: number;
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private wakePending = false;

  constructor(options: DeliveryWorkerOptions) {
    this.store = options.store;
    this.config = options.config;
    this.logger = options.logger.child({ component: 'worker' });
    this.clock = options.clock;
    this.random = options.random ?? Math.random;
    this.maxIdleMs = options.maxIdleMs ?? 1000;
    this.errorBackoffMs = options.errorBackoffMs ?? 1000;
    const slots = options.config.workerConcurrency;
    this.firstAttemptReserve = Math.max(0, Math.min(slots - 1, Math.floor(slots * options.config.firstAttemptReserve)));
    this.leaseMs = leaseMsFor(options.config.requestTimeoutMs);
    this.operational = options.operational ?? null;
    this.lanes = new DeliveryLanes({
      appConcurrency: options.config.appConcurrencyMax ?? Math.max(1, Math.floor(slots / 2)),
      endpointCeiling: options.config.endpointConcurrencyMax,
      fixedLimit: options.config.endpointConcurrency,
    });
    const policy = new AddressPolicy(options.config.allowedNetworks);
    this.policy = policy;
    this.onBlocked = options.onBlocked;
    this.metrics = options.metrics;
    this.listen = options.listen ?? null;
    this.transformations = options.transformations ?? null;
    // Without a proxy every connection is guarded twice: the resolver's answers, and the remote
    // address of the socket. With one, the proxy dials, so only the URL check in send() applies.
    // One socket per worker slot and origin: the slots (and each endpoint's concurrency limit)
    // bound what is in flight, so an attempt never queues inside undici for a socket that hanging
    // endpoints on the same host hold, where its deadline would run out before a byte was sent.
    const connections = options.config.workerConcurrency;
    this.agent = options.config.proxyUrl
      ? createDeliveryAgent({ connections, proxyUrl: options.config.proxyUrl })
      : createDeliveryAgent({
          connections,
          lookup: policy.guardedLookup(options.lookup),
          refuseAddress: (address) => policy.refusalFor(address),
        });
  }

  /** Start claiming. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
    this.renewTimer = setInterval(() => void this.renewBufferedLeases(), Math.max(100, Math.floor(this.leaseMs / 8)));
    this.renewTimer.unref();
  }

  /** New deliveries were committed: claim now instead of at the next poll. */
  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  /**
   * What this worker offers to take at once of an accept made in its process (see DeliveryHandoff):
   * its free room and the limits a claim would have now. Null while it is not running, while the
   * store fails (nothing new starts then), when it holds all it may, or with fixed endpoint limits,
   * whose exact lease counts stay with claims alone. Accepts in flight at once may each be offered
   * the same room; each endpoint's lease budget, counted in the store, still bounds what they take.
   */
  handoff(): DeliveryHandoff | null {
    if (!this.running || this.storeTrouble || this.config.endpointConcurrency !== null) return null;
    const room = this.holdRoom();
    if (room <= 0) return null;
    const now = this.clock.now();
    return { lockedUntil: new Date(now.getTime() + this.leaseMs), limit: Math.min(room, CLAIM_BATCH), ...this.claimLimits(now) };
  }

  /**
   * Take the deliveries an accept handed off (leased to this worker already): they join the
   * buffers as claimed ones do and start as slots allow. After close, they are given back.
   */
  adopt(jobs: DeliveryJob[]): void {
    if (jobs.length === 0) return;
    const held = jobs.map((job): HeldJob => ({ job, lockedUntil: job.delivery.lockedUntil!, retry: false }));
    if (!this.running) {
      void this.giveBack(held);
      return;
    }
    const nowMs = this.clock.now().getTime();
    for (const h of held) this.lanes.add(h, nowMs);
    this.pump();
  }

  /** Attempts currently under way (requests in flight, and attempts being recorded). */
  get activeAttempts(): number {
    return this.work.size;
  }

  /** What this worker knows of an endpoint's concurrency now; null when it has not delivered to it lately. */
  endpointConcurrency(endpointId: string): EndpointConcurrency | null {
    return this.lanes.endpointConcurrency(endpointId, this.clock.now().getTime());
  }

  /** Every endpoint's current limit and each application's requests in flight (for /metrics). */
  concurrencySnapshot(): { endpoints: ReturnType<DeliveryLanes['limits']>; apps: ReturnType<DeliveryLanes['appsInFlight']> } {
    return { endpoints: this.lanes.limits(), apps: this.lanes.appsInFlight() };
  }

  /**
   * Stop claiming, give buffered deliveries back to the store (claimable at once), let in-flight
   * attempts finish and record their outcome, then release the HTTP pool.
   */
  async close(): Promise<void> {
    this.running = false;
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.wakeUp?.();
    await this.loopDone;
    await this.renewing;
    await this.giveBack(this.lanes.dropAll());
    await Promise.allSettled([...this.work]);
    await this.agent.close().catch(() => undefined);
  }

  /** Give deliveries this worker holds but will not send back to the store, claimable at once. */
  private async giveBack(held: HeldJob[]): Promise<void> {
    if (held.length === 0) return;
    await this.store
      .renewLeases({ leases: held.map(leaseOf), lockedUntil: null })
      .catch((error: unknown) => this.logger.warn({ err: error, deliveries: held.length }, 'giving back buffered deliveries failed; they are claimed again when their leases end'));
  }

  /** Deliveries this worker may still take on: HOLD_PER_SLOT per slot, less what it holds within shares. */
  private holdRoom(): number {
    return HOLD_PER_SLOT * this.config.workerConcurrency - this.lanes.heldWithinShares();
  }

  private async loop(): Promise<void> {
    let claimFailures = 0;
    // Claims in a row that took nothing although something read as due (see sleepUntilDue).
    let stalledClaims = 0;
    // While waiting for enough room to claim a batch: until when (performance.now()).
    let coalesceUntil: number | null = null;
    while (this.running) {
      this.pump();
      const slots = this.config.workerConcurrency;
      const room = this.holdRoom();
      if (room <= 0) {
        // Holding all it may while the store failed: no claim will tell us it is back, so ask it.
        if (this.storeTrouble) {
          await this.probeStore();
          continue;
        }
        // Full: a request that ends wakes us (and a paused endpoint's pause ending lets it start one).
        this.wakePending = false;
        await this.sleep(this.resumeDelayMs() ?? this.maxIdleMs);
        continue;
      }
      // A busy worker frees room one finished request at a time; claiming for each one alone would
      // spend a transaction per delivery. Wait briefly for a batch's worth (a few requests end
      // within the same milliseconds under load), but never longer than CLAIM_COALESCE_MS.
      const minBatch = Math.max(1, Math.min(MIN_CLAIM_BATCH, Math.floor(slots / 4)));
      if (room < minBatch && this.lanes.inFlight > 0) {
        const now = performance.now();
        coalesceUntil ??= now + CLAIM_COALESCE_MS;
        if (now < coalesceUntil) {
          await this.sleep(coalesceUntil - now);
          continue;
        }
      }
      coalesceUntil = null;
      const limit = Math.min(room, CLAIM_BATCH);
      let jobs: DeliveryJob[];
      this.wakePending = false;
      const now = this.clock.now();
      try {
        // The store holds each endpoint to its lease budget and throttle across every worker
        // process and parks what must wait; this worker keeps retries out of its first-attempt
        // reserve, so a storm of retries (each waiting on a slow or failing endpoint) cannot hold
        // up fresh messages, and steps over the work of applications that hold their share.
        jobs = await this.store.claimDueDeliveries({
          now,
          limit,
          leaseMs: this.leaseMs,
          maxRetries: Math.max(0, Math.min(limit, slots - this.firstAttemptReserve - this.lanes.retriesHeld)),
          ...this.claimLimits(now),
        });
      } catch (error) {
        // Back off while the store stays unavailable (1 s, 2 s, 4 s, then every 5 s), logging the
        // first failure in full and later ones briefly, so an outage neither floods the database
        // nor the logs; the first successful claim resets it.
        claimFailures++;
        this.storeTrouble = true;
        const backoffMs = Math.min(this.errorBackoffMs * 2 ** (claimFailures - 1), MAX_CLAIM_BACKOFF_MS);
        if (claimFailures === 1) this.logger.error({ err: error }, 'claiming deliveries failed; retrying');
        else this.logger.warn({ failures: claimFailures, retryInMs: backoffMs, reason: (error as Error).message }, 'claiming deliveries still failing');
        await this.sleep(backoffMs);
        continue;
      }
      if (claimFailures > 0) {
        this.logger.info({ failures: claimFailures }, 'claiming deliveries works again');
        claimFailures = 0;
      }
      this.storeTrouble = false;
      const nowMs = this.clock.now().getTime();
      for (const job of jobs) {
        this.lanes.add({ job, lockedUntil: job.delivery.lockedUntil ?? new Date(now.getTime() + this.leaseMs), retry: job.delivery.attemptCount > 0 }, nowMs);
      }
      this.pump();
      if (jobs.length === limit) {
        stalledClaims = 0;
        continue;
      }
      stalledClaims = await this.sleepUntilDue(jobs.length === 0 ? stalledClaims : -1);
    }
  }

  /** After store trouble, with no claim to find out: one cheap read; requests start again once it answers. */
  private async probeStore(): Promise<void> {
    try {
      await this.store.nextDueAt({ now: this.clock.now() });
      this.storeTrouble = false;
      this.pump();
    } catch {
      await this.sleep(this.errorBackoffMs);
    }
  }

  /** The limits a claim (and the due time it waits for) works within: lease budgets and full applications. */
  private claimLimits(now: Date): Pick<ClaimDeliveriesInput, 'endpointConcurrency' | 'endpointBudgets' | 'fullApplications'> {
    const nowMs = now.getTime();
    return {
      // Endpoints this worker has not seen lately: a fixed limit's leases, or an adaptive limit's first budget.
      endpointConcurrency: this.config.endpointConcurrency ?? leaseBudgetFor(Math.min(INITIAL_LIMIT, this.config.endpointConcurrencyMax)),
      endpointBudgets: this.lanes.budgets(nowMs),
      fullApplications: this.lanes.fullApplications(),
    };
  }

  /** Start buffered deliveries while the worker has free slots (each one's endpoint and application permitting). */
  private pump(): void {
    if (!this.running || this.storeTrouble) return;
    const slots = this.config.workerConcurrency;
    const nowMs = this.clock.now().getTime();
    while (this.lanes.inFlight < slots) {
      const held = this.lanes.take(nowMs);
      if (!held) break;
      this.startAttempt(held, nowMs);
    }
  }

  /** How long until a paused endpoint with buffered deliveries may go again; null if none waits. */
  private resumeDelayMs(): number | null {
    const nowMs = this.clock.now().getTime();
    const next = this.lanes.nextResumeMs(nowMs);
    return next === null ? null : Math.max(1, Math.min(this.maxIdleMs, next - nowMs));
  }

  private startAttempt(held: HeldJob, nowMs: number): void {
    // A delivery that waited so long its lease could run out mid-request goes back to the store
    // instead (the renewal keeps this rare): another claim would not know it is in flight.
    if (held.lockedUntil.getTime() - nowMs < this.config.requestTimeoutMs + 1_000) {
      this.lanes.finished(held, { signal: null, rttMs: 0, nowMs });
      void this.store.renewLeases({ leases: [leaseOf(held)], lockedUntil: null }).catch(() => undefined);
      this.wake();
      return;
    }
    // attempt() never rejects by design; should it anyway, the loop must survive.
    const work = this.attempt(held).catch((error: unknown) => this.logger.error({ err: error }, 'attempt crashed; the delivery will be retried after its lease'));
    this.work.add(work);
    void work.finally(() => {
      this.work.delete(work);
      // A recorded attempt frees a lease of its endpoint, whose parked deliveries (if any) may run
      // now: claim again rather than sleep until the next due time.
      this.wake();
    });
  }

  /**
   * Keep the leases of buffered deliveries: renew those with less than RENEW_BELOW_SHARE of a lease
   * left, and drop from the buffer any whose lease was lost (it ran out and another claim took it).
   */
  private renewBufferedLeases(): Promise<void> {
    if (this.renewing || !this.running) return this.renewing ?? Promise.resolve();
    const run = async (): Promise<void> => {
      const now = this.clock.now().getTime();
      this.lanes.forgetIdle(now);
      const expiring = this.lanes.expiring(now + this.leaseMs * RENEW_BELOW_SHARE);
      if (expiring.length === 0) return;
      const lockedUntil = new Date(now + this.leaseMs);
      try {
        const renewed = new Set(await this.store.renewLeases({ leases: expiring.map(leaseOf), lockedUntil }));
        const lost = new Set<string>();
        for (const held of expiring) {
          if (renewed.has(held.job.delivery.id)) held.lockedUntil = lockedUntil;
          else lost.add(held.job.delivery.id);
        }
        if (lost.size > 0) {
          this.lanes.drop(lost);
          this.logger.warn({ deliveries: lost.size }, 'buffered deliveries lost their leases; dropped from the buffer');
        }
      } catch (error) {
        this.logger.warn({ err: error, deliveries: expiring.length }, 'renewing buffered leases failed; retrying');
      }
    };
    this.renewing = run().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  /**
   * Sleep until the next delivery can be claimed, a wake-up, or maxIdleMs, whichever is first.
   * Deliveries waiting for a busy endpoint count from when it may start one (the store knows); an
   * attempt that finishes wakes us sooner. When the claim just made took nothing although something
   * reads as due (rows another worker holds, or retries while only the first-attempt reserve is
   * free), back off 2, 4, 8 … ms instead of spinning on it: `stalledClaims` is how many claims in a
   * row did so before this one, -1 when this one took something. Returns the new count.
   */
  private async sleepUntilDue(stalledClaims: number): Promise<number> {
    if (this.wakePending || !this.running) return 0;
    let delay = this.maxIdleMs;
    let stalled = 0;
    try {
      const now = this.clock.now();
      const next = await this.store.nextDueAt({ now, ...this.claimLimits(now) });
      if (next) delay = Math.max(0, Math.min(delay, next.getTime() - now.getTime()));
      const resume = this.resumeDelayMs();
      if (resume !== null) delay = Math.min(delay, resume);
      if (next && delay === 0 && stalledClaims >= 0) {
        stalled = stalledClaims + 1;
        delay = Math.min(this.maxIdleMs, 2 ** stalled);
      }
    } catch {
      // The next claim reports store trouble; here we just poll at the idle rate.
    }
    // close() may have run while the store answered; its wake-up found nobody asleep.
    if (this.wakePending || !this.running) return stalled;
    // Even with nothing to wait for, yield to I/O: a loop of resolved promises would starve it.
    await this.sleep(Math.max(1, delay));
    return stalled;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }

  /** One attempt of one delivery, start to finish. Never throws. */
  private async attempt(held: HeldJob): Promise<void> {
    const { job } = held;
    const { delivery, message, endpoint } = job;
    const log = this.logger.child({ appId: delivery.appId, endpointId: delivery.endpointId, msgId: delivery.msgId, deliveryId: delivery.id, attempt: delivery.attemptCount + 1 });
    const started = this.clock.now();
    let result: SendWebhookResult;
    // Only a request we made says something about the endpoint's health; skips do not.
    let requested = false;
    // Dropped unsent: the delivery (and the attempt that records why) ends canceled, not failed.
    let canceled = true;
    // Pushed to a `tapwire listen` session: its answers say nothing about the endpoint's capacity or health.
    const listenId = endpoint ? listenSessionIdOf(endpoint.url) : null;
    // Where the request went, when a transformation chose another URL.
    let sentUrl: string | null = null;
    if (!endpoint) {
      result = skipped('The endpoint was deleted');
    } else if (endpoint.disabled) {
      result = skipped('The endpoint is disabled; enable it and recover to deliver');
    } else if (message.payload === null) {
      result = skipped('The message payload has expired or was expunged');
    } else {
      canceled = false;
      this.metrics?.attemptStarted(endpoint.id);
      try {
        if (listenId !== null) {
          const pushed = await this.pushToListener(listenId, endpoint, job, started);
          if (pushed === null) {
            await this.deferUnreached(held);
            return;
          }
          result = pushed;
          requested = true;
        } else if (endpoint.transformation?.enabled) {
          // The handler runs before signing, so the signature covers the body actually sent. A
          // failed run is a failed attempt (retried: the code may be fixed meanwhile) that asked
          // nothing of the endpoint; a cancel ends this delivery, recorded as such.
          const transformed = this.transformations
            ? await this.transformations.apply(endpoint.transformation.code, { url: endpoint.url, payload: message.payload, contentType: message.contentType ?? null, eventType: message.eventType, endpointId: endpoint.id })
            : ({ kind: 'error', message: 'this worker has no transformation sandbox', durationMs: 0 } as const);
          if (transformed.kind === 'send') {
            sentUrl = transformed.url;
            result = await this.send(endpoint, message.id, transformed.body, started, transformed.contentType, message.forwardHeaders ?? null, transformed);
            requested = true;
          } else if (transformed.kind === 'cancel') {
            canceled = true;
            result = { ...skipped(CANCELED_BY_TRANSFORMATION), durationMs: Math.round(transformed.durationMs) };
            log.info({ durationMs: transformed.durationMs }, 'delivery canceled by the transformation');
          } else {
            result = { ...skipped(transformationFailure(transformed)), durationMs: Math.round(transformed.durationMs) };
            log.warn({ outcome: transformed.kind, error: transformed.message }, 'transformation failed');
          }
        } else {
          result = await this.send(endpoint, message.id, message.payload, started, message.contentType ?? null, message.forwardHeaders ?? null);
          requested = true;
        }
      } catch (error) {
        // A bug or bad stored data (say, a header value undici refuses) must not crash the process
        // or leave the delivery leased: record it as a failed attempt and let the schedule go on.
        log.error({ err: error }, 'attempt could not be made');
        result = skipped(`Tapwire could not make this request: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        this.metrics?.attemptEnded(endpoint.id);
      }
    }
    const now = this.clock.now();
    // sendWebhook reads Retry-After from a 429 or 503 only.
    const retryAfterMs = result.ok ? null : (result.retryAfterMs ?? null);
    // The HTTP exchange is over: its slots go to the next buffered delivery before this one is
    // recorded, and the endpoint's limit learns from the answer.
    this.lanes.finished(held, { signal: requested && listenId === null ? limitSignalOf(result) : null, rttMs: result.durationMs, retryAfterMs, nowMs: now.getTime() });
    // The buffer is refilled once the attempt is recorded (its lease is free then too, and that
    // wake-up follows within a group commit): waking the claim loop here as well cost a second
    // claim and due-time read per delivery at low rates.
    this.pump();
    const attemptsMade = delivery.attemptCount + 1;
    const gone = result.ok === false && result.statusCode === 410;
    // A receiver that answers a failure with `webhook-delivery: abort-message` refuses this message
    // for good: no more retries. It chose to, so the answer does not count against its health.
    const aborted = !result.ok && !gone && isAbortMessage(result.headers);
    let exhausted = false;
    let outcome: DeliveryOutcome;
    if (result.ok) {
      outcome = { status: 'success' };
    } else if (canceled) {
      outcome = { status: 'canceled' };
    } else if (gone || aborted || !endpoint || endpoint.disabled || message.payload === null || delivery.triggerType === 'manual') {
      outcome = { status: 'fail' };
    } else {
      const delayMs = nextRetryDelayMs({
        scheduleMs: this.config.retryScheduleMs,
        attemptsMade,
        random: this.random,
        retryAfterMs,
      });
      exhausted = delayMs === null;
      outcome = delayMs === null ? { status: 'fail' } : { status: 'sending', nextAttemptAt: new Date(now.getTime() + delayMs) };
    }
    const attempt: Attempt = {
      id: newId('atmpt', now.getTime()),
      deliveryId: delivery.id,
      msgId: delivery.msgId,
      appId: delivery.appId,
      endpointId: delivery.endpointId,
      url: sentUrl ?? endpoint?.url ?? '',
      responseStatusCode: result.statusCode,
      response: result.responseBody,
      responseDurationMs: result.durationMs,
      status: result.ok ? 'success' : canceled ? 'canceled' : 'fail',
      triggerType: delivery.triggerType,
      timestamp: now,
    };
    if (!result.ok && result.reason === 'blocked') {
      // Tenants read a generic refusal through app tokens; the detail (what the name resolved to)
      // is the operator's, here and through the admin token.
      log.warn({ attemptId: attempt.id, url: attempt.url, refusal: result.responseBody }, 'attempt refused by the network policy');
    }
    const health = !requested || aborted || listenId !== null ? 'none' : result.ok ? 'success' : 'failure';
    const disableEndpoint = gone && !!endpoint;
    // Failing for at least TAPWIRE_AUTO_DISABLE_AFTER since the streak began (as read at claim time;
    // the store re-checks that the streak is still the same one when it disables).
    const failingSince = endpoint?.failingSince ?? null;
    const autoDisableAfterMs = this.config.autoDisableAfterMs;
    const autoDisableFailingSince =
      health === 'failure' && failingSince && autoDisableAfterMs !== null && now.getTime() - failingSince.getTime() >= autoDisableAfterMs ? failingSince : null;
    let completed: CompleteAttemptResult;
    let queued = false;
    try {
      const events = await this.operationalEventsFor(job, { attempt, outcome, exhausted, mayDisable: disableEndpoint || autoDisableFailingSince !== null, now });
      completed = await this.store.completeAttempt({
        attempt,
        outcome,
        disableEndpoint,
        now,
        health,
        autoDisableFailingSince,
        messages: events.messages,
        messagesIfEndpointDisabled: events.messagesIfEndpointDisabled,
        fifo: delivery.fifoSeq !== undefined,
      });
      queued = events.messages.length > 0 || (completed.endpointDisabled && events.messagesIfEndpointDisabled.length > 0);
    } catch (error) {
      // The lease expires and the delivery is attempted again: at-least-once, never lost.
      this.storeTrouble = true;
      log.error({ err: error }, 'recording attempt failed; delivery will be retried after its lease');
      return;
    }
    if (this.storeTrouble) {
      this.storeTrouble = false;
      this.pump();
    }
    this.metrics?.attemptRecorded(METRIC_OUTCOME[outcome.status], result.durationMs);
    // The loop may be asleep for up to maxIdleMs on a due time read before this retry existed;
    // operational events just queued are due now.
    // So is the next delivery of a FIFO line whose head just ended.
    const promoted = delivery.fifoSeq !== undefined && outcome.status !== 'sending';
    if (queued || promoted || (outcome.status === 'sending' && outcome.nextAttemptAt.getTime() - now.getTime() < this.maxIdleMs)) this.wake();
    const fields = {
      attemptId: attempt.id,
      triggerType: delivery.triggerType,
      outcome: outcome.status,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      ...(result.ok ? {} : { reason: result.reason }),
      ...(aborted ? { aborted: true } : {}),
      ...(outcome.status === 'sending' ? { nextAttemptAt: outcome.nextAttemptAt.toISOString() } : {}),
    };
    if (result.ok) log.info(fields, 'attempt succeeded');
    else if (outcome.status === 'canceled') log.info(fields, 'delivery canceled; nothing was sent');
    else if (outcome.status === 'fail') log.warn(fields, aborted ? 'attempt failed; receiver aborted the message' : 'attempt failed; delivery failed');
    else log.info(fields, 'attempt failed; retry scheduled');
    if (completed.endpointDisabled) {
      log.warn(
        { reason: gone ? 'gone' : 'failing', failingSince: (failingSince ?? now).toISOString() },
        gone ? 'endpoint disabled: the receiver answered 410 Gone' : 'endpoint disabled: failing for too long',
      );
    }
  }

  /**
   * The operational events this attempt raises, if operational webhooks are on and the delivery is
   * not one of theirs: message.attempt.failing on the FAILING_AFTER_ATTEMPTS-th failure of a
   * scheduled delivery with a retry still to come, .exhausted when its schedule ran out, .recovered
   * when it succeeds after that many failures; and endpoint.disabled (queued only if the store
   * really disables the endpoint). Reads the application (for its uid) only when there is an event.
   */
  private async operationalEventsFor(
    job: DeliveryJob,
    input: { attempt: Attempt; outcome: DeliveryOutcome; exhausted: boolean; mayDisable: boolean; now: Date },
  ): Promise<{ messages: Message[]; messagesIfEndpointDisabled: Message[] }> {
    const none = { messages: [], messagesIfEndpointDisabled: [] };
    const { delivery, message, endpoint } = job;
    const ops = this.operational;
    // A listen session's endpoint is a developer's temporary destination: its failures page nobody.
    if (!ops || !endpoint || listenSessionIdOf(endpoint.url) !== null || !(await ops.ready()) || !ops.covers(delivery.appId)) return none;
    const types: AttemptEventType[] = [];
    if (delivery.triggerType === 'scheduled') {
      const attemptsMade = delivery.attemptCount + 1;
      if (input.outcome.status === 'sending' && attemptsMade === FAILING_AFTER_ATTEMPTS) types.push('message.attempt.failing');
      if (input.exhausted) types.push('message.attempt.exhausted');
      if (input.outcome.status === 'success' && delivery.attemptCount >= FAILING_AFTER_ATTEMPTS) types.push('message.attempt.recovered');
    }
    if (types.length === 0 && !input.mayDisable) return none;
    const app = await this.store.getApplication(delivery.appId);
    if (!app) return none;
    return {
      messages: types.map((type) => ops.attemptEvent(type, app, message, input.attempt, input.now)),
      messagesIfEndpointDisabled: input.mayDisable ? [ops.endpointDisabled(app, endpoint, endpoint.failingSince ?? input.now, 'automatic', input.now)] : [],
    };
  }

  /**
   * The headers of a delivery's request: content type, user agent, forwarded provider headers, the
   * signature over `payload` with every live secret, and the endpoint's own headers.
   */
  private signedHeaders(endpoint: Endpoint, msgId: string, payload: string, started: Date, contentType: string | null, forwardHeaders: Record<string, string> | null): Record<string, string> {
    const timestampSeconds = Math.floor(started.getTime() / 1000);
    const secrets = [endpoint.secret, ...endpoint.oldSecrets.filter((s) => s.expiresAt > started).map((s) => s.secret)];
    const signature = signPayload({ msgId, timestampSeconds, body: payload, secrets });
    return {
      // A raw payload goes with the content type its sender gave; the signature covers the same bytes.
      'content-type': contentType ?? 'application/json',
      'user-agent': USER_AGENT,
      // An ingested event's provider headers (X-GitHub-Event…): before ours, so they can replace none of them.
      ...forwardHeaders,
      ...buildSignatureHeaders({ mode: this.config.signatureHeaders, msgId, timestampSeconds, signature }),
      ...endpoint.headers,
    };
  }

  /**
   * Push a delivery to the listen session `sessionId` with the headers a real endpoint would get
   * and wait for the CLI's report. Null when the session is not attached here, or its socket
   * closed before the report: nothing is recorded then (see deferUnreached).
   */
  private async pushToListener(sessionId: string, endpoint: Endpoint, job: DeliveryJob, started: Date): Promise<SendWebhookResult | null> {
    const { delivery, message } = job;
    if (!this.listen || message.payload === null) return null;
    const headers = this.signedHeaders(endpoint, message.id, message.payload, started, message.contentType ?? null, message.forwardHeaders ?? null);
    const outcome = await this.listen.deliver(
      sessionId,
      { deliveryId: delivery.id, msgId: message.id, eventType: message.eventType, attempt: delivery.attemptCount + 1, headers, body: message.payload },
      // The CLI times its local request out at the same deadline; the extra second covers the report's trip back.
      this.config.requestTimeoutMs + 1_000,
    );
    return outcome.kind === 'detached' ? null : listenResult(outcome);
  }

  /** A listen delivery that reached no CLI: its slot is freed and it waits LISTEN_DETACHED_RETRY_MS, unrecorded. */
  private async deferUnreached(held: HeldJob): Promise<void> {
    const nowMs = this.clock.now().getTime();
    this.lanes.finished(held, { signal: null, rttMs: 0, nowMs });
    this.pump();
    await this.store
      .renewLeases({ leases: [leaseOf(held)], lockedUntil: new Date(nowMs + LISTEN_DETACHED_RETRY_MS) })
      .catch((error: unknown) => this.logger.warn({ err: error, deliveryId: held.job.delivery.id }, 'deferring a listen delivery failed; it is claimed again after its lease'));
  }

  /**
   * Sign and POST the payload (as UTF-8, with `contentType` or application/json) to the endpoint; network outcomes come back as values. The URL is
   * judged again first (it may have been stored under another configuration, or the proxy would
   * dial it unchecked); a refusal is a failed attempt with reason `blocked`, retried on schedule.
   */
  private async send(
    endpoint: Endpoint,
    msgId: string,
    payload: string,
    started: Date,
    contentType: string | null,
    forwardHeaders: Record<string, string> | null = null,
    transformed: TransformedSend | null = null,
  ): Promise<SendWebhookResult> {
    const signed = this.signedHeaders(endpoint, msgId, payload, started, contentType, forwardHeaders);
    // A transformation's headers come last; domain/transformation.ts refused any that would
    // replace a signature, content or transport header.
    const headers = transformed ? { ...signed, ...transformed.headers } : signed;
    const url = transformed?.url ?? endpoint.url;
    const result = await sendWebhook(
      {
        url,
        ...(transformed ? { method: transformed.method } : {}),
        headers,
        body: payload,
        timeoutMs: this.config.requestTimeoutMs,
        maxResponseBytes: this.config.maxResponseBytes,
        dispatcher: this.agent,
        refuseUrl: (url) => refusalForUrl(url, { httpsOnly: this.config.httpsOnly, policy: this.policy, judgeNames: this.config.proxyUrl !== null }),
      },
      { now: () => this.clock.now().getTime() },
    );
    if (!result.ok && result.reason === 'blocked') {
      this.onBlocked?.({ appId: endpoint.appId, endpointId: endpoint.id, url, reason: result.responseBody });
    }
    return result;
  }
}

/** A listen session's report as an attempt result: 2xx succeeds; no answer (the local server was down, or timed out) is a transport failure. */
function listenResult(outcome: Extract<ListenOutcome, { kind: 'answered' }>): SendWebhookResult {
  const { statusCode, body, durationMs, error } = outcome;
  if (error !== null) return { ok: false, statusCode: 0, responseBody: body, durationMs, reason: error === 'timeout' ? 'timeout' : 'connection', headers: {} };
  if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode, responseBody: body, durationMs, headers: {} };
  return { ok: false, statusCode, responseBody: body, durationMs, reason: 'status', headers: {} };
}

/** What an attempt's result says about its endpoint's capacity (see adaptive-limit.ts). */
function limitSignalOf(result: SendWebhookResult): LimitSignal | null {
  if (result.ok) return 'success';
  switch (result.reason) {
    case 'timeout':
    case 'connection':
      return 'overload';
    case 'status':
      return result.statusCode === 429 || result.statusCode === 503 ? 'overload' : 'answered';
    case 'redirect':
      return 'answered';
    default:
      // Refused by the SSRF guard, an unusable URL, or shutdown: the endpoint was not asked.
      return null;
  }
}

function leaseOf(held: HeldJob): HeldLease {
  return { id: held.job.delivery.id, lockedUntil: held.lockedUntil };
}

/** `webhook-delivery: abort-message` (Svix's convention, value case-insensitive) on a response. */
function isAbortMessage(headers: Record<string, string>): boolean {
  return headers['webhook-delivery']?.trim().toLowerCase() === 'abort-message';
}

/** An attempt that was not made, recorded as a failure with the reason as its response. */
function skipped(reason: string): SendWebhookResult {
  return { ok: false, statusCode: 0, responseBody: reason, durationMs: 0, reason: 'connection', headers: {} };
}
