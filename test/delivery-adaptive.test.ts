// Adaptive concurrency and fair shares (issue 16), seen where they matter: at real receivers on
// loopback. An endpoint's limit grows while it answers well and collapses when it hangs; one
// application's backlog does not hold up another's deliveries; an endpoint answering 429 with
// Retry-After is left alone for as long as it asks. Every wait is on a condition, never a sleep; no
// assertion depends on how fast the machine is.
import { describe, expect, it } from 'vitest';
import { startConcurrencyProbe, type Probe, type ProbeAnswer } from './helpers/concurrency-probe.js';
import { createApp, createEndpoint, eventually, expectStatus, sendMessage, useDeliveryFixtures } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { useBackend, type TestTapwire } from './helpers/tapwire.js';

const { setup, receiver, defer } = useDeliveryFixtures();

async function startProbe(answer?: (nth: number) => ProbeAnswer): Promise<Probe> {
  const probe = await startConcurrencyProbe(answer);
  defer(() => probe.close());
  return probe;
}

/** POST `count` messages, `parallel` at a time. */
async function sendMany(tw: TestTapwire, appId: string, count: number, parallel = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        await sendMessage(tw, appId, { eventType: 'order.placed', payload: { i } });
      }
    }),
  );
}

interface Concurrency {
  limit: number;
  ceiling: number;
  adaptive: boolean;
  inFlight: number;
  buffered: number;
  pausedUntil: string | null;
}

async function concurrencyOf(tw: TestTapwire, appId: string, endpointId: string): Promise<Concurrency> {
  const res = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${endpointId}/stats`), 200, 'endpoint stats');
  return res.body.concurrency as Concurrency;
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  it('shows an endpoint it has not delivered to yet at its starting limit', async () => {
    const { tw, appId } = await setup();
    const own = await createEndpoint(tw, appId, { url: 'https://example.com/own', concurrencyLimit: 2 });
    const plain = await createEndpoint(tw, appId, { url: 'https://example.com/plain' });
    expect(await concurrencyOf(tw, appId, plain.id)).toEqual({ limit: 4, ceiling: 64, adaptive: true, inFlight: 0, buffered: 0, pausedUntil: null });
    expect(await concurrencyOf(tw, appId, own.id)).toMatchObject({ limit: 2, ceiling: 2, adaptive: true });
  });

  it('raises the limit of a healthy endpoint under load, never past its ceiling', async () => {
    const { tw, appId } = await setup({ TAPWIRE_ENDPOINT_CONCURRENCY_MAX: '12' });
    const probe = await startProbe(() => ({ status: 200, delayMs: 20 }));
    const { id } = await createEndpoint(tw, appId, { url: probe.url });
    await sendMany(tw, appId, 300);
    await probe.waitFor(() => probe.arrivals.length >= 300, 'every message delivered', 30_000);
    // It started at 4 requests in flight and went past that, up to the ceiling and no further.
    expect(probe.maxActive).toBeGreaterThan(4);
    expect(probe.maxActive).toBeLessThanOrEqual(12);
    const concurrency = await concurrencyOf(tw, appId, id);
    expect(concurrency.limit).toBeGreaterThan(4);
    expect(concurrency.ceiling).toBe(12);
  });

  it('collapses the limit of a hanging endpoint to one request in flight', async () => {
    const { tw, appId } = await setup({ TAPWIRE_REQUEST_TIMEOUT: '300ms', TAPWIRE_RETRY_SCHEDULE: '1h' });
    const probe = await startProbe(() => 'hang');
    const { id } = await createEndpoint(tw, appId, { url: probe.url });
    await sendMany(tw, appId, 40);
    // Four requests at first; each timeout halves the limit.
    const collapsed = await eventually(
      () => concurrencyOf(tw, appId, id),
      (c) => c.limit === 1,
      { timeoutMs: 20_000, what: 'the limit at 1' },
    );
    expect(collapsed.inFlight).toBeLessThanOrEqual(4);
    // From now on one request at a time: each starts when the one before timed out (300 ms).
    const seen = probe.arrivals.length;
    await probe.waitFor(() => probe.arrivals.length >= seen + 4, 'four more attempts', 20_000);
    const at = probe.arrivals.slice(seen).map((a) => a.at);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(250);
    const now = await concurrencyOf(tw, appId, id);
    expect(now.limit).toBe(1);
    expect(now.inFlight).toBeLessThanOrEqual(1);
  });

  it('serves another application at once while one holds its share of the worker with a backlog', async () => {
    // 8 slots: each application may have 4 requests in flight.
    const { tw, appId: busyApp } = await setup({ TAPWIRE_WORKER_CONCURRENCY: '8', TAPWIRE_REQUEST_TIMEOUT: '60s' });
    const hanging = await Promise.all([startProbe(() => 'hang'), startProbe(() => 'hang'), startProbe(() => 'hang')]);
    for (const probe of hanging) await createEndpoint(tw, busyApp, { url: probe.url });
    await sendMany(tw, busyApp, 100);
    // The busy application takes its share (4 slots) and no more, across its three endpoints.
    await eventually(
      async () => hanging.reduce((n, p) => n + p.active, 0),
      (n) => n === 4,
      { timeoutMs: 10_000, what: 'four requests of the busy application in flight' },
    );
    const otherApp = await createApp(tw, 'Other');
    const fast = await startProbe();
    await createEndpoint(tw, otherApp, { url: fast.url });
    for (let i = 0; i < 5; i++) await sendMessage(tw, otherApp, { eventType: 'order.placed', payload: { i } });
    await fast.waitFor(() => fast.arrivals.length === 5, "every one of the other application's messages", 10_000);
    // Meanwhile the busy application still holds exactly its share.
    expect(hanging.reduce((n, p) => n + p.maxActive, 0)).toBeLessThanOrEqual(4 * 3);
    expect(hanging.reduce((n, p) => n + p.active, 0)).toBe(4);
  });

  it('leaves an endpoint answering 429 alone for its Retry-After, then delivers everything', async () => {
    const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms,100ms' });
    const rx = await receiver();
    let limitedUntil = Infinity;
    rx.respond((req) => {
      if (req.at < limitedUntil) return { status: 429, headers: { 'retry-after': '1' } };
      return { status: 200 };
    });
    const { id } = await createEndpoint(tw, appId, { url: rx.url });
    await sendMany(tw, appId, 20);
    await rx.waitFor((r) => r.length >= 1);
    const first429 = rx.requests[0]!.at;
    // The requests sent before the first 429 came back are answered 429 too; then it is paused.
    const paused = await eventually(
      () => concurrencyOf(tw, appId, id),
      (c) => c.pausedUntil !== null,
      { timeoutMs: 5_000, what: 'the endpoint paused' },
    );
    expect(paused.limit).toBeLessThan(4);
    // Three more requests, each a pause apart: about one a second, not one per queued message.
    await rx.waitFor((r) => r.filter((q) => q.at > first429 + 200).length >= 3, 10_000);
    const later = rx.requests.filter((q) => q.at > first429 + 200).map((q) => q.at);
    for (let i = 1; i < 3; i++) expect(later[i]! - later[i - 1]!).toBeGreaterThanOrEqual(900);
    // It recovers: every message arrives.
    limitedUntil = Date.now();
    await eventually(
      async () => {
        const stats = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${id}/stats`), 200, 'stats').body;
        return stats.success as number;
      },
      (success) => success === 20,
      { timeoutMs: 30_000, what: 'all 20 delivered' },
    );
  });
});
