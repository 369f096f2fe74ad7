// One slow or dead endpoint must not slow the others (design.md §5, issue 5): a hanging endpoint
// holds at most its concurrency limit of worker slots while healthy ones get everything at once; no
// endpoint ever sees more attempts in flight than its limit; a throttled endpoint (or application) receives at its
// rate without the worker spinning; and retries waiting on a slow endpoint leave the first-attempt
// reserve to fresh messages. Every wait is on a condition seen at a real receiver.
import { Svix } from 'svix';
import { describe, expect, it } from 'vitest';
import { startConcurrencyProbe, type Probe, type ProbeAnswer } from './helpers/concurrency-probe.js';
import { createEndpoint, expectStatus, sendMessage, useDeliveryFixtures } from './helpers/delivery.js';
import { startHostileReceiver } from './helpers/hostile-receiver.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, useBackend, type TestTapwire } from './helpers/tapwire.js';

const { setup, defer } = useDeliveryFixtures();

/** A probe whose requests are dropped after the test. */
async function startProbe(answer?: (nth: number) => ProbeAnswer): Promise<Probe> {
  const probe = await startConcurrencyProbe(answer);
  defer(() => probe.close());
  return probe;
}

/** POST `count` messages, `parallel` at a time; returns their ids in order. */
async function sendMany(tw: TestTapwire, appId: string, count: number, eventType: string, parallel = 16): Promise<string[]> {
  const ids: string[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        ids[i] = await sendMessage(tw, appId, { eventType, payload: { i } });
      }
    }),
  );
  return ids;
}

/** Poll `check` until it holds. */
async function waitUntil(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what()}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Arrivals of first attempts only (a webhook-id's first request). */
const firstArrivals = (probe: Probe): number => probe.arrivals.filter((a) => a.nth === 1).length;

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  it('a hanging endpoint with 1000 queued holds only its limit of slots while three healthy ones get everything', async () => {
    // Hanging attempts must stay in flight for the whole test: a long deadline.
    const { tw, appId } = await setup({ TAPWIRE_ENDPOINT_CONCURRENCY: '3', TAPWIRE_WORKER_CONCURRENCY: '16', TAPWIRE_REQUEST_TIMEOUT: '60s' });
    const hanging = await startProbe(() => 'hang');
    const hangingEndpoint = await createEndpoint(tw, appId, { url: hanging.url });
    await sendMany(tw, appId, 1000, 'backlog.made');
    await hanging.waitFor(() => hanging.active === 3, 'the hanging endpoint holding its 3 slots');

    const healthy = await Promise.all([startProbe(), startProbe(), startProbe()]);
    for (const probe of healthy) await createEndpoint(tw, appId, { url: probe.url });
    // Each fans out to all four endpoints: the hanging one's backlog only grows.
    await sendMany(tw, appId, 30, 'order.placed');
    for (const probe of healthy) await probe.waitFor(() => firstArrivals(probe) === 30, 'every message at a healthy endpoint');

    // The hanging endpoint never answered, and never got a fourth request.
    expect(hanging.maxActive).toBe(3);
    expect(hanging.arrivals).toHaveLength(3);
    expect(hanging.active).toBe(3);
    for (const probe of healthy) expect(probe.maxActive).toBeLessThanOrEqual(3);
    // Its 1030 deliveries wait their turn: still pending, not failed or lost.
    const stats = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${hangingEndpoint.id}/stats`), 200, 'stats');
    expect(stats.body.pending + stats.body.sending).toBe(1030);
  });

  it('never has more attempts in flight to an endpoint than its own limit or the default', async () => {
    const { tw, appId } = await setup({ TAPWIRE_ENDPOINT_CONCURRENCY: '2', TAPWIRE_WORKER_CONCURRENCY: '32' });
    const slow = (): ProbeAnswer => ({ status: 200, delayMs: 30 });
    const byDefault = await startProbe(slow);
    const own = await startProbe(slow);
    const defaultEndpoint = await createEndpoint(tw, appId, { url: byDefault.url });
    const ownRes = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: own.url, concurrencyLimit: 5 }), 201, 'create endpoint');
    expect(ownRes.body.concurrencyLimit).toBe(5);
    expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${defaultEndpoint.id}`), 200, 'get').body).not.toHaveProperty('concurrencyLimit');

    await sendMany(tw, appId, 40, 'order.placed');
    await byDefault.waitFor(() => byDefault.arrivals.length === 40, 'all 40 at the default-limited endpoint');
    await own.waitFor(() => own.arrivals.length === 40, 'all 40 at the endpoint with its own limit');
    // 40 slow deliveries queued at once fill each endpoint to its limit, and never past it.
    expect(byDefault.maxActive).toBe(2);
    expect(own.maxActive).toBe(5);
  });

  it('keeps concurrencyLimit through PATCH, drops it with null, and the svix client reads such endpoints', async () => {
    const { tw, appId } = await setup();
    const probe = await startProbe();
    const { id } = await createEndpoint(tw, appId, { url: probe.url, concurrencyLimit: 7, rateLimit: 10 });
    const svix = new Svix(ADMIN_TOKEN, { serverUrl: tw.url });
    expect(await svix.endpoint.get(appId, id)).toMatchObject({ id, rateLimit: 10 });
    await svix.endpoint.patch(appId, id, { description: 'patched by svix' });
    expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${id}`), 200, 'get').body).toMatchObject({ concurrencyLimit: 7, description: 'patched by svix' });
    const cleared = expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${id}`, { concurrencyLimit: null }), 200, 'patch');
    expect(cleared.body).not.toHaveProperty('concurrencyLimit');
    const bad = await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${id}`, { concurrencyLimit: 0 });
    expect(bad.status).toBe(422);
  });

  it('delivers to a throttled endpoint at its rate, without spinning, while its neighbour is not held up', async () => {
    const { tw, appId } = await setup();
    const rate = 20;
    const burst = 2; // 100 ms worth at 20/s
    const count = 60;
    const throttled = await startProbe();
    const neighbour = await startProbe();
    await createEndpoint(tw, appId, { url: neighbour.url });
    // Warm the worker first (its database connections and prepared statements open on first use):
    // the throttle counts from each claim, and a cold first claim delays the first arrivals behind
    // their slots, which would make the measured span below shorter than the throttle's.
    await sendMany(tw, appId, 1, 'warm-up');
    await neighbour.waitFor(() => neighbour.arrivals.length === 1, 'the warm-up message at the neighbour');
    await createEndpoint(tw, appId, { url: throttled.url, throttleRate: rate });
    const store = tw.server.store;
    let claims = 0;
    const claim = store.claimDueDeliveries.bind(store);
    store.claimDueDeliveries = (input) => {
      claims++;
      return claim(input);
    };

    await sendMany(tw, appId, count, 'tick');
    await neighbour.waitFor(() => neighbour.arrivals.length === count + 1, 'every message at the unthrottled neighbour');
    // The neighbour was served while the throttled endpoint was still at the start of its 3 s.
    expect(throttled.arrivals.length).toBeLessThan(count * 0.67);
    await throttled.waitFor(() => throttled.arrivals.length === count, 'every message at the throttled endpoint', 30_000);

    // Attempts start at most rate + burst in any 1 s. Measured at the receiver, an arrival may lag its
    // start (a busy event loop, a new connection): allowing up to 100 ms of that, the arrivals of any
    // 0.9 s started within 1 s.
    const jitterMs = 100;
    const at = throttled.arrivals.map((a) => a.at);
    for (let i = 0; i < at.length; i++) {
      expect(at.filter((t) => t >= at[i]! && t < at[i]! + 1000 - jitterMs).length).toBeLessThanOrEqual(rate + burst);
    }
    // After the burst, the rest take (n - burst) / rate seconds. The first arrival may lag its start
    // more than the others (a new connection on a loaded machine), which only shortens the span.
    expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual(((count - burst) / rate) * 1000 - 2.5 * jitterMs);
    // The worker slept between starts: a few claims per delivery, not a poll every millisecond.
    expect(claims).toBeLessThan(count * 2 * 6);
  });

  it('delivers to a throttled application at its rate across its endpoints, while another application is not held up', async () => {
    const { tw, appId } = await setup();
    const rate = 20;
    const burst = 2; // 100 ms worth at 20/s
    const count = 30; // each to both endpoints: 60 deliveries
    const first = await startProbe();
    const second = await startProbe();
    const otherProbe = await startProbe();
    await createEndpoint(tw, appId, { url: first.url });
    await createEndpoint(tw, appId, { url: second.url });
    const otherId = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'not throttled' }), 201, 'create app').body.id as string;
    await createEndpoint(tw, otherId, { url: otherProbe.url });
    // Warm the worker (as above), then throttle the application.
    await sendMany(tw, appId, 1, 'warm-up');
    await waitUntil(() => first.arrivals.length === 1 && second.arrivals.length === 1, 20_000, () => 'the warm-up message at both endpoints');
    expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}`, { throttleRate: rate }), 200, 'throttle the application');

    await sendMany(tw, appId, count, 'tick');
    await sendMany(tw, otherId, count, 'tick');
    await otherProbe.waitFor(() => otherProbe.arrivals.length === count, 'every message of the other application');
    // The other application was served while the throttled one was still early in its 3 s.
    expect(first.arrivals.length + second.arrivals.length - 2).toBeLessThan(2 * count * 0.67);
    await waitUntil(() => first.arrivals.length + second.arrivals.length === 2 * count + 2, 30_000, () => 'every delivery of the throttled application');

    // As for an endpoint's throttle, over both endpoints together (see the test above).
    const jitterMs = 100;
    const starts = [...first.arrivals.slice(1), ...second.arrivals.slice(1)].map((a) => a.at).sort((a, b) => a - b);
    expect(starts).toHaveLength(2 * count);
    for (let i = 0; i < starts.length; i++) {
      expect(starts.filter((t) => t >= starts[i]! && t < starts[i]! + 1000 - jitterMs).length).toBeLessThanOrEqual(rate + burst);
    }
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(((2 * count - burst) / rate) * 1000 - 2.5 * jitterMs);
  });

  it('keeps the first-attempt reserve for fresh messages while retries wait on a hanging endpoint', async () => {
    // 8 slots, 2 of them for first attempts only; the failing endpoint (of the one application, so
    // its share is every slot) may take all it can get.
    const { tw, appId } = await setup({
      TAPWIRE_WORKER_CONCURRENCY: '8',
      TAPWIRE_APP_CONCURRENCY_MAX: '8',
      TAPWIRE_FIRST_ATTEMPT_RESERVE: '25%',
      TAPWIRE_ENDPOINT_CONCURRENCY: '100',
      TAPWIRE_RETRY_SCHEDULE: '10ms,10ms,10ms',
      TAPWIRE_REQUEST_TIMEOUT: '60s',
    });
    for (const name of ['storm.event', 'fresh.event']) expectStatus(await tw.api('POST', '/api/v1/event-type', { name, description: name }), 201, 'event type');
    // First attempts fail at once; every retry hangs: a storm of retries holding their slots.
    const failing = await startProbe((nth) => (nth === 1 ? { status: 500 } : 'hang'));
    const fresh = await startProbe();
    await createEndpoint(tw, appId, { url: failing.url, filterTypes: ['storm.event'] });
    await createEndpoint(tw, appId, { url: fresh.url, filterTypes: ['fresh.event'] });

    await sendMany(tw, appId, 20, 'storm.event');
    await failing.waitFor(() => firstArrivals(failing) === 20 && failing.maxActiveRetries >= 6, '6 retries hanging');
    // 14 more retries are due and waiting; fresh messages still get the 2 reserved slots.
    await sendMany(tw, appId, 5, 'fresh.event');
    await fresh.waitFor(() => fresh.arrivals.length === 5, 'every fresh message delivered beside the storm');
    expect(failing.maxActiveRetries).toBe(6);
    expect(failing.arrivals.filter((a) => a.nth > 1)).toHaveLength(6);
  });

  it('gives every endpoint on one host its own sockets: hanging neighbours holding 20 cannot starve a healthy one', async () => {
    // Regression (chaos suite): the worker's pool allowed 16 sockets per origin, so five hanging
    // endpoints on one host (4 slots each) took them all and a healthy endpoint on the same host
    // timed out queued inside the client, its requests never sent.
    const { tw, appId } = await setup({ TAPWIRE_ENDPOINT_CONCURRENCY: '4', TAPWIRE_REQUEST_TIMEOUT: '5s' });
    const host = await startHostileReceiver({ random: () => 1, failRate: 0, redirectTo: 'http://127.0.0.1:9/' });
    defer(() => host.close());
    for (let i = 0; i < 5; i++) await createEndpoint(tw, appId, { url: `${host.url}/hang/${i}` });
    await sendMany(tw, appId, 8, 'order.placed');
    // All 5 × 4 hanging attempts are sent at once, well before any deadline…
    await waitUntil(() => host.requests.hang === 20, 3_000, () => `20 hanging requests sent (${host.requests.hang} so far)`);
    // …and a healthy endpoint on the same host (flaky with failRate 0 always answers 200) is served at once.
    await createEndpoint(tw, appId, { url: `${host.url}/flaky` });
    const healthyIds = await sendMany(tw, appId, 5, 'order.placed');
    await waitUntil(() => host.requests.flaky === healthyIds.length, 3_000, () => `${healthyIds.length} healthy requests sent (${host.requests.flaky} so far)`);
  });
});
