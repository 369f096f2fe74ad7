// Scale-out with real processes (issue 3): 2 `serve --role api` and 3 `serve --role worker` processes
// on one PostgreSQL schema. Every message that got a 202 reaches the receiver; without crashes none
// arrives twice and the three workers share the work; after a worker is killed with kill -9, the
// deliveries it had leased are claimed by the others once the lease runs out, and nothing is lost.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startConcurrencyProbe } from './helpers/concurrency-probe.js';
import { startCountingReceiver, type CountingReceiver } from './helpers/counting-receiver.js';
import { backends, dropSchema, freshSchemaUrl, schemaOf, withClient } from './helpers/postgres.js';
import { assertCliBuilt, callApi, killAllProcesses, startServe, type ServeProcess } from './helpers/tapwire-process.js';

const enabled = (await backends()).includes('postgres');

const ADMIN_TOKEN = 'tw_admin_multiprocess_test_0123456789';
/** Requests in flight at once from the test to the two API processes together. */
const POST_CONCURRENCY = 32;

/** Poll `check` until it holds; for state only visible through logs or the database. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what()}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Cluster {
  databaseUrl: string;
  apis: ServeProcess[];
  workers: ServeProcess[];
  appId: string;
}

let dir: string;
let receiver: CountingReceiver | null = null;
const schemas: string[] = [];

/** Start 2 API and 3 worker processes on a fresh schema and create an app with one endpoint at `endpointUrl`. */
async function startCluster(prefix: string, endpointUrl: string, extraEnv: Record<string, string> = {}): Promise<Cluster> {
  const databaseUrl = freshSchemaUrl(prefix);
  schemas.push(databaseUrl);
  const env = {
    TAPWIRE_DATABASE_URL: databaseUrl,
    TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
    TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
    TAPWIRE_HTTPS_ONLY: 'false',
    // 5 processes × (5 + 1 LISTEN) connections leaves room on a shared server for the files running beside this one.
    TAPWIRE_DATABASE_POOL_SIZE: '5',
    // These tests fill every worker slot from one receiver endpoint of one application, which a
    // limit per endpoint (fixed here, so the last test can check it across workers) or the share of
    // one application (half a worker's slots by default) would not allow.
    TAPWIRE_ENDPOINT_CONCURRENCY: '1000',
    TAPWIRE_APP_CONCURRENCY_MAX: '1000',
    ...extraEnv,
  };
  // All five start at once, so the migration advisory lock is exercised on the way.
  const [apis, workers] = await Promise.all([
    Promise.all([0, 1].map(() => startServe({ cwd: dir, env, args: ['--role', 'api'], timeoutMs: 30_000 }))),
    Promise.all(
      [0, 1, 2].map(() =>
        startServe({ cwd: dir, env, args: ['--role', 'worker'], timeoutMs: 30_000, ready: (line) => line.msg === 'tapwire worker running' }),
      ),
    ),
  ]);
  const app = await callApi(apis[0]!.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Scale-out' } });
  expect(app.status).toBe(201);
  // Created through the other API process: both see one database.
  const endpoint = await callApi(apis[1]!.url, 'POST', `/api/v1/app/${app.body.id}/endpoint`, { token: ADMIN_TOKEN, body: { url: endpointUrl } });
  expect(endpoint.status).toBe(201);
  return { databaseUrl, apis, workers, appId: app.body.id as string };
}

/**
 * POST `count` messages, POST_CONCURRENCY at a time, alternating between the API processes.
 * Every answer must be a 202; returns the accepted ids and when the first and last 202 came.
 */
async function postMessages(cluster: Cluster, count: number): Promise<{ ids: string[]; firstAcceptedAt: number; lastAcceptedAt: number }> {
  const ids: string[] = [];
  let firstAcceptedAt = 0;
  let lastAcceptedAt = 0;
  let next = 0;
  // undici's request() on a keep-alive pool per API process: a fraction of fetch()'s CPU per call,
  // which leaves more of a small machine to the processes under test.
  const pools = cluster.apis.map((api) => new Pool(api.url, { connections: Math.ceil(POST_CONCURRENCY / cluster.apis.length) }));
  const path = `/api/v1/app/${cluster.appId}/msg`;
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const lane = async (laneNo: number): Promise<void> => {
    const pool = pools[laneNo % pools.length]!;
    while (next < count) {
      const n = next++;
      const res = await pool.request({ method: 'POST', path, headers, body: JSON.stringify({ eventType: 'order.created', payload: { n, lane: laneNo } }) });
      const body = (await res.body.json()) as { id?: string };
      if (res.statusCode !== 202) throw new Error(`POST msg ${n}: ${res.statusCode} ${JSON.stringify(body)}`);
      lastAcceptedAt = Date.now();
      if (ids.length === 0) firstAcceptedAt = lastAcceptedAt;
      ids.push(body.id!);
    }
  };
  try {
    await Promise.all(Array.from({ length: POST_CONCURRENCY }, (_, i) => lane(i)));
  } finally {
    await Promise.all(pools.map((pool) => pool.destroy()));
  }
  return { ids, firstAcceptedAt, lastAcceptedAt };
}

/** Successful attempts each worker process logged. */
function successesPerWorker(cluster: Cluster): number[] {
  return cluster.workers.map((worker) => worker.logs.filter((line) => line.msg === 'attempt succeeded').length);
}

/** Delivery rows per status, and attempt rows, read straight from the schema. */
async function databaseState(databaseUrl: string): Promise<{ byStatus: Record<string, number>; attempts: number }> {
  return withClient(databaseUrl, async (client) => {
    const statuses = await client.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM deliveries GROUP BY status');
    const attempts = await client.query<{ n: string }>('SELECT count(*) AS n FROM attempts');
    return {
      byStatus: Object.fromEntries(statuses.rows.map((r) => [r.status, Number(r.n)])),
      attempts: Number(attempts.rows[0]!.n),
    };
  });
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc; null where there is no /proc.
 * Only for the report: it shows where the time of the run went.
 */
function cpuSecondsOf(pid: number | undefined): number | null {
  const file = `/proc/${pid ?? 'self'}/stat`;
  if (!existsSync(file)) return null;
  // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15 (in clock ticks, 100/s on Linux).
  const fields = readFileSync(file, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Busy and total CPU time of the whole machine, from /proc/stat; null where there is no /proc. */
function machineCpu(): { busy: number; total: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = ticks[3]! + (ticks[4] ?? 0);
  return { busy: total - idle, total };
}

function missingOf(ids: string[]): string[] {
  return ids.filter((id) => !receiver!.counts.has(id));
}

describe.skipIf(!enabled)('2 API and 3 worker processes on one PostgreSQL database', () => {
  beforeAll(() => {
    assertCliBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tapwire-multiprocess-'));
  });

  afterEach(async (context) => {
    await killAllProcesses();
    await receiver?.close();
    receiver = null;
    // A failed test keeps its schema to look at; say where it is.
    if (context.task.result?.state === 'fail') console.error(`multiprocess: kept schema(s) ${schemas.map(schemaOf).join(', ')} for inspection`);
    else for (const url of schemas) await dropSchema(url);
    schemas.length = 0;
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers 10,000 messages accepted by two API processes exactly once, shared by three workers', async () => {
    const N = 10_000;
    receiver = await startCountingReceiver();
    const cluster = await startCluster('multiprocess', receiver.url);

    const procs = [...cluster.apis, ...cluster.workers];
    const cpuBefore = { procs: procs.map((p) => cpuSecondsOf(p.child.pid)), self: cpuSecondsOf(undefined), machine: machineCpu() };
    const posting = await postMessages(cluster, N);
    expect(posting.ids).toHaveLength(N);
    expect(new Set(posting.ids).size).toBe(N);

    await receiver.waitFor(() => receiver!.counts.size >= N, 60_000, `all ${N} messages`).catch((error: Error) => {
      const missing = missingOf(posting.ids);
      throw new Error(`${error.message}; missing ${missing.length}: ${missing.slice(0, 5).join(', ')}…`);
    });
    const lastArrival = Math.max(...receiver.lastAt.values());
    const cpuAfter = { procs: procs.map((p) => cpuSecondsOf(p.child.pid)), self: cpuSecondsOf(undefined), machine: machineCpu() };
    expect(missingOf(posting.ids)).toEqual([]);
    // Nothing crashed, so nothing was delivered twice, and nothing arrived that was not accepted.
    const repeated = [...receiver.counts].filter(([, n]) => n > 1);
    expect(repeated).toEqual([]);
    expect(receiver.total).toBe(N);

    // The work was shared: every worker process made some of the deliveries, and their logged
    // successes add up to exactly N (each recorded once). Logged after the commit, so wait for them.
    await waitUntil(
      () => successesPerWorker(cluster).reduce((a, b) => a + b, 0) >= N,
      15_000,
      () => `worker success logs ${successesPerWorker(cluster).join('+')} of ${N}`,
    );
    const perWorker = successesPerWorker(cluster);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(N);
    for (const share of perWorker) expect(share).toBeGreaterThan(0);

    // The database agrees: N deliveries, all successful, one attempt each.
    const state = await databaseState(cluster.databaseUrl);
    expect(state).toEqual({ byStatus: { success: N }, attempts: N });

    const ingestSeconds = (posting.lastAcceptedAt - posting.firstAcceptedAt) / 1000;
    const endToEndSeconds = (lastArrival - posting.firstAcceptedAt) / 1000;
    console.log(
      `multiprocess (PostgreSQL, 2 api + 3 worker processes): ${N} messages accepted in ${ingestSeconds.toFixed(2)} s ` +
        `(${Math.round(N / ingestSeconds)}/s over ${POST_CONCURRENCY} connections), all delivered ${endToEndSeconds.toFixed(2)} s after the first 202: ` +
        `${Math.round(N / endToEndSeconds)} messages/s end to end; last arrival ${((lastArrival - posting.lastAcceptedAt) / 1000).toFixed(2)} s after the last 202; ` +
        `per worker ${perWorker.join(' / ')}; 0 duplicates`,
    );
    if (cpuBefore.machine && cpuAfter.machine && cpuBefore.self !== null && cpuAfter.self !== null) {
      const used = (i: number): string => (cpuAfter.procs[i]! - cpuBefore.procs[i]!).toFixed(1);
      const busy = (cpuAfter.machine.busy - cpuBefore.machine.busy) / (cpuAfter.machine.total - cpuBefore.machine.total);
      console.log(
        `multiprocess CPU seconds during the run: api ${used(0)} + ${used(1)}, workers ${used(2)} + ${used(3)} + ${used(4)}, ` +
          `test process (client + receiver) ${(cpuAfter.self - cpuBefore.self).toFixed(1)}; the machine's CPUs were ${Math.round(busy * 100)} % busy ` +
          `(PostgreSQL and anything else running takes the rest)`,
      );
    }

    // And everyone stops cleanly: nothing crashed along the way.
    for (const proc of [...cluster.apis, ...cluster.workers]) expect(await proc.stop()).toEqual({ code: 0, signal: null });
  }, 150_000); // about 35 s on a busy 2-core machine; the margin is for a full parallel `npm test`

  it('after kill -9 of one worker, the others deliver what it had leased once the lease expires', async () => {
    const N = 2_000;
    const CONCURRENCY = 16;
    const REQUEST_TIMEOUT_MS = 3_000;
    const LEASE_MS = 2 * REQUEST_TIMEOUT_MS + 5_000;
    receiver = await startCountingReceiver(() => 50 + Math.floor(Math.random() * 50));
    const cluster = await startCluster('multiprocess_kill', receiver.url, {
      TAPWIRE_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
      TAPWIRE_WORKER_CONCURRENCY: String(CONCURRENCY),
    });

    const posting = postMessages(cluster, N);
    posting.catch(() => undefined); // awaited below; an early failure must not go unhandled
    await receiver.waitFor(() => receiver!.counts.size >= N / 4, 30_000, `${N / 4} distinct deliveries`);
    // Hold every new request until each worker has all its slots busy (3 × 16 held: no worker can
    // hold more than 16), so the victim certainly has 16 leased deliveries in flight when it dies.
    const heldFrom = Date.now();
    receiver.hold();
    await receiver.waitFor(() => receiver!.held().total >= 3 * CONCURRENCY, 10_000, `${3 * CONCURRENCY} requests held`);
    const victim = cluster.workers[0]!;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Its connections close with it; the survivors' stay open, waiting for our answer.
    await receiver.waitFor(() => receiver!.held().disconnected >= CONCURRENCY, 10_000, `the victim's ${CONCURRENCY} connections closed`);
    const cutOff = receiver.release();
    const releasedAt = Date.now();
    const deliveredAtKill = receiver.answered.size;
    // Held well under the request timeout, so no survivor gave up on a request of its own.
    expect(releasedAt - heldFrom).toBeLessThan(REQUEST_TIMEOUT_MS - 1_000);
    expect(cutOff).toHaveLength(CONCURRENCY);

    const { ids } = await posting;
    expect(ids).toHaveLength(N); // the API processes were not touched
    expect(deliveredAtKill).toBeLessThan(N);

    await receiver.waitFor(() => receiver!.counts.size >= N, 45_000, `all ${N} messages`).catch((error: Error) => {
      const missing = missingOf(ids);
      throw new Error(`${error.message}; missing ${missing.length}: ${missing.slice(0, 5).join(', ')}…`);
    });
    expect(missingOf(ids)).toEqual([]);

    // Each delivery the victim had leased was claimed again by a survivor, only once its lease ran
    // out (it was claimed after heldFrom, less a moment), and answered this time.
    await receiver.waitFor(() => cutOff.every((id) => receiver!.answered.has(id)), LEASE_MS + 10_000, 'every cut-off delivery answered');
    for (const id of cutOff) {
      expect(receiver.counts.get(id)).toBe(2);
      expect(receiver.lastAt.get(id)! - heldFrom).toBeGreaterThan(LEASE_MS - 1_000);
    }

    // The database settles too: every delivery ends in success, nothing stays leased.
    await waitUntil(
      async () => {
        const { byStatus } = await databaseState(cluster.databaseUrl);
        return byStatus.success === N && Object.keys(byStatus).length === 1;
      },
      20_000,
      () => 'every delivery recorded as success',
    );
    const duplicates = receiver.total - receiver.counts.size;
    expect(duplicates).toBe(CONCURRENCY);
    const redelivered = cutOff.map((id) => (receiver!.lastAt.get(id)! - killedAt) / 1000);
    console.log(
      `multiprocess kill -9 (PostgreSQL, 2 api + 3 workers, lease ${LEASE_MS / 1000} s): ${N} accepted, ${deliveredAtKill} delivered at the kill, ` +
        `all slots busy ${killedAt - heldFrom} ms after the hold, ` +
        `${cutOff.length} in flight in the killed worker, redelivered ${Math.min(...redelivered).toFixed(1)}–${Math.max(...redelivered).toFixed(1)} s after the kill; ` +
        `all ${N} delivered; ${duplicates} duplicate deliveries (at-least-once); survivors logged ${successesPerWorker(cluster).slice(1).join(' / ')} successes`,
    );

    for (const proc of [...cluster.apis, ...cluster.workers.slice(1)]) expect(await proc.stop()).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('holds an endpoint to its concurrency limit across three worker processes', async () => {
    const N = 400;
    const LIMIT = 4;
    const probe = await startConcurrencyProbe(() => ({ status: 200, delayMs: 20 }));
    try {
      const cluster = await startCluster('multiprocess_limit', probe.url, { TAPWIRE_ENDPOINT_CONCURRENCY: String(LIMIT) });
      const { ids } = await postMessages(cluster, N);
      expect(ids).toHaveLength(N);
      await probe.waitFor(() => new Set(probe.arrivals.map((a) => a.id)).size >= N, `all ${N} messages`, 60_000);
      // 48 worker slots between them, yet never more than LIMIT requests at the receiver at once.
      expect(probe.maxActive).toBe(LIMIT);
      expect(probe.arrivals).toHaveLength(N);
      // Each worker still took part: the limit is shared, not given to one process.
      await waitUntil(() => successesPerWorker(cluster).reduce((a, b) => a + b, 0) >= N, 15_000, () => `worker success logs ${successesPerWorker(cluster).join('+')}`);
      for (const share of successesPerWorker(cluster)) expect(share).toBeGreaterThan(0);
      console.log(`multiprocess endpoint limit ${LIMIT}: ${N} delivered, at most ${probe.maxActive} at once, per worker ${successesPerWorker(cluster).join(' / ')}`);
      for (const proc of [...cluster.apis, ...cluster.workers]) expect(await proc.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await probe.close();
    }
  }, 90_000);
});
