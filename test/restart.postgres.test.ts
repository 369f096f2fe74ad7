// PostgreSQL going away and coming back for real (issue 3): a private throwaway cluster owned by this
// file (test/helpers/private-postgres.ts) is stopped with `pg_ctl stop -m fast` and started again under
// a running `tapwire serve` (role all). outage.postgres.test.ts covers the same ground through a TCP
// proxy in front of the shared server, which cannot be restarted; this one checks that a real
// server's shutdown (connections terminated with an admin-shutdown error, then refused) and start
// behave the same: 503 store_unavailable promptly while it is down, no exit, and every accepted
// message delivered once it is back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCountingReceiver, type CountingReceiver } from './helpers/counting-receiver.js';
import { privatePostgresAvailable, startPrivatePostgres, stopAllPrivatePostgres, type PrivatePostgres } from './helpers/private-postgres.js';
import { assertCliBuilt, callApi, killAllProcesses, postAccepted, postMessage, startServe, stillRunning } from './helpers/tapwire-process.js';

const enabled = privatePostgresAvailable();

const ADMIN_TOKEN = 'tw_admin_restart_test_0123456789';
/** Short, so an attempt in flight at the stop (whose outcome cannot be recorded) is retried soon after its lease. */
const REQUEST_TIMEOUT_MS = 2_000;
/** What the worker derives from the request timeout (delivery-worker.ts leaseMsFor). */
const LEASE_MS = 2 * REQUEST_TIMEOUT_MS + 5_000;

let dir: string;
let receiver: CountingReceiver | null = null;
let pg: PrivatePostgres | null = null;

describe.skipIf(!enabled)('a real PostgreSQL server restarted under a running tapwire', () => {
  beforeAll(() => {
    assertCliBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tapwire-restart-pg-'));
  });

  afterEach(async (context) => {
    await killAllProcesses();
    await receiver?.close();
    receiver = null;
    if (pg && context.task.result?.state === 'fail') console.error(`restart: private PostgreSQL log:\n${pg.log()}`);
    await stopAllPrivatePostgres();
    pg = null;
  });

  afterAll(async () => {
    await stopAllPrivatePostgres();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 while the server is stopped, exits nothing, and delivers every accepted message once it is started again', async () => {
    const startedAt = Date.now();
    pg = await startPrivatePostgres();
    receiver = await startCountingReceiver();
    const rx = receiver;
    const serve = await startServe({
      cwd: dir,
      env: {
        TAPWIRE_DATABASE_URL: pg.url,
        TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
        TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
        TAPWIRE_HTTPS_ONLY: 'false',
        TAPWIRE_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
        TAPWIRE_RETRY_SCHEDULE: '200ms,500ms,1s,2s',
      },
      args: ['--role', 'all'],
    });
    const app = await callApi(serve.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Restart' } });
    expect(app.status).toBe(201);
    const appId = app.body.id as string;
    const endpoint = await callApi(serve.url, 'POST', `/api/v1/app/${appId}/endpoint`, { token: ADMIN_TOKEN, body: { url: rx.url } });
    expect(endpoint.status).toBe(201);

    // Before: normal service. The first ten are delivered before the stop; the last five are
    // posted right before it, so some may still be pending or in flight when the server goes.
    const delivered = await postAccepted(serve, ADMIN_TOKEN, appId, 0, 10);
    await rx.waitFor(() => delivered.every((id) => rx.answered.has(id)), 10_000, 'the first 10 messages');
    const atStop = await postAccepted(serve, ADMIN_TOKEN, appId, 10, 5);
    const deliveredBeforeStop = atStop.filter((id) => rx.answered.has(id)).length;

    const stopStarted = Date.now();
    await pg.stop();
    const stopMs = Date.now() - stopStarted;

    // While it is down: 503 store_unavailable in JSON, promptly; health says unavailable; the
    // process itself is alive.
    const refused = [];
    for (let n = 0; n < 5; n++) refused.push(await postMessage(serve, ADMIN_TOKEN, appId, 1000 + n));
    for (const res of refused) {
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(res.body).toMatchObject({ code: 'store_unavailable', detail: expect.any(String) });
      expect(res.ms).toBeLessThan(5_000);
    }
    const healthStarted = Date.now();
    const health = await callApi(serve.url, 'GET', '/api/v1/health');
    const healthMs = Date.now() - healthStarted;
    expect(healthMs).toBeLessThan(5_000);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unavailable', store: { status: 'unavailable', kind: 'postgres' } });
    expect((await fetch(`${serve.url}/api/v1/health/ping`)).status).toBe(204);
    // The worker half notices too (its claims fail) and keeps going.
    await serve.waitForLog((line) => line.msg === 'claiming deliveries failed; retrying', 10_000);
    expect(stillRunning(serve)).toBe(true);
    const downMs = Date.now() - stopStarted;

    const startStarted = Date.now();
    await pg.start();
    const startMs = Date.now() - startStarted;

    // After: pg_ctl start -w returns once the server accepts connections, and the very next POSTs
    // are accepted (no stale pooled connection answers for the old server).
    const after = await postAccepted(serve, ADMIN_TOKEN, appId, 20, 10);
    const accepted = [...delivered, ...atStop, ...after];
    await rx.waitFor(() => accepted.every((id) => rx.answered.has(id)), LEASE_MS + 10_000, `all ${accepted.length} accepted messages`).catch(
      (error: Error) => {
        const missing = accepted.filter((id) => !rx.answered.has(id));
        throw new Error(`${error.message}; missing ${missing.length}: ${missing.join(', ')}`);
      },
    );
    // Nothing refused with a 503 was delivered.
    expect(rx.counts.size).toBe(accepted.length);
    const healthAfter = await callApi(serve.url, 'GET', '/api/v1/health');
    expect(healthAfter.status).toBe(200);
    expect(healthAfter.body).toMatchObject({ status: 'ok', store: { status: 'ok' } });
    expect(stillRunning(serve)).toBe(true);

    console.log(
      `restart (private PostgreSQL, pg_ctl stop -m fast / start, one serve process): stop took ${stopMs} ms, down ${(downMs / 1000).toFixed(1)} s, ` +
        `start took ${startMs} ms; 503 store_unavailable in ${refused.map((r) => r.ms).join('/')} ms, health 503 in ${healthMs} ms; ` +
        `${deliveredBeforeStop}/${atStop.length} of the last messages delivered before the stop; all ${accepted.length} accepted messages delivered, ` +
        `${rx.total - rx.counts.size} duplicates; whole test ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    expect(await serve.stop()).toEqual({ code: 0, signal: null });
  }, 30_000);
});
