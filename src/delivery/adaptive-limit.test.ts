import { describe, expect, it } from 'vitest';
import { AdaptiveLimit, INITIAL_LIMIT, MIN_RTT_WINDOW_MS } from './adaptive-limit.js';

/** Feed `rounds` round trips of a busy endpoint: each round, `limit` requests end after `rttMs`. */
function busyRounds(limit: AdaptiveLimit, rounds: number, rttMs: number, startMs = 0): number {
  let now = startMs;
  for (let round = 0; round < rounds; round++) {
    now += rttMs;
    const inFlight = limit.current;
    for (let i = 0; i < inFlight; i++) limit.record({ rttMs, signal: 'success', inFlight, nowMs: now });
  }
  return now;
}

describe('AdaptiveLimit', () => {
  it('starts at INITIAL_LIMIT, or at the ceiling when that is lower', () => {
    expect(new AdaptiveLimit({ ceiling: 64 }).current).toBe(INITIAL_LIMIT);
    expect(new AdaptiveLimit({ ceiling: 2 }).current).toBe(2);
    expect(new AdaptiveLimit({ ceiling: 64, initial: 10 }).current).toBe(10);
  });

  it('doubles every round trip while a healthy endpoint is busy, up to its ceiling', () => {
    const limit = new AdaptiveLimit({ ceiling: 64 });
    busyRounds(limit, 1, 50);
    expect(limit.current).toBe(8);
    busyRounds(limit, 3, 50, 50);
    expect(limit.current).toBe(64);
    busyRounds(limit, 10, 50, 200);
    expect(limit.current).toBe(64);
  });

  it('does not grow while it is mostly unused', () => {
    const limit = new AdaptiveLimit({ ceiling: 64 });
    for (let i = 0; i < 1000; i++) limit.record({ rttMs: 5, signal: 'success', inFlight: 1, nowMs: i * 5 });
    expect(limit.current).toBe(INITIAL_LIMIT);
  });

  it('falls to one slot within a few timeouts of a hanging endpoint', () => {
    const limit = new AdaptiveLimit({ ceiling: 64, initial: 64 });
    let timeouts = 0;
    while (limit.current > 1) {
      limit.record({ rttMs: 15_000, signal: 'overload', inFlight: 64, nowMs: 15_000 });
      timeouts++;
    }
    expect(timeouts).toBe(6);
    limit.record({ rttMs: 15_000, signal: 'overload', inFlight: 1, nowMs: 30_000 });
    expect(limit.current).toBe(1);
  });

  it('grows additively after an overload instead of doubling again', () => {
    const limit = new AdaptiveLimit({ ceiling: 64, initial: 32 });
    limit.record({ rttMs: 50, signal: 'overload', inFlight: 32, nowMs: 0 });
    expect(limit.current).toBe(16);
    busyRounds(limit, 4, 50);
    // About one more per round trip (the fractional steps of the last one may not have added up yet).
    expect(limit.current).toBeGreaterThanOrEqual(19);
    expect(limit.current).toBeLessThanOrEqual(20);
  });

  it('backs off once per round trip when latency climbs well above the recent minimum', () => {
    const limit = new AdaptiveLimit({ ceiling: 64, initial: 40 });
    let now = busyRounds(limit, 2, 50);
    const before = limit.current;
    // The endpoint starts queueing: 400 ms answers. Each round trip takes 10 % off, no more.
    for (let round = 0; round < 5; round++) {
      now += 400;
      for (let i = 0; i < 20; i++) limit.record({ rttMs: 400, signal: 'success', inFlight: 40, nowMs: now });
    }
    expect(limit.current).toBeLessThan(before);
    expect(limit.current).toBeGreaterThanOrEqual(Math.floor(before * 0.9 ** 5));
  });

  it('ignores answers that say nothing about capacity', () => {
    const limit = new AdaptiveLimit({ ceiling: 64 });
    for (let i = 0; i < 100; i++) limit.record({ rttMs: 5, signal: 'answered', inFlight: 4, nowMs: i });
    expect(limit.current).toBe(INITIAL_LIMIT);
  });

  it('measures a lasting change of latency against its new normal after two windows', () => {
    const limit = new AdaptiveLimit({ ceiling: 64, initial: 8 });
    limit.record({ rttMs: 10, signal: 'success', inFlight: 8, nowMs: 0 });
    expect(limit.minRttMs).toBe(10);
    let now = 0;
    while (now < 2 * MIN_RTT_WINDOW_MS + 1) {
      now += 100;
      limit.record({ rttMs: 100, signal: 'success', inFlight: 1, nowMs: now });
    }
    expect(limit.minRttMs).toBe(100);
  });

  it('stays within a ceiling that is lowered', () => {
    const limit = new AdaptiveLimit({ ceiling: 64, initial: 40 });
    limit.setCeiling(5);
    expect(limit.current).toBe(5);
    expect(limit.ceiling).toBe(5);
  });
});
