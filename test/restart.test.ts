// The durability promise with real processes: a 202 means the message is committed, so killing
// `tapwire serve` (kill -9, or SIGTERM mid-delivery) and starting it again on the same database
// delivers every accepted message. At-least-once: duplicates are allowed and reported, losses are not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCountingReceiver, type CountingReceiver } from './helpers/counting-receiver.js';
import { assertCliBuilt, callApi, killAllProcesses, startServe, type ServeProcess } from './helpers/tapwire-process.js';

const ADMIN_TOKEN = 'tw_admin_restart_test_0123456789';

let dir: string;
let receiver: CountingReceiver | null = null;

/** Env for a server on this test's database that may deliver to the loopback receiver. */
function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TAPWIRE_DATABASE_URL: join(dir, 'tapwire.db'),
    TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
    TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
    TAPWIRE_HTTPS_ONLY: 'false',
    TAPWIRE_RETRY_SCHEDULE: '100ms,200ms,400ms,1s',
    // Also sets the lease: a delivery leased by a killed process is claimed again after 2 × this + 5 s.
    TAPWIRE_REQUEST_TIMEOUT: '1s',
    ...extra,
  };
}

async function createAppWithEndpoint(server: ServeProcess, url: string): Promise<string> {
  const app = await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Durability' } });
  expect(app.status).toBe(201);
  const endpoint = await callApi(server.url, 'POST', `/api/v1/app/${app.body.id}/endpoint`, { token: ADMIN_TOKEN, body: { url } });
  expect(endpoint.status).toBe(201);
  return app.body.id as string;
}

/**
 * POST `count` messages, `parallel` at a time. Returns the ids of those answered 202; a request
 * that fails because the server died is simply not accepted (the sender would retry it).
 */
async function postMessages(server: ServeProcess, appId: string, count: number, parallel: number, onAccepted?: (accepted: string[]) => void): Promise<string[]> {
  const accepted: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      let res: { status: number; body: any };
      try {
        res = await callApi(server.url, 'POST', `/api/v1/app/${appId}/msg`, { token: ADMIN_TOKEN, body: { eventType: 'order.created', payload: { n } } });
      } catch {
        return; // no answer: the server is gone (killed), so this message was not accepted
      }
      if (res.status !== 202) throw new Error(`POST msg ${n}: ${res.status} ${JSON.stringify(res.body)}`);
      accepted.push(res.body.id as string);
      onAccepted?.(accepted);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return accepted;
}

/** Poll `check` (an API read) until it holds; for server state the receiver cannot see. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function endpointStats(server: ServeProcess, appId: string): Promise<{ success: number; fail: number; pending: number; sending: number }> {
  const endpoints = await callApi(server.url, 'GET', `/api/v1/app/${appId}/endpoint`, { token: ADMIN_TOKEN });
  const stats = await callApi(server.url, 'GET', `/api/v1/app/${appId}/endpoint/${endpoints.body.data[0].id}/stats`, { token: ADMIN_TOKEN });
  expect(stats.status).toBe(200);
  return stats.body;
}

/** Nothing left pending or in flight (leased rows count as pending/sending), and at least `accepted` succeeded. */
function settled(stats: { success: number; pending: number; sending: number }, accepted: number): boolean {
  return stats.pending === 0 && stats.sending === 0 && stats.success >= accepted;
}

beforeAll(() => assertCliBuilt());

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-restart-'));
});

afterEach(async () => {
  await killAllProcesses();
  await receiver?.close();
  receiver = null;
  rmSync(dir, { recursive: true, force: true });
});

describe('restarting tapwire serve on the same database', () => {
  it('delivers every accepted message after kill -9 mid-delivery', async () => {
    const N = 200;
    receiver = await startCountingReceiver(() => 200);
    // 8 attempts at a time against a 200 ms receiver: about 40 deliveries/s, so the kill lands mid-stream.
    const env = serverEnv({ TAPWIRE_WORKER_CONCURRENCY: '8' });
    const first = await startServe({ cwd: dir, env });
    const appId = await createAppWithEndpoint(first, receiver.url);

    const posting = postMessages(first, appId, N, 10);
    posting.catch(() => undefined); // awaited below; do not let an early rejection go unhandled
    await receiver.waitFor(() => receiver!.counts.size >= 30, 20_000, '30 distinct deliveries');
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const accepted = await posting;
    const deliveredBeforeKill = receiver.counts.size;
    const unansweredAtKill = [...receiver.counts.keys()].filter((id) => !receiver!.answered.has(id)).length;
    expect(accepted.length).toBeGreaterThanOrEqual(20); // at most 10 POSTs were cut off
    expect(deliveredBeforeKill).toBeLessThan(accepted.length); // the kill really was mid-delivery

    const second = await startServe({ cwd: dir, env });
    const missing = (): string[] => {
      const got = receiver!.counts;
      return accepted.filter((id) => !got.has(id));
    };
    // Leases of the killed process expire after 2 × 1 s + 5 s; the rest drains at ~40/s.
    await receiver.waitFor(() => missing().length === 0, 25_000, `all ${accepted.length} accepted messages`).catch((error: Error) => {
      throw new Error(`${error.message}; missing ${missing().length}: ${missing().slice(0, 5).join(', ')}…`);
    });
    expect(missing()).toEqual([]);
    // The server's own record must catch up too: the attempts the kill cut off stay leased until
    // the lease runs out, are then made again, and every delivery ends in success.
    await waitUntil(async () => settled(await endpointStats(second, appId), accepted.length), 30_000, 'every delivery recorded as success');
    const stats = await endpointStats(second, appId);
    expect(stats).toMatchObject({ fail: 0, pending: 0, sending: 0 });
    expect(stats.success).toBeGreaterThanOrEqual(accepted.length);
    const duplicates = receiver.total - receiver.counts.size;
    const unknown = [...receiver.counts.keys()].filter((id) => !accepted.includes(id));
    console.log(
      `kill -9 restart: ${accepted.length}/${N} accepted (202), ${deliveredBeforeKill} delivered before the kill, ` +
        `${unansweredAtKill} in flight at the kill; all delivered after restart; ${duplicates} duplicate deliveries (at-least-once); ` +
        `${unknown.length} deliveries of messages whose 202 was lost with the process`,
    );
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('delivers every message that got a 202 after kill -9 in the middle of ingest', async () => {
    receiver = await startCountingReceiver(() => 20);
    const env = serverEnv({ TAPWIRE_WORKER_CONCURRENCY: '8' });
    const first = await startServe({ cwd: dir, env });
    const appId = await createAppWithEndpoint(first, receiver.url);

    // Killed from inside the 202 handler once 60 are accepted, while 10 more POSTs are in flight.
    const accepted = await postMessages(first, appId, 1000, 10, (sofar) => {
      if (sofar.length === 60) first.child.kill('SIGKILL');
    });
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(accepted.length).toBeGreaterThanOrEqual(60);
    expect(accepted.length).toBeLessThan(1000);

    const second = await startServe({ cwd: dir, env });
    await receiver.waitFor(() => accepted.every((id) => receiver!.counts.has(id)), 25_000, `all ${accepted.length} accepted messages`);
    await waitUntil(async () => settled(await endpointStats(second, appId), accepted.length), 30_000, 'every delivery recorded as success');
    const stats = await endpointStats(second, appId);
    expect(stats).toMatchObject({ fail: 0, pending: 0, sending: 0 });
    const unknown = [...receiver.counts.keys()].filter((id) => !accepted.includes(id)).length;
    console.log(
      `kill -9 during ingest: ${accepted.length} accepted (202) before the kill, all delivered after restart; ` +
        `${unknown} more committed whose 202 never arrived; ${receiver.total - receiver.counts.size} duplicates`,
    );
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('on SIGTERM finishes and records in-flight attempts, exits 0, and the restart delivers the rest', async () => {
    receiver = await startCountingReceiver(() => 500);
    const env = serverEnv({ TAPWIRE_WORKER_CONCURRENCY: '4' });
    const first = await startServe({ cwd: dir, env });
    const appId = await createAppWithEndpoint(first, receiver.url);
    const accepted = await postMessages(first, appId, 20, 5);
    expect(accepted).toHaveLength(20);

    await receiver.waitFor(() => receiver!.total >= 1, 10_000, 'a first delivery in flight');
    const inFlightAtSignal = [...receiver.counts.keys()].filter((id) => !receiver!.answered.has(id));
    expect(inFlightAtSignal.length).toBeGreaterThan(0);
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(first.logs.find((line) => line.msg === 'shutting down; finishing in-flight attempts')).toMatchObject({ signal: 'SIGTERM' });
    expect(first.logs.map((line) => line.msg)).toContain('stopped');
    // Shutdown waited for the receiver's answers rather than cutting the connections.
    for (const id of inFlightAtSignal) expect(receiver.answered.has(id)).toBe(true);
    const deliveredBeforeRestart = receiver.total;
    expect(deliveredBeforeRestart).toBeLessThan(accepted.length);

    const second = await startServe({ cwd: dir, env });
    for (const msgId of inFlightAtSignal) {
      const attempts = await callApi(second.url, 'GET', `/api/v1/app/${appId}/attempt/msg/${msgId}`, { token: ADMIN_TOKEN });
      expect(attempts.status).toBe(200);
      expect(attempts.body.data).toHaveLength(1);
      expect(attempts.body.data[0]).toMatchObject({ msgId, responseStatusCode: 200, status: 0, statusText: 'success' });
    }
    await receiver.waitFor(() => accepted.every((id) => receiver!.counts.has(id)), 20_000, 'all 20 messages');
    // A graceful stop leaves no lease behind: nothing was delivered twice.
    expect(receiver.total).toBe(accepted.length);
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  }, 40_000);
});
