// FIFO across processes on PostgreSQL (docs/fifo.md): two `serve --role api` and two `serve --role
// worker` processes on one schema. Messages accepted one after another reach a FIFO endpoint in that
// order even when the first fails three times; messages accepted all at once through both API
// processes reach it in the order the line recorded (fifo_seq), never two requests at a time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startConcurrencyProbe, type Probe } from './helpers/concurrency-probe.js';
import { backends, dropSchema, freshSchemaUrl, withClient } from './helpers/postgres.js';
import { assertCliBuilt, callApi, killAllProcesses, postAccepted, startServe, type ServeProcess } from './helpers/tapwire-process.js';

const enabled = (await backends()).includes('postgres');

const ADMIN_TOKEN = 'tw_admin_fifo_workers_0123456789';

describe.skipIf(!enabled)('FIFO endpoints with two worker processes', () => {
  let dir: string;
  let databaseUrl: string;
  let probe: Probe | null = null;

  beforeAll(() => assertCliBuilt());
  afterEach(async () => {
    await killAllProcesses();
    await probe?.close();
    probe = null;
    rmSync(dir, { recursive: true, force: true });
    await dropSchema(databaseUrl);
  });

  /** Two API and two worker processes on a fresh schema, and an application with a FIFO endpoint at the probe. */
  async function startCluster(): Promise<{ apis: ServeProcess[]; appId: string; endpointId: string }> {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-fifo-workers-'));
    databaseUrl = freshSchemaUrl('fifo_workers');
    const env = {
      TAPWIRE_DATABASE_URL: databaseUrl,
      TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
      TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
      TAPWIRE_HTTPS_ONLY: 'false',
      TAPWIRE_DATABASE_POOL_SIZE: '5',
      TAPWIRE_RETRY_SCHEDULE: '20ms,20ms,20ms,20ms,20ms',
    };
    const [apis] = await Promise.all([
      Promise.all([0, 1].map(() => startServe({ cwd: dir, env, args: ['--role', 'api'], timeoutMs: 30_000 }))),
      Promise.all([0, 1].map(() => startServe({ cwd: dir, env, args: ['--role', 'worker'], timeoutMs: 30_000, ready: (line) => line.msg === 'tapwire worker running' }))),
    ]);
    const app = await callApi(apis[0]!.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Ordered' } });
    expect(app.status).toBe(201);
    const endpoint = await callApi(apis[1]!.url, 'POST', `/api/v1/app/${app.body.id}/endpoint`, { token: ADMIN_TOKEN, body: { url: probe!.url, fifo: true } });
    expect(endpoint.status).toBe(201);
    return { apis, appId: app.body.id as string, endpointId: endpoint.body.id as string };
  }

  it('delivers messages accepted one after another in that order, one at a time, when the first fails three times', async () => {
    let arrivals = 0;
    // Each answer takes a moment, so a second request in flight at once would show in maxActive.
    probe = await startConcurrencyProbe(() => (++arrivals <= 3 ? { status: 500, delayMs: 10 } : { status: 200, delayMs: 10 }));
    const { apis, appId } = await startCluster();
    const sent: string[] = [];
    // Alternating between the API processes: each accept sees the line the other one left.
    for (let n = 0; n < 20; n++) sent.push(...(await postAccepted(apis[n % 2]!, ADMIN_TOKEN, appId, n, 1)));
    await probe.waitFor(() => probe!.arrivals.length === sent.length + 3, 'every message delivered', 30_000);
    expect(probe.arrivals.map((a) => a.id)).toEqual([sent[0], sent[0], sent[0], ...sent]);
    expect(probe.maxActive).toBe(1);
  });

  it('delivers messages accepted concurrently through both API processes in line order, never two at once', async () => {
    probe = await startConcurrencyProbe(() => ({ status: 200, delayMs: 5 }));
    const { apis, appId, endpointId } = await startCluster();
    // 8 lanes of 8 accepts each, half through each API process.
    const lanes = Array.from({ length: 8 }, (_, lane) => postAccepted(apis[lane % 2]!, ADMIN_TOKEN, appId, lane * 100, 8));
    const sent = (await Promise.all(lanes)).flat();
    await probe.waitFor(() => probe!.arrivals.length >= sent.length, 'every message delivered', 30_000);
    // The line's order is the order the accepts committed in: one place each, no place twice.
    const line = await withClient(databaseUrl, async (client) =>
      (await client.query<{ msg_id: string; fifo_seq: string }>('SELECT msg_id, fifo_seq FROM deliveries WHERE endpoint_id = $1 ORDER BY fifo_seq', [endpointId])).rows,
    );
    expect(line.map((row) => Number(row.fifo_seq))).toEqual(Array.from({ length: sent.length }, (_, i) => i + 1));
    expect(probe.arrivals.map((a) => a.id)).toEqual(line.map((row) => row.msg_id));
    expect(probe.maxActive).toBe(1);
  });
});
