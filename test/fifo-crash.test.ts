// FIFO order across a crash, with real processes (docs/fifo.md): `tapwire serve` is killed with
// kill -9 while the head of a FIFO line is in flight; started again on the same database, it sends
// the head again (at least once) and then the rest, and no message ever overtakes an earlier one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startConcurrencyProbe, type Probe } from './helpers/concurrency-probe.js';
import { backends, dropSchema, freshSchemaUrl } from './helpers/postgres.js';
import { assertCliBuilt, callApi, killAllProcesses, postAccepted, startServe, type ServeProcess } from './helpers/tapwire-process.js';

const ADMIN_TOKEN = 'tw_admin_fifo_crash_0123456789';

/** `ids` with runs of the same id folded into one: a repeated head counts once. */
const withoutRepeats = (ids: string[]): string[] => ids.filter((id, i) => id !== ids[i - 1]);

describe.each(await backends())('%s', (backend) => {
  let dir: string;
  let databaseUrl: string;
  let probe: Probe | null = null;

  beforeAll(() => assertCliBuilt());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-fifo-crash-'));
    databaseUrl = backend === 'postgres' ? freshSchemaUrl('fifo_crash') : join(dir, 'tapwire.db');
  });
  afterEach(async () => {
    await killAllProcesses();
    await probe?.close();
    probe = null;
    rmSync(dir, { recursive: true, force: true });
    if (backend === 'postgres') await dropSchema(databaseUrl);
  });

  const serve = (): Promise<ServeProcess> =>
    startServe({
      cwd: dir,
      args: ['--role', 'all'],
      env: {
        TAPWIRE_DATABASE_URL: databaseUrl,
        TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
        TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
        TAPWIRE_HTTPS_ONLY: 'false',
        TAPWIRE_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms',
        // The lease of the head cut off by the kill is 2 × this + 5 s (leaseMsFor): then it goes again.
        TAPWIRE_REQUEST_TIMEOUT: '1s',
      },
    });

  it('keeps the order after kill -9 while the head is in flight: the head may repeat, nothing overtakes it', async () => {
    // Arrival 1 (the head) fails and is retried; arrival 2 (the head again) hangs until the kill.
    let arrivals = 0;
    probe = await startConcurrencyProbe(() => {
      arrivals++;
      if (arrivals === 1) return { status: 500 };
      if (arrivals === 2) return 'hang';
      return { status: 200, delayMs: 5 };
    });
    const first = await serve();
    const app = await callApi(first.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Ordered' } });
    expect(app.status).toBe(201);
    const endpoint = await callApi(first.url, 'POST', `/api/v1/app/${app.body.id}/endpoint`, { token: ADMIN_TOKEN, body: { url: probe.url, fifo: true } });
    expect(endpoint.status).toBe(201);
    const sent = await postAccepted(first, ADMIN_TOKEN, app.body.id, 0, 8);
    await probe.waitFor(() => probe!.arrivals.length === 2, 'the head retried and in flight');

    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await probe.waitFor(() => probe!.active === 0, 'the cut-off request closed');

    await serve();
    await probe.waitFor(() => new Set(probe!.arrivals.slice(2).map((a) => a.id)).size === sent.length, 'every message delivered after the restart', 30_000);
    const ids = probe.arrivals.map((a) => a.id);
    // The head went at least three times (failed, cut off, then succeeded), and everything after it in order.
    expect(ids.slice(0, 3)).toEqual([sent[0], sent[0], sent[0]]);
    expect(withoutRepeats(ids)).toEqual(sent);
    expect(probe.maxActive).toBe(1);
  });
});
