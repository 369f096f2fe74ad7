import { describe, expect, it } from 'vitest';
import { OperationalEvents } from './operational-events.js';

describe('OperationalEvents', () => {
  it('builds nothing until the operational application is known, and looks for it again at most every 5 s', async () => {
    let monotonic = 0;
    let lookups = 0;
    let existing: string | null = null;
    const ops = new OperationalEvents(null, async () => {
      lookups++;
      return existing;
    }, () => monotonic);
    expect(await ops.ready()).toBe(false);
    expect(lookups).toBe(1);
    existing = 'app_ops';
    monotonic = 4_999;
    expect(await ops.ready()).toBe(false);
    expect(lookups).toBe(1);
    monotonic = 5_000;
    expect(await ops.ready()).toBe(true);
    expect(ops.appId).toBe('app_ops');
    expect(ops.covers('app_ops')).toBe(false);
    expect(ops.covers('app_other')).toBe(true);
    monotonic = 64_999;
    expect(await ops.ready()).toBe(true);
    expect(lookups).toBe(2);
    // Once known it is checked every minute: deleted, then made again with a new id by another process.
    existing = null;
    monotonic = 65_000;
    expect(await ops.ready()).toBe(false);
    expect(lookups).toBe(3);
    existing = 'app_again';
    monotonic = 70_000;
    expect(await ops.ready()).toBe(true);
    expect(ops.appId).toBe('app_again');
  });

  it('keeps what it knew when a lookup fails', async () => {
    let monotonic = 0;
    let fail = false;
    const ops = new OperationalEvents('app_ops', async () => {
      if (fail) throw new Error('store unavailable');
      return 'app_ops';
    }, () => monotonic);
    fail = true;
    monotonic = 120_000;
    expect(await ops.ready()).toBe(true);
    expect(ops.appId).toBe('app_ops');
  });

  it('knows the application at once when this process creates it', async () => {
    const ops = new OperationalEvents(null);
    expect(await ops.ready()).toBe(false);
    ops.adopt('app_new');
    expect(await ops.ready()).toBe(true);
    const event = ops.endpointEvent('endpoint.created', { id: 'app_1', uid: null }, { id: 'ep_1', uid: 'u' }, new Date(0));
    expect(event.appId).toBe('app_new');
    expect(JSON.parse(event.payload!)).toEqual({ type: 'endpoint.created', timestamp: new Date(0).toISOString(), data: { appId: 'app_1', appUid: null, endpointId: 'ep_1', endpointUid: 'u' } });
  });
});
