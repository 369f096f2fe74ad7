// The worker as an operator sees it: close() finishes and records in-flight attempts, one structured
// log line per attempt, bad stored data recorded as a failed attempt instead of crashing the process,
// and the basic SSRF guard (loopback refused unless allowed, at create time and when dialing).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/storage/open-store.js';
import { startTapwire, useBackend } from './helpers/tapwire.js';
import {
  attemptsToEndpoint,
  createApp,
  createEndpoint,
  eventually,
  expectStatus,
  sendMessage,
  waitForDestinationStatus,
  useDeliveryFixtures,
} from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';

const fixtures = useDeliveryFixtures();

const { setup, receiver } = fixtures;

/** A pino logger whose JSON lines are collected in `lines`. */
function capturingLogger(): { logger: pino.Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('graceful shutdown', () => {
    it('close() waits for an in-flight attempt and records it before closing the store', async () => {
      // A receiver that answers 300 ms after the request arrives, and says when it has one.
      let arrived!: () => void;
      const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
      const slow: Server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          arrived();
          setTimeout(() => res.writeHead(200).end('slow but fine'), 300);
        });
      });
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
      fixtures.defer(async () => {
        slow.closeAllConnections();
        await new Promise<void>((resolve) => slow.close(() => resolve()));
      });
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`;

      const tw = await startTapwire();
      const appId = await createApp(tw);
      const ep = await createEndpoint(tw, appId, { url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 1 } });
      await requestArrived;
      expect(tw.server.worker?.activeAttempts).toBe(1);
      await tw.server.close();

      const store = await openStore(tw.config.databaseUrl);
      try {
        const attempts = await store.listAttempts(appId, { limit: 10, endpointId: ep.id });
        expect(attempts.data).toHaveLength(1);
        expect(attempts.data[0]).toMatchObject({ msgId, responseStatusCode: 200, status: 'success', response: 'slow but fine' });
        const destinations = await store.listMessageDestinations(appId, msgId, { limit: 10 });
        expect(destinations.data[0]!.delivery).toMatchObject({ status: 'success', attemptCount: 1, lockedUntil: null });
      } finally {
        await store.close();
        await tw.close(); // the server is closed already: this removes its data
      }
    });

    it('close() is prompt when the worker is idle', async () => {
      const tw = await startTapwire({}, { workerMaxIdleMs: 60_000 });
      const started = Date.now();
      await tw.close();
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });

  describe('worker logs', () => {
    it('writes one JSON line per attempt with app, endpoint, message, attempt number and outcome', async () => {
      const { logger, lines } = capturingLogger();
      const { tw, appId } = await setup({}, { logger });
      const rx = await receiver();
      rx.respond((_req, i) => (i === 0 ? { status: 500 } : { status: 200 }));
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      const attemptLines = await eventually(
        async () => lines.filter((l) => l.component === 'worker' && typeof l.outcome === 'string'),
        (found) => found.length === 2,
        { what: 'two attempt log lines' },
      );
      expect(attemptLines[0]).toMatchObject({ appId, endpointId: ep.id, msgId, attempt: 1, outcome: 'sending', statusCode: 500, level: 30 });
      expect(attemptLines[1]).toMatchObject({ appId, endpointId: ep.id, msgId, attempt: 2, outcome: 'success', statusCode: 200, level: 30 });
      expect(typeof attemptLines[0].msg).toBe('string');
      expect(typeof attemptLines[0].nextAttemptAt).toBe('string');
      // Secrets never reach the log.
      const { secret } = await createEndpoint(tw, appId, { url: `${rx.url}/x`, disabled: true });
      expect(JSON.stringify(lines)).not.toContain(secret.slice(6));
    });
  });

  describe('robustness', () => {
    it('records an attempt it cannot make (a header value undici refuses) instead of crashing', async () => {
      const { tw, appId } = await setup();
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      // Stored data the HTTP client refuses to send, whatever let it in.
      const stored = (await tw.server.store.getEndpoint(appId, ep.id))!;
      await tw.server.store.updateEndpoint({ ...stored, headers: { 'x-mood': 'coffee ☕' } });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts).toHaveLength(3);
      expect(attempts[0].responseStatusCode).toBe(0);
      expect(attempts[0].response).toMatch(/could not make this request/);
      expect(rx.requests).toHaveLength(0);

      // Once the header is fixed the worker delivers as usual.
      await tw.server.store.updateEndpoint({ ...stored, headers: { 'x-mood': 'coffee' } });
      expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/${msgId}/endpoint/${ep.id}/resend`), 202, 'resend');
      await rx.waitFor((r) => r.length === 1);
      expect(rx.requests[0]!.headers['x-mood']).toBe('coffee');
    });
  });

  describe('SSRF basics', () => {
    it('refuses loopback endpoint URLs when no network is allowed', async () => {
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' });
      expect(tw.config.allowedNetworks).toEqual([]);
      const rx = await receiver();
      for (const url of [rx.url, `http://localhost:${rx.port}/`, `http://127.1.2.3:${rx.port}/`, `http://[::1]:${rx.port}/`]) {
        const res = await tw.api('POST', `/api/v1/app/${appId}/endpoint`, { url });
        expect(res.status, url).toBe(422);
        expect(JSON.stringify(res.body.detail)).toMatch(/not allowed/);
      }
      const list = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint`), 200, 'list endpoints');
      expect(list.body.data).toHaveLength(0);
      await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      expect(rx.requests).toHaveLength(0);
    });

    it('refuses to dial a hostname that resolves to loopback, even if it got stored', async () => {
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' });
      const rx = await receiver();
      // Only an edit behind the API's back can store such a URL; the dial-time check must still hold.
      const ep = await createEndpoint(tw, appId, { url: 'https://example.invalid/hook' }).catch(() => null);
      expect(ep).not.toBeNull();
      const stored = (await tw.server.store.getEndpoint(appId, ep!.id))!;
      await tw.server.store.updateEndpoint({ ...stored, url: `http://localhost:${rx.port}/hook` });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep!.id, 2);
      const attempts = await attemptsToEndpoint(tw, appId, ep!.id);
      expect(attempts.length).toBeGreaterThan(0);
      for (const a of attempts) {
        expect(a.responseStatusCode).toBe(0);
        expect(a.response).toMatch(/Blocked: localhost resolves to .*non-public/);
      }
      expect(rx.requests).toHaveLength(0);
    });

    it('refuses to dial a loopback IP literal that got stored while it was allowed', async () => {
      // An endpoint saved when 127.0.0.0/8 was allowed (or by an API process configured differently)
      // must not be dialed by a worker that does not allow it: the check is on the address dialed.
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '' });
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: 'https://example.invalid/hook' });
      const stored = (await tw.server.store.getEndpoint(appId, ep.id))!;
      for (const url of [`http://127.0.0.1:${rx.port}/v4`, `http://[::ffff:127.0.0.1]:${rx.port}/mapped`]) {
        await tw.server.store.updateEndpoint({ ...stored, url });
        const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
        await waitForDestinationStatus(tw, appId, msgId, ep.id, 2);
      }
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts).toHaveLength(6);
      for (const a of attempts) {
        expect(a.responseStatusCode).toBe(0);
        expect(a.response).toMatch(/Blocked: 127\.0\.0\.1 is in a non-public range \(loopback\)/);
      }
      expect(rx.requests).toHaveLength(0);
    });

    it('delivers to localhost when loopback is allowed', async () => {
      const { tw, appId } = await setup({ TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8' });
      const rx = await receiver();
      const ep = await createEndpoint(tw, appId, { url: `http://localhost:${rx.port}/via-name` });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      expect(rx.requests.map((r) => r.path)).toEqual(['/via-name']);
    });
  });
});
