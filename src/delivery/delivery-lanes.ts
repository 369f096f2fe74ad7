// The delivery worker's deliveries between claim and request: leased, buffered per endpoint, and
// handed out so that every application with work gets its turn (round robin, one request a turn),
// no application takes more than its share of the worker's slots, and no endpoint more than its
// limit (adaptive, see adaptive-limit.ts, or fixed by TAPWIRE_ENDPOINT_CONCURRENCY). A slot is
// taken when the request starts and freed when the HTTP exchange ends; recording the attempt and
// claiming more work happen outside it. Nothing here is the only copy: every buffered delivery is
// leased in the store and is claimed again if this process dies.
import type { DeliveryJob } from '../storage/store.js';
import { AdaptiveLimit, INITIAL_LIMIT, type LimitSignal } from './adaptive-limit.js';

/** A delivery claimed and waiting in its endpoint's buffer, or in flight. */
export interface HeldJob {
  job: DeliveryJob;
  /** The lease as the store last set it. */
  lockedUntil: Date;
  /** A retry (attemptCount > 0): it may not use the first-attempt reserve. */
  retry: boolean;
}

export interface DeliveryLanesOptions {
  /** An application's requests in flight at most (TAPWIRE_APP_CONCURRENCY_MAX). */
  appConcurrency: number;
  /** The ceiling of an adaptive limit for endpoints without their own concurrencyLimit (TAPWIRE_ENDPOINT_CONCURRENCY_MAX). */
  endpointCeiling: number;
  /** A fixed limit for endpoints without their own (TAPWIRE_ENDPOINT_CONCURRENCY); null = adaptive limits. */
  fixedLimit: number | null;
  /** The longest an endpoint is paused for one Retry-After. */
  maxPauseMs?: number;
}

/** What the worker shows of one endpoint (stats API, dashboard, metrics). */
export interface EndpointConcurrency {
  /** Requests it may have in flight now. */
  limit: number;
  /** The most its limit may become. */
  ceiling: number;
  /** Whether the limit adapts (false under TAPWIRE_ENDPOINT_CONCURRENCY). */
  adaptive: boolean;
  /** Requests to it in flight now, in this process. */
  inFlight: number;
  /** Deliveries leased and waiting for one of its slots, in this process. */
  buffered: number;
  /** While it asked to be left alone (429/503 with Retry-After): until when; else null. */
  pausedUntil: Date | null;
}

/**
 * The leases one endpoint may hold in a claim, for a limit of `limit` requests in flight: the
 * requests, as many waiting behind them (so a finished request is followed at once), and two more
 * for attempts still being recorded. With one worker process that never exceeds its limit in
 * flight; with several, each holds its requests within what the store leases it.
 */
export function leaseBudgetFor(limit: number): number {
  return 2 * limit + 2;
}

/**
 * An endpoint's concurrency before the worker has delivered to it (or after it forgot it): where its
 * limit starts, with nothing in flight.
 */
export function restingConcurrency(options: Pick<DeliveryLanesOptions, 'endpointCeiling' | 'fixedLimit'>, own: number | null): EndpointConcurrency {
  if (options.fixedLimit !== null) {
    const limit = own ?? options.fixedLimit;
    return { limit, ceiling: limit, adaptive: false, inFlight: 0, buffered: 0, pausedUntil: null };
  }
  const ceiling = own ?? options.endpointCeiling;
  return { limit: Math.min(INITIAL_LIMIT, ceiling), ceiling, adaptive: true, inFlight: 0, buffered: 0, pausedUntil: null };
}

/** Lanes idle this long (nothing held, nothing in flight) are forgotten; an adaptive limit starts over. */
export const LANE_IDLE_MS = 10 * 60_000;
/** The longest pause for one Retry-After, by default. */
export const DEFAULT_MAX_PAUSE_MS = 60_000;

class EndpointLane {
  readonly queue: HeldJob[] = [];
  inFlight = 0;
  pausedUntilMs = 0;
  lastActiveMs: number;
  /** The endpoint's own concurrencyLimit as last seen. */
  own: number | null;
  readonly adaptive: AdaptiveLimit | null;

  constructor(
    readonly id: string,
    readonly app: AppLane,
    own: number | null,
    private readonly options: DeliveryLanesOptions,
    nowMs: number,
  ) {
    this.own = own;
    this.lastActiveMs = nowMs;
    this.adaptive = options.fixedLimit === null ? new AdaptiveLimit({ ceiling: own ?? options.endpointCeiling }) : null;
  }

  get limit(): number {
    return this.adaptive ? this.adaptive.current : (this.own ?? this.options.fixedLimit!);
  }

  get ceiling(): number {
    return this.adaptive ? this.adaptive.ceiling : this.limit;
  }

  setOwn(own: number | null): void {
    if (own === this.own) return;
    this.own = own;
    this.adaptive?.setCeiling(own ?? this.options.endpointCeiling);
  }

  ready(nowMs: number): boolean {
    return this.queue.length > 0 && this.inFlight < this.limit && this.pausedUntilMs <= nowMs;
  }
}

class AppLane {
  inFlight = 0;
  held = 0;
  /** Its endpoints' lanes this worker keeps. */
  lanes = 0;
  /** Endpoints with buffered deliveries, served in turn. */
  readonly waiting: EndpointLane[] = [];
  cursor = 0;

  constructor(readonly id: string) {}

  /** The next endpoint in turn that may start a request now, if any. */
  nextReady(nowMs: number): EndpointLane | null {
    const n = this.waiting.length;
    for (let i = 0; i < n; i++) {
      const index = (this.cursor + i) % n;
      const lane = this.waiting[index]!;
      if (lane.ready(nowMs)) {
        this.cursor = index + 1;
        return lane;
      }
    }
    return null;
  }
}

export class DeliveryLanes {
  private readonly endpoints = new Map<string, EndpointLane>();
  private readonly apps = new Map<string, AppLane>();
  /** Applications with buffered deliveries, served in turn. */
  private readonly waitingApps: AppLane[] = [];
  private cursor = 0;
  private readonly maxPauseMs: number;
  /** Ids of the buffered deliveries. */
  private readonly bufferedIds = new Set<string>();
  /** Requests in flight. */
  inFlight = 0;
  /** Deliveries buffered (leased, not started). */
  buffered = 0;
  /** Retries held, buffered or in flight. */
  retriesHeld = 0;

  constructor(private readonly options: DeliveryLanesOptions) {
    this.maxPauseMs = options.maxPauseMs ?? DEFAULT_MAX_PAUSE_MS;
  }

  get adaptive(): boolean {
    return this.options.fixedLimit === null;
  }

  /** Buffer a leased delivery behind the others of its endpoint. */
  add(held: HeldJob, nowMs: number): void {
    const id = held.job.delivery.id;
    // Claimed again after its lease ran out while it waited here (the store was out of reach, so
    // the lease could not be renewed): the new lease replaces the old one.
    if (this.bufferedIds.has(id)) this.drop(new Set([id]));
    this.bufferedIds.add(id);
    const lane = this.laneOf(held.job, nowMs);
    if (lane.queue.length === 0) lane.app.waiting.push(lane);
    if (lane.app.held === 0 && !this.waitingApps.includes(lane.app)) this.waitingApps.push(lane.app);
    lane.queue.push(held);
    lane.app.held++;
    lane.lastActiveMs = nowMs;
    this.buffered++;
    if (held.retry) this.retriesHeld++;
  }

  /**
   * The next delivery to start, taking its slots (endpoint, application, and one of the worker's;
   * the caller checks the worker has one free): applications in turn, each one's endpoints in turn.
   */
  take(nowMs: number): HeldJob | null {
    const n = this.waitingApps.length;
    for (let i = 0; i < n; i++) {
      const index = (this.cursor + i) % n;
      const app = this.waitingApps[index]!;
      if (app.inFlight >= this.options.appConcurrency) continue;
      const lane = app.nextReady(nowMs);
      if (!lane) continue;
      this.cursor = index + 1;
      const held = lane.queue.shift()!;
      this.bufferedIds.delete(held.job.delivery.id);
      if (lane.queue.length === 0) removeFrom(app.waiting, lane, app);
      lane.inFlight++;
      app.inFlight++;
      this.inFlight++;
      this.buffered--;
      lane.lastActiveMs = nowMs;
      return held;
    }
    return null;
  }

  /**
   * A request ended (its HTTP exchange, not its recording): free its slots and learn from it.
   * `signal` null = no request was made (a skip), which says nothing about the endpoint.
   */
  finished(held: HeldJob, outcome: { signal: LimitSignal | null; rttMs: number; retryAfterMs?: number | null; nowMs: number }): void {
    const lane = this.endpoints.get(held.job.delivery.endpointId);
    if (lane) {
      if (outcome.signal !== null) lane.adaptive?.record({ rttMs: outcome.rttMs, signal: outcome.signal, inFlight: lane.inFlight, nowMs: outcome.nowMs });
      if (outcome.retryAfterMs != null && outcome.retryAfterMs > 0) {
        lane.pausedUntilMs = Math.max(lane.pausedUntilMs, outcome.nowMs + Math.min(outcome.retryAfterMs, this.maxPauseMs));
      }
      lane.inFlight--;
      lane.app.inFlight--;
      lane.lastActiveMs = outcome.nowMs;
      this.release(lane.app, held);
    }
    this.inFlight--;
  }

  /** When the first paused endpoint with buffered deliveries may go again, if it is what waits. */
  nextResumeMs(nowMs: number): number | null {
    let next: number | null = null;
    for (const app of this.waitingApps) {
      for (const lane of app.waiting) if (lane.pausedUntilMs > nowMs && (next === null || lane.pausedUntilMs < next)) next = lane.pausedUntilMs;
    }
    return next;
  }

  /**
   * Leases per endpoint for the next claim (adaptive limits only; fixed ones are the store's
   * default): each known endpoint's budget, 0 while it is paused.
   */
  budgets(nowMs: number): Record<string, number> | null {
    if (!this.adaptive) return null;
    const budgets: Record<string, number> = {};
    for (const lane of this.endpoints.values()) budgets[lane.id] = lane.pausedUntilMs > nowMs ? lane.inFlight + lane.queue.length : leaseBudgetFor(lane.limit);
    return budgets;
  }

  /**
   * Deliveries held (in flight and buffered), each application counted up to its share: what one
   * application holds beyond it (a claim may bring more than its share at once) does not keep the
   * worker from claiming other applications' work.
   */
  heldWithinShares(): number {
    let held = 0;
    for (const app of this.apps.values()) held += Math.min(app.held, 2 * this.options.appConcurrency);
    return held;
  }

  /** Applications holding their share already (in flight and buffered): the next claim steps over their work. */
  fullApplications(): string[] {
    const full: string[] = [];
    for (const app of this.apps.values()) if (app.held >= 2 * this.options.appConcurrency) full.push(app.id);
    return full;
  }

  /** Buffered deliveries whose lease ends before `beforeMs`. */
  expiring(beforeMs: number): HeldJob[] {
    const found: HeldJob[] = [];
    for (const lane of this.endpoints.values()) for (const held of lane.queue) if (held.lockedUntil.getTime() < beforeMs) found.push(held);
    return found;
  }

  /** Take buffered deliveries out (their lease was lost, or is given back). */
  drop(ids: ReadonlySet<string>): HeldJob[] {
    const dropped: HeldJob[] = [];
    for (const lane of this.endpoints.values()) {
      if (!lane.queue.some((h) => ids.has(h.job.delivery.id))) continue;
      for (let i = lane.queue.length - 1; i >= 0; i--) {
        const held = lane.queue[i]!;
        if (!ids.has(held.job.delivery.id)) continue;
        lane.queue.splice(i, 1);
        this.bufferedIds.delete(held.job.delivery.id);
        this.buffered--;
        dropped.push(held);
        this.release(lane.app, held);
      }
      if (lane.queue.length === 0) removeFrom(lane.app.waiting, lane, lane.app);
    }
    return dropped;
  }

  /** Every buffered delivery, taken out (shutdown). */
  dropAll(): HeldJob[] {
    const ids = new Set<string>();
    for (const lane of this.endpoints.values()) for (const held of lane.queue) ids.add(held.job.delivery.id);
    return this.drop(ids);
  }

  /** What this worker knows of an endpoint now; null if it has not seen it lately. */
  endpointConcurrency(endpointId: string, nowMs: number): EndpointConcurrency | null {
    const lane = this.endpoints.get(endpointId);
    if (!lane) return null;
    return {
      limit: lane.limit,
      ceiling: lane.ceiling,
      adaptive: lane.adaptive !== null,
      inFlight: lane.inFlight,
      buffered: lane.queue.length,
      pausedUntil: lane.pausedUntilMs > nowMs ? new Date(lane.pausedUntilMs) : null,
    };
  }

  /** Each known endpoint's limit (for /metrics). */
  limits(): Array<{ endpointId: string; appId: string; limit: number; inFlight: number }> {
    return [...this.endpoints.values()].map((lane) => ({ endpointId: lane.id, appId: lane.app.id, limit: lane.limit, inFlight: lane.inFlight }));
  }

  /** Requests in flight per application (for /metrics). */
  appsInFlight(): Array<{ appId: string; inFlight: number }> {
    return [...this.apps.values()].map((app) => ({ appId: app.id, inFlight: app.inFlight }));
  }

  /** Forget lanes idle for LANE_IDLE_MS. */
  forgetIdle(nowMs: number): void {
    for (const lane of this.endpoints.values()) {
      if (lane.inFlight > 0 || lane.queue.length > 0 || nowMs - lane.lastActiveMs < LANE_IDLE_MS) continue;
      this.endpoints.delete(lane.id);
      if (--lane.app.lanes === 0 && lane.app.held === 0) this.apps.delete(lane.app.id);
    }
  }

  private laneOf(job: DeliveryJob, nowMs: number): EndpointLane {
    const id = job.delivery.endpointId;
    const own = job.endpoint?.concurrencyLimit ?? null;
    let lane = this.endpoints.get(id);
    if (lane) {
      if (job.endpoint) lane.setOwn(own);
      return lane;
    }
    let app = this.apps.get(job.delivery.appId);
    if (!app) {
      app = new AppLane(job.delivery.appId);
      this.apps.set(app.id, app);
    }
    lane = new EndpointLane(id, app, own, this.options, nowMs);
    this.endpoints.set(id, lane);
    app.lanes++;
    return lane;
  }

  /** A held delivery left (finished, or dropped from the buffer). */
  private release(app: AppLane, held: HeldJob): void {
    app.held--;
    if (held.retry) this.retriesHeld--;
    if (app.held === 0) {
      const index = this.waitingApps.indexOf(app);
      if (index >= 0) {
        this.waitingApps.splice(index, 1);
        if (this.cursor > index) this.cursor--;
      }
    }
  }
}

function removeFrom(list: EndpointLane[], lane: EndpointLane, app: AppLane): void {
  const index = list.indexOf(lane);
  if (index < 0) return;
  list.splice(index, 1);
  if (app.cursor > index) app.cursor--;
}
