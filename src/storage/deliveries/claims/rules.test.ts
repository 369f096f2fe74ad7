import { describe, expect, it } from 'vitest';
import { advancedThrottleTat, claimRoundParams, planClaimRound, roomOf, UNLIMITED_ROOM, type ClaimCandidate } from './rules.js';

const unlimited = { concurrency: null, leased: 0, throttleRate: null, throttleTat: null };

describe('roomOf', () => {
  it('is the free slots under a concurrency limit, never below zero, and unlimited without one', () => {
    expect(roomOf({ ...unlimited, concurrency: 4, leased: 1 }, 0)).toBe(3);
    expect(roomOf({ ...unlimited, concurrency: 4, leased: 6 }, 0)).toBe(0);
    expect(roomOf(unlimited, 0)).toBe(UNLIMITED_ROOM);
  });

  it('lets a throttle start 100 ms worth at once, then one per interval (GCRA)', () => {
    // 20/s: 50 ms apart, 2 at once.
    const fresh = { ...unlimited, throttleRate: 20 };
    expect(roomOf(fresh, 1_000)).toBe(2);
    const tat = advancedThrottleTat(20, null, 1_000, 2);
    expect(tat).toBe(1_100);
    expect(roomOf({ ...fresh, throttleTat: tat }, 1_049)).toBe(0);
    expect(roomOf({ ...fresh, throttleTat: tat }, 1_050)).toBe(1);
    // A pause does not bank more than the burst.
    expect(roomOf({ ...fresh, throttleTat: tat }, 60_000)).toBe(2);
    // 1/s and 5/s allow one at a time; the lesser of slots and throttle wins.
    expect(roomOf({ ...unlimited, throttleRate: 1 }, 0)).toBe(1);
    expect(roomOf({ ...unlimited, throttleRate: 5 }, 0)).toBe(1);
    expect(roomOf({ ...unlimited, throttleRate: 1000, concurrency: 3, leased: 0 }, 0)).toBe(3);
  });
});

describe('planClaimRound', () => {
  const c = (id: string, endpointId: string, dueAt: number, attemptCount = 0, parked = false): ClaimCandidate => ({ id, endpointId, appId: 'app_1', dueAt, attemptCount, parked });

  it('takes each endpoint’s oldest up to its room, parks the rest once, and takes the oldest overall up to the limit', () => {
    const rooms = new Map([['a', 1], ['b', 5]]);
    const plan = planClaimRound([c('a2', 'a', 2), c('a1', 'a', 1), c('a3', 'a', 3, 0, true), c('b1', 'b', 4), c('b2', 'b', 5)], rooms, 2, 10);
    expect(plan.take.map((x) => x.id)).toEqual(['a1', 'b1']);
    expect(plan.park.map((x) => x.id)).toEqual(['a2']);
  });

  it('leaves alone the retries past the budget and the candidates of endpoints it knows nothing of', () => {
    const rooms = new Map([['a', 10]]);
    const plan = planClaimRound([c('r1', 'a', 1, 1), c('r2', 'a', 2, 3), c('f1', 'a', 3), c('x', 'unknown', 0)], rooms, 10, 1);
    expect(plan.take.map((x) => x.id)).toEqual(['r1', 'f1']);
    expect(plan.park).toEqual([]);
  });

  it('counts a candidate read twice (due window and first-attempt window) once', () => {
    const plan = planClaimRound([c('f1', 'a', 1), c('f1', 'a', 1)], new Map([['a', 1]]), 5, 5);
    expect(plan.take.map((x) => x.id)).toEqual(['f1']);
    expect(plan.park).toEqual([]);
  });
});

describe('claimRoundParams', () => {
  it('reads as many as it may take, four times more after each round that parked, and first attempts only when the budget binds', () => {
    const input = { now: new Date(1_000), limit: 10, leaseMs: 500, maxRetries: 3, endpointConcurrency: 4 };
    expect(claimRoundParams(input, 0, 10, 3)).toMatchObject({ now: 1_000, lockedUntil: 1_500, window: 10, firstWindow: 10, defaultConcurrency: 4 });
    expect(claimRoundParams(input, 2, 10, 10)).toMatchObject({ window: 160, firstWindow: 0 });
    expect(claimRoundParams(input, 7, 10, 10).window).toBe(1024);
  });
});
