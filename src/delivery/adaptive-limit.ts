// How many requests one endpoint may have in flight, learned from its answers. A fixed limit is
// either too low for a healthy endpoint that answers in 50 ms (its queue grows forever) or too high
// for a hanging one (it holds worker slots that other endpoints need). This limit is a small AIMD
// controller in the family of TCP Vegas and Netflix's concurrency-limits: it grows while the endpoint
// answers 2xx at its usual latency and falls at once on signs of overload. docs/delivery.md explains
// the choice and the constants.

/** What one finished request says about the endpoint's capacity. */
export type LimitSignal =
  /** A 2xx: the endpoint took the request; its latency is compared with its recent minimum. */
  | 'success'
  /** Any other answer (4xx, 5xx but 429/503): the endpoint is up; says nothing about capacity. */
  | 'answered'
  /** A timeout, a connection error, 429 or 503: the endpoint is overloaded or down. */
  | 'overload';

/** A new endpoint starts with this many requests in flight (or its ceiling, if lower). */
export const INITIAL_LIMIT = 4;
/** On overload the limit is multiplied by this (at least 1 remains): a hanging endpoint with 64 slots is at 1 after six timeouts. */
export const OVERLOAD_FACTOR = 0.5;
/** When latency climbs well above the endpoint's recent minimum the limit is multiplied by this, at most once per round trip. */
export const LATENCY_FACTOR = 0.9;
/**
 * Latency counts as climbing when the smoothed round trip exceeds LATENCY_TOLERANCE × the recent
 * minimum plus LATENCY_SLACK_MS. The slack keeps a fast endpoint (1 ms on a LAN) from reading the
 * worker's own queueing (a busy event loop adds tens of milliseconds to every round trip it times)
 * as overload; for real endpoints (50–500 ms) the ratio dominates. docs/delivery.md has the measurements.
 */
export const LATENCY_TOLERANCE = 2;
export const LATENCY_SLACK_MS = 60;
/** Weight of the newest sample in the smoothed round trip (an exponentially weighted mean). */
export const RTT_SMOOTHING = 0.25;
/**
 * The recent minimum is the least round trip of the current and the previous window of this length,
 * so an endpoint whose latency rose for good (a slower deployment) is measured against its new normal
 * within two windows instead of shrinking forever.
 */
export const MIN_RTT_WINDOW_MS = 10_000;
/** The limit grows only while at least this share of it is in use: an idle limit proves nothing. */
export const BUSY_SHARE = 0.5;

export interface AdaptiveLimitOptions {
  /** The highest the limit may go (≥ 1): the endpoint's own concurrencyLimit, else TAPWIRE_ENDPOINT_CONCURRENCY_MAX. */
  ceiling: number;
  /** Where to start; default min(INITIAL_LIMIT, ceiling). */
  initial?: number;
}

export interface LimitSample {
  /** How long the request took, ms. */
  rttMs: number;
  signal: LimitSignal;
  /** Requests to the endpoint in flight when this one ended, counting it. */
  inFlight: number;
  /** Monotonic time of the sample, ms. */
  nowMs: number;
}

/**
 * One endpoint's limit. Slow start first (+1 per busy success: the limit doubles every round trip,
 * so a fast endpoint reaches a ceiling of 64 from 4 in four round trips); after the first decrease,
 * additive increase (+1 per round trip's worth of successes). Overload halves it on every such
 * sample; latency above the tolerance takes 10 % off once per round trip.
 */
export class AdaptiveLimit {
  private value: number;
  private ceilingValue: number;
  private slowStart = true;
  private smoothedRttMs: number | null = null;
  private windowMinMs = Infinity;
  private previousWindowMinMs = Infinity;
  private windowStartedMs: number | null = null;
  private lastLatencyDecreaseMs = -Infinity;

  constructor(options: AdaptiveLimitOptions) {
    this.ceilingValue = Math.max(1, Math.floor(options.ceiling));
    this.value = clamp(options.initial ?? Math.min(INITIAL_LIMIT, this.ceilingValue), 1, this.ceilingValue);
  }

  /** Requests the endpoint may have in flight now (a whole number from 1 to the ceiling). */
  get current(): number {
    return Math.max(1, Math.floor(this.value));
  }

  get ceiling(): number {
    return this.ceilingValue;
  }

  /** The recent minimum round trip in ms, null before the first sample. */
  get minRttMs(): number | null {
    const min = Math.min(this.windowMinMs, this.previousWindowMinMs);
    return Number.isFinite(min) ? min : null;
  }

  /** The endpoint's ceiling changed (its concurrencyLimit was edited): the limit stays within it. */
  setCeiling(ceiling: number): void {
    this.ceilingValue = Math.max(1, Math.floor(ceiling));
    this.value = clamp(this.value, 1, this.ceilingValue);
  }

  /** Learn from one finished request. */
  record(sample: LimitSample): void {
    if (sample.signal === 'overload') {
      this.slowStart = false;
      this.value = Math.max(1, this.value * OVERLOAD_FACTOR);
      return;
    }
    if (sample.signal !== 'success') return;
    const rtt = Math.max(0, sample.rttMs);
    this.observeRtt(rtt, sample.nowMs);
    const smoothed = this.smoothedRttMs ?? rtt;
    const minRtt = this.minRttMs ?? rtt;
    if (smoothed > LATENCY_TOLERANCE * minRtt + LATENCY_SLACK_MS) {
      // Queueing at the endpoint: back off, once per round trip (the samples of requests sent
      // before the cut would otherwise cut again for the same queue).
      if (sample.nowMs - this.lastLatencyDecreaseMs >= smoothed) {
        this.slowStart = false;
        this.lastLatencyDecreaseMs = sample.nowMs;
        this.value = Math.max(1, this.value * LATENCY_FACTOR);
      }
      return;
    }
    if (sample.inFlight < this.value * BUSY_SHARE) return;
    this.value = Math.min(this.ceilingValue, this.value + (this.slowStart ? 1 : 1 / this.value));
  }

  private observeRtt(rttMs: number, nowMs: number): void {
    this.smoothedRttMs = this.smoothedRttMs === null ? rttMs : this.smoothedRttMs + RTT_SMOOTHING * (rttMs - this.smoothedRttMs);
    if (this.windowStartedMs === null) this.windowStartedMs = nowMs;
    if (nowMs - this.windowStartedMs >= MIN_RTT_WINDOW_MS) {
      // Two windows without a sample: the old minimum says nothing any more.
      this.previousWindowMinMs = nowMs - this.windowStartedMs >= 2 * MIN_RTT_WINDOW_MS ? Infinity : this.windowMinMs;
      this.windowMinMs = Infinity;
      this.windowStartedMs = nowMs;
    }
    this.windowMinMs = Math.min(this.windowMinMs, rttMs);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
