// Crash suite (issue 8): a 202 means the webhook will be delivered, whatever happens to the process.
// A load generator posts messages the whole time while `tapwire serve` (the built CLI, a real child
// process) is killed with SIGKILL at moments a seeded PRNG picks, and started again on the same
// database; a loopback receiver counts every delivery by webhook-id. Afterwards every message that
// got a 202 must arrive (lost = 0); duplicates (at-least-once) and the longest gap are reported.
// Short run: 3 kills per backend; TAPWIRE_CHAOS=full: 12. restart.test.ts covers single kills.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCountingReceiver, type CountingReceiver } from '../helpers/counting-receiver.js';
import { backends, dropSchema, freshSchemaUrl, type Backend } from '../helpers/postgres.js';
import { assertCliBuilt, callApi, killAllProcesses, startServe, type ServeProcess } from '../helpers/tapwire-process.js';
import { between, chaosSeed, chaosSize, reportFigures, seededRandom } from './chaos.js';

const ADMIN_TOKEN = 'tw_admin_chaos_crash_0123456789';
const KILLS = chaosSize(3, 12);
/** Random time a server lives (after it is ready) before its SIGKILL. */
const LIFE_MS = chaosSize({ min: 150, max: 1_200 }, { min: 50, max: 2_500 });
/** POSTs in flight at once. */
const LANES = chaosSize(6, 12);
/** Short, so the leases of a killed process expire soon: 2 × 1 s + 5 s (delivery-worker.ts leaseMsFor). */
const REQUEST_TIMEOUT_MS = 1_000;
const LEASE_MS = 2 * REQUEST_TIMEOUT_MS + 5_000;

let dir: string;
let receiver: CountingReceiver | null = null;
const schemas: string[] = [];

beforeAll(() => {
  assertCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tapwire-chaos-crash-'));
});
afterEach(async () => {
  await killAllProcesses();
  await receiver?.close();
  receiver = null;
});
afterAll(async () => {
  for (const url of schemas.splice(0)) await dropSchema(url).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(await backends())('%s', (backend: Backend) => {
  it(`every 202 is delivered across ${KILLS} SIGKILLs under load`, async () => {
    const seed = chaosSeed(`crash/${backend}`, backend === 'sqlite' ? 8101 : 8102);
    const random = seededRandom(seed);
    const receiverRandom = seededRandom(seed ^ 0x5a5a5a5a);
    let databaseUrl = join(dir, `crash-${backend}.db`);
    if (backend === 'postgres') {
      databaseUrl = freshSchemaUrl('chaos_crash');
      schemas.push(databaseUrl);
    }
    const env = {
      TAPWIRE_DATABASE_URL: databaseUrl,
      TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
      TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
      TAPWIRE_HTTPS_ONLY: 'false',
      TAPWIRE_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
      TAPWIRE_RETRY_SCHEDULE: '50ms,100ms,200ms,500ms,1s,2s,2s,2s',
      // One endpoint takes everything here; its default limit (4 in flight) would only slow the drain.
      TAPWIRE_ENDPOINT_CONCURRENCY: '32',
      TAPWIRE_DATABASE_POOL_SIZE: '4',
    };
    // A few ms per delivery, so some are always in flight when the kill lands.
    receiver = await startCountingReceiver(() => between(receiverRandom, 0, 8));
    const rx = receiver;
    const startedAt = Date.now();

    let server: ServeProcess = await startServe({ cwd: dir, env, timeoutMs: 30_000 });
    const app = await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Crash' } });
    expect(app.status).toBe(201);
    const appId = app.body.id as string;
    expect((await callApi(server.url, 'POST', `/api/v1/app/${appId}/endpoint`, { token: ADMIN_TOKEN, body: { url: rx.url } })).status).toBe(201);

    // The load generator: LANES loops posting to whichever server is current. A 202 is a promise;
    // anything else (connection refused or reset while the process is dead) promises nothing.
    const acceptedAt = new Map<string, number>();
    const unexpected: string[] = [];
    let posted = 0;
    let refused = 0;
    let stop = false;
    const lane = async (laneNo: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        posted++;
        try {
          const res = await callApi(server.url, 'POST', `/api/v1/app/${appId}/msg`, {
            token: ADMIN_TOKEN,
            body: { eventType: 'order.created', payload: { lane: laneNo, n } },
          });
          if (res.status === 202) acceptedAt.set(res.body.id as string, Date.now());
          else unexpected.push(`${res.status} ${JSON.stringify(res.body)}`.slice(0, 300));
        } catch {
          refused++;
          // Dead or restarting: try again shortly (the next server has another port).
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    };
    const lanes = Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
    lanes.catch(() => undefined); // awaited below

    const lives: number[] = [];
    const restartsMs: number[] = [];
    let kills = 0;
    try {
      for (let k = 0; k < KILLS; k++) {
        const lifeMs = between(random, LIFE_MS.min, LIFE_MS.max);
        lives.push(lifeMs);
        await new Promise((resolve) => setTimeout(resolve, lifeMs));
        server.child.kill('SIGKILL');
        expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
        kills++;
        const restartStarted = Date.now();
        server = await startServe({ cwd: dir, env, timeoutMs: 30_000 });
        restartsMs.push(Date.now() - restartStarted);
      }
      // The last server lives on: a little more load, then stop the generator.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      stop = true;
      await lanes;
    }
    const loadEndedAt = Date.now();
    expect(unexpected).toEqual([]);
    const promised = [...acceptedAt.keys()];
    expect(promised.length).toBeGreaterThan(KILLS * 10);

    // Everything promised arrives: the deliveries leased by a killed process after their lease.
    const missing = (): string[] => promised.filter((id) => !rx.counts.has(id));
    await rx.waitFor(() => missing().length === 0, LEASE_MS + 60_000, `all ${promised.length} promised messages`).catch((error: Error) => {
      throw new Error(`${error.message}; lost so far ${missing().length}: ${missing().slice(0, 5).join(', ')}… (seed ${seed})`);
    });
    const drainedAt = Date.now();
    const lost = missing().length;
    expect(lost).toBe(0);

    // Figures: duplicates (at-least-once), messages committed although their 202 never arrived, the
    // longest silence at the receiver while there was work, and the slowest 202-to-delivery.
    const firstArrivals = [...rx.firstAt.values()].sort((a, b) => a - b);
    let longestGapMs = 0;
    for (let i = 1; i < firstArrivals.length; i++) longestGapMs = Math.max(longestGapMs, firstArrivals[i]! - firstArrivals[i - 1]!);
    const latencies = promised.map((id) => rx.firstAt.get(id)! - acceptedAt.get(id)!);
    const duplicateDeliveries = rx.total - rx.counts.size;
    const duplicatedMessages = [...rx.counts.values()].filter((n) => n > 1).length;
    const committedWithout202 = [...rx.counts.keys()].filter((id) => !acceptedAt.has(id)).length;
    reportFigures('crash', backend, {
      seed,
      kills,
      lifeMs: lives,
      restartMs: restartsMs,
      postsSent: posted,
      promised: promised.length,
      postsWithoutAnswer: refused,
      delivered: promised.length - lost,
      lost,
      duplicateDeliveries,
      duplicatedMessages,
      committedWithout202,
      longestGapMs,
      maxLatencyMs: Math.max(...latencies),
      drainAfterLoadMs: drainedAt - loadEndedAt,
      durationS: Number(((Date.now() - startedAt) / 1000).toFixed(1)),
    });
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  }, chaosSize(90_000, 600_000));
});
