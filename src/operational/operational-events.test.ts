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
    monotonic = 60_000;
    expect(await ops.ready()).toBe(true);
    expect(lookups).toBe(2);
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
