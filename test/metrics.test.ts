// GET /metrics against a real server: attempts by outcome and their latency, the in-flight gauge of
// a hanging endpoint, SSRF refusals, and queue gauges read from the store, on both backends.
import { describe, expect, it } from 'vitest';
import { createEndpoint, createEventTypes, eventually, expectStatus, sendMessage, useDeliveryFixtures, waitForDestinationStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, useBackend } from './helpers/tapwire.js';

/** The value of the sample `name{labels}` in a Prometheus text exposition (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A dns.lookup stand-in: every name resolves to `address`. */
function resolveEverythingTo(address: string): typeof import('node:dns').lookup {
  return ((_hostname: string, options: unknown, callback?: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, a: unknown, family?: number) => void;
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
    queueMicrotask(() => (all ? cb(null, [{ address, family: 4 }]) : cb(null, address, 4)));
  }) as unknown as typeof import('node:dns').lookup;
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);
  const fixtures = useDeliveryFixtures();

  it('reports attempts by outcome, latency, in-flight requests, SSRF refusals and the queue', async () => {
    // Only 127.0.0.1 may be dialed; names resolve to 127.0.0.2, which the guard refuses.
    const { tw, appId } = await fixtures.setup({ TAPWIRE_ALLOWED_NETWORKS: '127.0.0.1/32' }, { lookup: resolveEverythingTo('127.0.0.2') });
    const ok = await fixtures.receiver();
    const failing = await fixtures.receiver();
    failing.respond(() => ({ status: 500, body: 'down' }));
    const hanging = await fixtures.receiver();
    hanging.respond(() => 'hang');
    await createEventTypes(tw, 'ok.event', 'fail.event', 'hang.event', 'blocked.event');
    const okEp = await createEndpoint(tw, appId, { url: ok.url, filterTypes: ['ok.event'] });
    const failEp = await createEndpoint(tw, appId, { url: failing.url, filterTypes: ['fail.event'] });
    const hangEp = await createEndpoint(tw, appId, { url: hanging.url, filterTypes: ['hang.event'], concurrencyLimit: 1 });
    const blockedEp = await createEndpoint(tw, appId, { url: 'http://internal.example.test:8080/hook', filterTypes: ['blocked.event'] });

    const okMsgs = [await sendMessage(tw, appId, { eventType: 'ok.event', payload: { n: 1 } }), await sendMessage(tw, appId, { eventType: 'ok.event', payload: { n: 2 } })];
    const failMsg = await sendMessage(tw, appId, { eventType: 'fail.event', payload: {} });
    const blockedMsg = await sendMessage(tw, appId, { eventType: 'blocked.event', payload: {} });
    for (let i = 0; i < 4; i++) await sendMessage(tw, appId, { eventType: 'hang.event', payload: { i } });

    for (const id of okMsgs) await waitForDestinationStatus(tw, appId, id, okEp.id, 0);
    // The test schedule retries twice (20 ms, 40 ms): three attempts, then failed.
    await waitForDestinationStatus(tw, appId, failMsg, failEp.id, 2);
    await waitForDestinationStatus(tw, appId, blockedMsg, blockedEp.id, 2);
    await hanging.waitFor((requests) => requests.length === 1);

    const scrape = async (): Promise<string> => {
      const res = await fetch(`${tw.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      return res.text();
    };
    // The hanging endpoint holds its one slot; its other three deliveries wait, due (parked) or
    // leased into the worker's buffer behind that slot (the endpoint stats say how many).
    const buffered = async (): Promise<number> =>
      expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${hangEp.id}/stats`), 200, 'stats').body.concurrency.buffered as number;
    let text = '';
    await eventually(
      async () => {
        text = await scrape();
        return (sample(text, 'tapwire_queue_due') ?? 0) + (await buffered());
      },
      (waiting) => waiting === 3,
      { what: 'three hanging deliveries waiting' },
    );
    expect(sample(text, 'tapwire_delivery_attempts_total{outcome="success"}')).toBe(2);
    expect(sample(text, 'tapwire_delivery_attempts_total{outcome="retry"}')).toBe(4);
    expect(sample(text, 'tapwire_delivery_attempts_total{outcome="fail"}')).toBe(2);
    expect(sample(text, 'tapwire_attempt_duration_seconds_count{outcome="success"}')).toBe(2);
    expect(sample(text, 'tapwire_attempt_duration_seconds_bucket{le="+Inf",outcome="retry"}')).toBe(4);
    expect(sample(text, 'tapwire_ssrf_blocked_total')).toBe(3);
    expect(sample(text, `tapwire_endpoint_in_flight{endpoint_id="${hangEp.id}"}`)).toBe(1);
    expect(sample(text, `tapwire_endpoint_in_flight{endpoint_id="${okEp.id}"}`)).toBeUndefined();
    expect(sample(text, 'tapwire_queue_depth')).toBe(sample(text, 'tapwire_queue_due'));
    expect(sample(text, `tapwire_endpoint_concurrency_limit{endpoint_id="${hangEp.id}"}`)).toBe(1);
    expect(sample(text, `tapwire_endpoint_concurrency_limit{endpoint_id="${okEp.id}"}`)).toBeGreaterThanOrEqual(1);
    expect(sample(text, `tapwire_app_in_flight{app_id="${appId}"}`)).toBe(1);
    expect(sample(text, 'tapwire_queue_oldest_due_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'tapwire_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(hanging.requests).toHaveLength(1);
  });

  it('requires the TAPWIRE_METRICS_TOKEN bearer when one is set, and nothing else opens it', async () => {
    const metricsToken = 'metrics-scrape-token-0123456789';
    const { tw } = await fixtures.setup({ TAPWIRE_METRICS_TOKEN: metricsToken });
    const scrape = (authorization?: string) => fetch(`${tw.url}/metrics`, authorization === undefined ? {} : { headers: { authorization } });
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Bearer ${metricsToken}x`, `Bearer ${metricsToken.slice(0, -1)}`, metricsToken, `Basic ${metricsToken}`, `Bearer ${ADMIN_TOKEN}`]) {
      const res = await scrape(authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.text()).not.toContain('tapwire_');
    }
    const ok = await scrape(`Bearer ${metricsToken}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('tapwire_queue_depth');
    // The other probes stay public.
    expect((await fetch(`${tw.url}/api/v1/health/ping`)).status).toBe(204);
  });

  it('stays public without TAPWIRE_METRICS_TOKEN', async () => {
    const { tw } = await fixtures.setup();
    const res = await fetch(`${tw.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('tapwire_queue_depth');
  });
});
