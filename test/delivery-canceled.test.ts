// The canceled status (Svix's 4): a delivery Tapwire drops unsent because its endpoint was disabled
// or deleted, or its message's payload was expunged, before its next attempt. Its attempt (no
// request made) and the delivery read as canceled; lists filter on status=4, the endpoint's stats
// count it, and recover resends it once the endpoint is enabled again. Time moves by an injected
// clock, so the retry that finds the endpoint disabled comes exactly when the test says. (A deleted
// endpoint's waiting deliveries are canceled in the store: see the store contract.)
import { MessageStatus, Svix } from 'svix';
import { describe, expect, it } from 'vitest';
import {
  attemptsToEndpoint,
  createEndpoint,
  createEventTypes,
  destinationState,
  expectStatus,
  sendMessage,
  useDeliveryFixtures,
  waitForDestinationStatus,
} from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, useBackend } from './helpers/tapwire.js';

const fixtures = useDeliveryFixtures();
const HOUR = 3_600_000;

/** A clock the test moves by hand; it starts at the real time so ids and leases look normal. */
function manualClock(): { now(): Date; advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => (offset += ms) };
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  /** A server whose one retry comes an hour (±20 %) after the first attempt, and a receiver answering 503. */
  async function failingOnce() {
    const clock = manualClock();
    const { tw, appId } = await fixtures.setup({ TAPWIRE_RETRY_SCHEDULE: '1h' }, { clock });
    await createEventTypes(tw, 'a.b');
    const rx = await fixtures.receiver();
    rx.respond(() => ({ status: 503 }));
    const ep = await createEndpoint(tw, appId, { url: rx.url });
    return { tw, appId, rx, ep, clock };
  }

  it('cancels a retry whose endpoint was disabled meanwhile, lists and counts it, and recover resends it', async () => {
    const { tw, appId, rx, ep, clock } = await failingOnce();
    const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 1 } });
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 3);
    expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: true }), 200, 'disable');
    clock.advance(2 * HOUR);
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 4);
    expect(rx.requests).toHaveLength(1);

    const destination = await destinationState(tw, appId, msgId, ep.id);
    expect(destination).toMatchObject({ status: 4, statusText: 'canceled' });
    const attempts = await attemptsToEndpoint(tw, appId, ep.id);
    expect(attempts.map((a) => [a.status, a.statusText])).toEqual([
      [2, 'fail'],
      [4, 'canceled'],
    ]);
    expect(attempts[1]).toMatchObject({ responseStatusCode: 0, response: expect.stringContaining('disabled') });

    // status=4 filters to canceled on the attempt lists and the endpoint's message list.
    const byEndpoint = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/${ep.id}?status=4`), 200, 'attempts').body.data;
    expect(byEndpoint.map((a: any) => a.id)).toEqual([attempts[1].id]);
    const byMsg = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/msg/${msgId}?status=4`), 200, 'attempts by msg').body.data;
    expect(byMsg.map((a: any) => a.id)).toEqual([attempts[1].id]);
    const failedOnly = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/${ep.id}?status=2`), 200, 'failed').body.data;
    expect(failedOnly.map((a: any) => a.id)).toEqual([attempts[0].id]);
    const messages = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/msg?status=4`), 200, 'messages').body.data;
    expect(messages.map((m: any) => [m.id, m.status, m.statusText])).toEqual([[msgId, 4, 'canceled']]);
    const appMessages = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg?status=4`), 200, 'app messages').body.data;
    expect(appMessages.map((m: any) => m.id)).toEqual([msgId]);

    // The official client reads the same, and the stats count it.
    const svix = new Svix(ADMIN_TOKEN, { serverUrl: tw.url });
    const listed = await svix.messageAttempt.listByEndpoint(appId, ep.id, { status: MessageStatus.Canceled });
    expect(listed.data.map((a) => a.id)).toEqual([attempts[1].id]);
    const stats = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/stats`), 200, 'stats').body;
    expect(stats).toMatchObject({ success: 0, pending: 0, sending: 0, fail: 0, canceled: 1 });

    // Enabled again, recover sends it.
    rx.respond(() => ({ status: 200 }));
    expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: false }), 200, 'enable');
    const since = new Date(clock.now().getTime() - 3 * HOUR).toISOString();
    expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/recover`, { since }), 202, 'recover');
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
    expect(rx.requests).toHaveLength(2);
  });

  it('cancels a retry whose payload was expunged meanwhile', async () => {
    const { tw, appId, rx, ep, clock } = await failingOnce();
    const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { secret: true } });
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 3);
    expectStatus(await tw.api('DELETE', `/api/v1/app/${appId}/msg/${msgId}/content`), 204, 'expunge');
    clock.advance(2 * HOUR);
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 4);
    const attempts = await attemptsToEndpoint(tw, appId, ep.id);
    expect(attempts[1]).toMatchObject({ status: 4, statusText: 'canceled', response: expect.stringContaining('expunged') });
    expect(rx.requests).toHaveLength(1);
    // /metrics counts it as canceled, not as a failure.
    const metrics = await (await fetch(`${tw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/^tapwire_delivery_attempts_total\{outcome="canceled"\} 1$/m);
    expect(metrics).toMatch(/^tapwire_delivery_attempts_total\{outcome="fail"\} 0$/m);
    const stats = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}/stats`), 200, 'stats').body;
    expect(stats).toMatchObject({ fail: 0, canceled: 1 });
  });
});
