import { describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../storage/store.js';
import { DeliveryLanes, leaseBudgetFor, restingConcurrency, type HeldJob } from './delivery-lanes.js';

let seq = 0;
/** A buffered delivery of `appId` to `endpointId` (only the fields the lanes read). */
function held(appId: string, endpointId: string, options: { retry?: boolean; id?: string; concurrencyLimit?: number } = {}): HeldJob {
  const id = options.id ?? `msgep_${++seq}`;
  const job = {
    delivery: { id, appId, endpointId, attemptCount: options.retry ? 1 : 0 },
    message: {},
    endpoint: { id: endpointId, appId, ...(options.concurrencyLimit !== undefined ? { concurrencyLimit: options.concurrencyLimit } : {}) },
  } as unknown as DeliveryJob;
  return { job, lockedUntil: new Date(60_000), retry: options.retry ?? false };
}

function lanes(options: Partial<ConstructorParameters<typeof DeliveryLanes>[0]> = {}): DeliveryLanes {
  return new DeliveryLanes({ appConcurrency: 4, endpointCeiling: 64, fixedLimit: null, ...options });
}

/** Take until nothing may start; the app ids in the order taken. */
function drain(l: DeliveryLanes, nowMs = 0): string[] {
  const taken: string[] = [];
  for (let h = l.take(nowMs); h; h = l.take(nowMs)) taken.push(h.job.delivery.appId);
  return taken;
}

describe('DeliveryLanes', () => {
  it('serves applications in turn, one request each, whatever order they were claimed in', () => {
    const l = lanes({ appConcurrency: 100 });
    for (let i = 0; i < 4; i++) l.add(held('app_a', `ep_a${i}`), 0);
    for (let i = 0; i < 2; i++) l.add(held('app_b', `ep_b${i}`), 0);
    expect(drain(l)).toEqual(['app_a', 'app_b', 'app_a', 'app_b', 'app_a', 'app_a']);
  });

  it("holds an application to its share of requests in flight and an endpoint to its limit", () => {
    const l = lanes({ appConcurrency: 3 });
    for (let i = 0; i < 10; i++) l.add(held('app_a', 'ep_1'), 0);
    for (let i = 0; i < 10; i++) l.add(held('app_a', 'ep_2'), 0);
    // The application's share (3) binds before either endpoint's starting limit (4).
    expect(drain(l)).toHaveLength(3);
    expect(l.inFlight).toBe(3);
    const one = lanes({ appConcurrency: 100 });
    for (let i = 0; i < 10; i++) one.add(held('app_a', 'ep_1'), 0);
    expect(drain(one)).toHaveLength(4);
    expect(one.endpointConcurrency('ep_1', 0)).toMatchObject({ limit: 4, inFlight: 4, buffered: 6 });
  });

  it('frees the slots of a request when it ends and learns from its answer', () => {
    const l = lanes({ appConcurrency: 100 });
    for (let i = 0; i < 20; i++) l.add(held('app_a', 'ep_1'), 0);
    const first = l.take(0)!;
    for (let i = 0; i < 3; i++) l.take(0);
    expect(l.take(0)).toBeNull();
    l.finished(first, { signal: 'success', rttMs: 10, nowMs: 10 });
    // Slow start: a busy success raises the limit by one, so two may start.
    expect(l.endpointConcurrency('ep_1', 10)!.limit).toBe(5);
    expect(drain(l, 10)).toHaveLength(2);
  });

  it('pauses an endpoint for a Retry-After and budgets it no new leases meanwhile', () => {
    const l = lanes({ appConcurrency: 100 });
    for (let i = 0; i < 5; i++) l.add(held('app_a', 'ep_1'), 0);
    const h = l.take(0)!;
    l.finished(h, { signal: 'overload', rttMs: 5, retryAfterMs: 1_000, nowMs: 5 });
    expect(l.endpointConcurrency('ep_1', 5)).toMatchObject({ limit: 2, pausedUntil: new Date(1_005) });
    expect(l.take(500)).toBeNull();
    expect(l.nextResumeMs(500)).toBe(1_005);
    expect(l.budgets(500)).toEqual({ ep_1: 4 }); // what it holds, nothing more
    expect(l.take(1_005)).not.toBeNull();
    expect(l.budgets(1_005)).toEqual({ ep_1: leaseBudgetFor(2) });
  });

  it('names an application full once it holds twice its share, and counts holdings only up to that', () => {
    const l = lanes({ appConcurrency: 2 });
    for (let i = 0; i < 3; i++) l.add(held('app_a', 'ep_1'), 0);
    expect(l.fullApplications()).toEqual([]);
    for (let i = 0; i < 7; i++) l.add(held('app_a', 'ep_1'), 0);
    l.add(held('app_b', 'ep_2'), 0);
    expect(l.fullApplications()).toEqual(['app_a']);
    expect(l.heldWithinShares()).toBe(4 + 1);
  });

  it('drops buffered deliveries by id, and a delivery claimed again replaces its old lease', () => {
    const l = lanes();
    l.add(held('app_a', 'ep_1', { id: 'msgep_x', retry: true }), 0);
    l.add(held('app_a', 'ep_1', { id: 'msgep_y' }), 0);
    const again = held('app_a', 'ep_1', { id: 'msgep_x', retry: true });
    again.lockedUntil = new Date(90_000);
    l.add(again, 0);
    expect(l.buffered).toBe(2);
    expect(l.retriesHeld).toBe(1);
    expect(l.expiring(70_000).map((h) => h.job.delivery.id)).toEqual(['msgep_y']);
    expect(l.drop(new Set(['msgep_y'])).map((h) => h.job.delivery.id)).toEqual(['msgep_y']);
    expect(l.dropAll().map((h) => h.lockedUntil.getTime())).toEqual([90_000]);
    expect(l.buffered).toBe(0);
    expect(l.retriesHeld).toBe(0);
  });

  it('keeps an endpoint to its own concurrencyLimit, and to a fixed limit when adaptation is off', () => {
    const l = lanes({ appConcurrency: 100 });
    for (let i = 0; i < 5; i++) l.add(held('app_a', 'ep_1', { concurrencyLimit: 2 }), 0);
    expect(drain(l)).toHaveLength(2);
    expect(l.endpointConcurrency('ep_1', 0)).toMatchObject({ limit: 2, ceiling: 2, adaptive: true });
    const fixed = lanes({ appConcurrency: 100, fixedLimit: 3 });
    for (let i = 0; i < 5; i++) fixed.add(held('app_a', 'ep_1'), 0);
    expect(drain(fixed)).toHaveLength(3);
    expect(fixed.budgets(0)).toBeNull();
    expect(restingConcurrency({ endpointCeiling: 64, fixedLimit: 3 }, null)).toMatchObject({ limit: 3, adaptive: false });
    expect(restingConcurrency({ endpointCeiling: 64, fixedLimit: null }, 2)).toMatchObject({ limit: 2, ceiling: 2, adaptive: true });
  });
});
