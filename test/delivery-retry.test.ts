// How a delivery moves through its schedule as a receiver answers: retries with the configured
// delays, exhaustion into the failed state, redirects not followed, 410 disabling the endpoint,
// Retry-After clamped to [scheduled, 2 × scheduled], timeouts retried, response bodies capped.
import { describe, expect, it } from 'vitest';
import {
  attemptedMessageState,
  attemptsToEndpoint,
  createEndpoint,
  destinationState,
  eventually,
  expectStatus,
  sendMessage,
  waitForDestinationStatus,
  useDeliveryFixtures,
} from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { useBackend } from './helpers/tapwire.js';

const fixtures = useDeliveryFixtures();

const { setup, receiver } = fixtures;

function gaps(at: number[]): number[] {
  return at.slice(1).map((t, i) => t - at[i]!);
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('retry schedule', () => {
    it('retries 500s on the schedule and records every attempt', async () => {
      // random() = 0.5 puts the jitter factor at exactly 1: the delays are 20 ms and 40 ms.
      const { tw, appId } = await setup({}, { random: () => 0.5 });
      const rx = await receiver();
      rx.respond((_req, i) => (i < 2 ? { status: 500, body: `boom ${i}` } : { status: 200, body: 'thanks' }));
      const ep = await createEndpoint(tw, appId, { url: `${rx.url}/hook` });
      const msgId = await sendMessage(tw, appId, { eventType: 'invoice.paid', payload: { id: 1 } });

      await rx.waitFor((r) => r.length === 3);
      const state = await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      expect(state.statusText).toBe('success');
      expect(state.nextAttempt).toBeUndefined();

      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => a.responseStatusCode)).toEqual([500, 500, 200]);
      expect(attempts.map((a) => a.response)).toEqual(['boom 0', 'boom 1', 'thanks']);
      expect(attempts.map((a) => a.status)).toEqual([2, 2, 0]);
      expect(attempts.map((a) => a.triggerType)).toEqual([0, 0, 0]);
      for (const a of attempts) {
        expect(a.msgId).toBe(msgId);
        expect(a.endpointId).toBe(ep.id);
        expect(a.url).toBe(`${rx.url}/hook`);
        expect(a.id).toMatch(/^atmpt_/);
        expect(Number.isInteger(a.responseDurationMs)).toBe(true);
        expect(a.responseDurationMs).toBeGreaterThanOrEqual(0);
        expect(a.responseDurationMs).toBeLessThan(2_000);
      }
      // The same attempts through the per-message list.
      const byMsg = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/msg/${msgId}`), 200, 'attempts by msg');
      expect(byMsg.body.data.map((a: any) => a.id).reverse()).toEqual(attempts.map((a) => a.id));

      const [g1, g2] = gaps(rx.requests.map((r) => r.at));
      expect(g1).toBeGreaterThanOrEqual(20);
      expect(g2).toBeGreaterThanOrEqual(40);
      // Retries are not held back by the worker's idle poll either.
      expect(g1).toBeLessThan(1_000);
      expect(g2).toBeLessThan(1_000);
    });

    it('runs a retry on time even when the worker idles for long between polls', async () => {
      // With a 10 s idle poll, a retry due in 20 ms must still come well before the next poll.
      const { tw, appId } = await setup({}, { random: () => 0.5, workerMaxIdleMs: 10_000 });
      const rx = await receiver();
      rx.respond((_req, i) => (i === 0 ? { status: 503 } : { status: 204 }));
      await createEndpoint(tw, appId, { url: rx.url });
      await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await rx.waitFor((r) => r.length === 2, 5_000);
      const [gap] = gaps(rx.requests.map((r) => r.at));
      expect(gap).toBeGreaterThanOrEqual(20);
      expect(gap).toBeLessThan(1_000);
    });

    it('fails the delivery after the schedule is exhausted and attempts no more', async () => {
      const { tw, appId } = await setup();
      const failing = await receiver();
      failing.respond(() => ({ status: 500, body: 'down' }));
      const healthy = await receiver();
      const bad = await createEndpoint(tw, appId, { url: failing.url, channels: ['bad'] });
      const good = await createEndpoint(tw, appId, { url: healthy.url, channels: ['good'] });

      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 1 }, channels: ['bad'] });
      const state = await waitForDestinationStatus(tw, appId, msgId, bad.id, 2);
      expect(state.statusText).toBe('fail');
      expect(state.nextAttempt).toBeUndefined();
      const viaEndpoint = await attemptedMessageState(tw, appId, bad.id, msgId);
      expect(viaEndpoint.status).toBe(2);
      expect(viaEndpoint.statusText).toBe('fail');
      expect(viaEndpoint.nextAttempt).toBeUndefined();

      // Prove the worker went round its loop again after the failure: a later message elsewhere arrives.
      const msg2 = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 2 }, channels: ['good'] });
      await healthy.waitFor((r) => r.length === 1);
      await waitForDestinationStatus(tw, appId, msg2, good.id, 0);
      // 20 ms and 40 ms have long passed by now; no fourth attempt was made or scheduled.
      expect(failing.requests).toHaveLength(3);
      const attempts = await attemptsToEndpoint(tw, appId, bad.id);
      expect(attempts.map((a) => [a.responseStatusCode, a.status])).toEqual([[500, 2], [500, 2], [500, 2]]);
      expect((await destinationState(tw, appId, msgId, bad.id)).status).toBe(2);
      const stats = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${bad.id}/stats`), 200, 'stats');
      expect(stats.body).toMatchObject({ success: 0, pending: 0, sending: 0, fail: 1 });
    });
  });

  describe('answers that are not plain failures', () => {
    it('does not follow redirects: the target gets nothing and the attempt fails', async () => {
      const { tw, appId } = await setup();
      const target = await receiver();
      const redirecting = await receiver();
      redirecting.respond(() => ({ status: 302, headers: { location: `${target.url}/moved` }, body: 'see other' }));
      const ep = await createEndpoint(tw, appId, { url: redirecting.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts).toHaveLength(3);
      expect(attempts.every((a) => a.responseStatusCode === 302 && a.status === 2)).toBe(true);
      expect(target.requests).toHaveLength(0);
    });

    it('disables the endpoint on 410 Gone and does not retry', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      rx.respond(() => ({ status: 410, body: 'gone for good' }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      const endpoint = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${ep.id}`), 200, 'get endpoint');
      expect(endpoint.body.disabled).toBe(true);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => [a.responseStatusCode, a.status, a.response])).toEqual([[410, 2, 'gone for good']]);

      // A disabled endpoint gets no new messages; a healthy one proves the worker kept going.
      const other = await receiver();
      const ep2 = await createEndpoint(tw, appId, { url: other.url });
      const msg2 = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msg2, ep2.id, 0);
      expect(rx.requests).toHaveLength(1);
      expect(await destinationState(tw, appId, msg2, ep.id)).toBeUndefined();
    });

    it('honours Retry-After on 429 and 503 within [scheduled, 2 × scheduled], pausing the endpoint for it', async () => {
      const { tw, appId } = await setup({ TAPWIRE_RETRY_SCHEDULE: '300ms,300ms' });
      const rx = await receiver();
      rx.respond((_req, i) => {
        // 1 s: the retry is clamped to 600 ms, but the endpoint itself is paused for the 1 s it asked for.
        if (i === 0) return { status: 429, headers: { 'retry-after': '1' } };
        if (i === 1) return { status: 503, headers: { 'retry-after': '0' } }; // 0 s, raised to 300 ms
        return { status: 200 };
      });
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await rx.waitFor((r) => r.length === 3);
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      const [g1, g2] = gaps(rx.requests.map((r) => r.at));
      expect(g1).toBeGreaterThanOrEqual(1000);
      expect(g1).toBeLessThan(1000 + 400);
      expect(g2).toBeGreaterThanOrEqual(300);
      expect(g2).toBeLessThan(600 + 400);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => a.responseStatusCode)).toEqual([429, 503, 200]);
    });

    it('records a timeout with status 0 and retries it on the configured schedule', async () => {
      const { tw, appId } = await setup({ TAPWIRE_REQUEST_TIMEOUT: '300ms' });
      const rx = await receiver();
      rx.respond((_req, i) => (i === 0 ? 'hang' : { status: 200, body: 'late but fine' }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await rx.waitFor((r) => r.length === 2, 5_000);
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts).toHaveLength(2);
      expect(attempts[0]).toMatchObject({ responseStatusCode: 0, status: 2, triggerType: 0 });
      expect(attempts[0].response).toMatch(/timed out/i);
      expect(attempts[0].responseDurationMs).toBeGreaterThanOrEqual(290);
      expect(attempts[1]).toMatchObject({ responseStatusCode: 200, status: 0, response: 'late but fine' });
      // The retry followed the 20 ms schedule step, not a fixed 60 s floor.
      const [gap] = gaps(rx.requests.map((r) => r.at));
      expect(gap).toBeLessThan(2_000);
    });

    it('records a refused connection with status 0 and the transport error', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const url = rx.url;
      await rx.close(); // nothing listens on that port any more
      const ep = await createEndpoint(tw, appId, { url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts).toHaveLength(3);
      expect(attempts[0].responseStatusCode).toBe(0);
      expect(attempts[0].response).toMatch(/ECONNREFUSED/);
    });

    it('stores at most 20 000 bytes of a response body', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const big = 'x'.repeat(100_000);
      rx.respond((_req, i) => (i === 0 ? { status: 500, body: big } : { status: 200, body: big }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => a.responseStatusCode)).toEqual([500, 200]);
      for (const a of attempts) expect(a.response).toBe('x'.repeat(20_000));
    });

    it('records a response body with NUL bytes as base64, like any other binary body', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const binary = Buffer.from('ok\u0000\u0001 binary');
      rx.respond(() => ({ status: 200, body: binary.toString('utf8') }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts.map((a) => [a.responseStatusCode, a.response])).toEqual([[200, binary.toString('base64')]]);
    });

    it('keeps delivering when a message is redelivered to a slow endpoint in parallel with others', async () => {
      // One endpoint hanging until the timeout must not hold back another endpoint's delivery.
      const { tw, appId } = await setup({ TAPWIRE_REQUEST_TIMEOUT: '1500ms' });
      const slow = await receiver();
      slow.respond(() => 'hang');
      const fast = await receiver();
      await createEndpoint(tw, appId, { url: slow.url, channels: ['slow'] });
      const fastEp = await createEndpoint(tw, appId, { url: fast.url, channels: ['fast'] });
      await sendMessage(tw, appId, { eventType: 'a.b', payload: {}, channels: ['slow'] });
      await slow.waitFor((r) => r.length === 1);
      const started = Date.now();
      const msg2 = await sendMessage(tw, appId, { eventType: 'a.b', payload: {}, channels: ['fast'] });
      await fast.waitFor((r) => r.length === 1);
      expect(Date.now() - started).toBeLessThan(1_000);
      await eventually(() => destinationState(tw, appId, msg2, fastEp.id), (d) => d?.status === 0);
    });
  });
});
