// FIFO endpoints through the public API and a real receiver (docs/fifo.md): a failing head is
// retried and holds up the messages behind it, which then arrive one at a time in acceptance order;
// GET …/fifo and /metrics show a blocked line; turning fifo off releases it.
import { describe, expect, it } from 'vitest';
import { startConcurrencyProbe, type Probe, type ProbeAnswer } from './helpers/concurrency-probe.js';
import { createEndpoint, eventually, expectStatus, sendMessage, useDeliveryFixtures } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { useBackend } from './helpers/tapwire.js';

const { setup, defer } = useDeliveryFixtures();

async function probe(answer: (nth: number, id: string) => ProbeAnswer): Promise<Probe> {
  const p = await startConcurrencyProbe(answer);
  defer(() => p.close());
  return p;
}

/** The webhook-ids in arrival order, each repeat kept (a retry shows up twice). */
const arrivalIds = (p: Probe): string[] => p.arrivals.map((a) => a.id);

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  it('delivers every message in acceptance order, one at a time, when the first fails three times', async () => {
    const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '20ms,20ms,20ms,20ms,20ms' });
    // With FIFO only the head can be in flight, so the first three arrivals are the first message's.
    // Every answer takes a little while, so overlapping requests would show in maxActive.
    let arrivals = 0;
    const rx = await probe(() => (++arrivals <= 3 ? { status: 500, delayMs: 5 } : { status: 200, delayMs: 5 }));
    const ep = await createEndpoint(tw, appId, { url: rx.url, fifo: true });
    const created = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}`), 200, 'get endpoint');
    expect(created.body.fifo).toBe(true);

    const sent: string[] = [];
    for (let i = 0; i < 12; i++) sent.push(await sendMessage(tw, appId, { eventType: 'invoice.paid', payload: { n: i } }));
    await rx.waitFor(() => rx.arrivals.length === sent.length + 3, 'every message delivered');

    expect(arrivalIds(rx)).toEqual([sent[0], sent[0], sent[0], ...sent]);
    expect(rx.maxActive).toBe(1);
    // Every delivery ended as success and the line is empty.
    const line = await eventually(
      async () => expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/fifo`), 200, 'fifo line').body,
      (body) => body.head === null,
      { what: 'an empty line' },
    );
    expect(line).toEqual({ head: null, held: 0 });
  });

  it('shows a blocked line and its head, counts it in /metrics, and releases it when fifo is turned off', async () => {
    // The head's retry is an hour away: the line stays blocked until fifo is turned off.
    const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '1h' });
    const rx = await probe((_nth, id) => (id === first ? { status: 500 } : { status: 200 }));
    let first = '';
    const ep = await createEndpoint(tw, appId, { url: rx.url, fifo: true });
    first = await sendMessage(tw, appId, { eventType: 'invoice.paid', payload: { n: 0 } });
    const behind = [await sendMessage(tw, appId, { eventType: 'invoice.paid', payload: { n: 1 } }), await sendMessage(tw, appId, { eventType: 'invoice.paid', payload: { n: 2 } })];

    const blocked = await eventually(
      async () => expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/fifo`), 200, 'fifo line').body,
      (body) => body.head?.blockedSince != null,
      { what: 'a blocked head' },
    );
    expect(blocked).toEqual({
      head: { msgId: first, deliveryId: expect.stringMatching(/^msgep_/), attemptCount: 1, blockedSince: expect.any(String) },
      held: 2,
    });
    expect(arrivalIds(rx)).toEqual([first]);
    const metrics = await (await fetch(`${tw.url}/metrics`)).text();
    expect(metrics).toMatch(/^tapwire_fifo_blocked_endpoints 1$/m);

    const off = expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { fifo: false }), 200, 'turn fifo off');
    expect(off.body.fifo).toBe(false);
    await rx.waitFor(() => rx.arrivals.length === 3, 'the held messages released');
    expect(arrivalIds(rx).slice(1).sort()).toEqual([...behind].sort());
    const after = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/fifo`), 200, 'fifo line').body;
    // The old head still waits for its retry; nothing is held behind it any more.
    expect(after).toMatchObject({ head: { msgId: first }, held: 0 });
  });

  it('keeps fifo through a PUT or PATCH that leaves it out, and changes it when given', async () => {
    const { tw, appId } = await setup();
    const ep = await createEndpoint(tw, appId, { url: 'http://127.0.0.1:9/a', fifo: true });
    const path = `/api/v1/app/${appId}/endpoint/${ep.id}`;
    expect(expectStatus(await tw.api('PUT', path, { url: 'http://127.0.0.1:9/b' }), 200, 'put').body).toMatchObject({ url: 'http://127.0.0.1:9/b', fifo: true });
    expect(expectStatus(await tw.api('PATCH', path, { description: 'ordered' }), 200, 'patch').body.fifo).toBe(true);
    expect(expectStatus(await tw.api('PUT', path, { url: 'http://127.0.0.1:9/b', fifo: false }), 200, 'put off').body.fifo).toBe(false);
    expect(expectStatus(await tw.api('PATCH', path, { fifo: true }), 200, 'patch on').body.fifo).toBe(true);
    const plain = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'http://127.0.0.1:9/c' }), 201, 'plain').body;
    expect(plain.fifo).toBe(false);
  });

  it('refuses a fifo that is not a boolean, with a 422 naming the field', async () => {
    const { tw, appId } = await setup();
    const res = await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url: 'http://127.0.0.1:9/x', fifo: 'yes' });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).toContain('fifo');
    expect((await tw.api('GET', `/api/v1/app/${appId}/endpoint/ep_missing/fifo`)).status).toBe(404);
  });
});
