// Disk and database trouble suite (issue 8): the SQLite file's disk full or the database read-only,
// PostgreSQL read-only (what a hot standby is) and restarted, all under a running server taking POSTs.
// The API must answer 503 store_unavailable in JSON, never a 202 for a message it could not store,
// and recover by itself once the trouble is gone; every 202 is delivered.
//
// How each trouble is made (tests run as root, where chmod stops nothing):
// - SQLite disk full: the database lives on a tmpfs of 16 MB mounted for the test, filled up with a
//   file (real ENOSPC from the kernel). Where mounting is not allowed, the fallback is SQLite's own
//   `PRAGMA max_page_count` on the server's connection (SQLITE_FULL without a full disk).
// - SQLite read-only: `PRAGMA query_only` on the server's connection, which fails every write with
//   SQLITE_READONLY, the error SQLite gives for a read-only file. A real read-only remount cannot be
//   made here: Linux refuses to remount a filesystem read-only while a file on it is open for
//   writing (EBUSY), and the database always is.
// - PostgreSQL read-only: a private cluster (test/helpers/private-postgres.ts) switched with
//   `ALTER SYSTEM SET default_transaction_read_only` and a reload, which applies to open sessions too.
// - PostgreSQL restarted: `pg_ctl restart` of that cluster under load. test/restart.postgres.test.ts
//   and test/outage.postgres.test.ts cover stops and network cuts in more detail.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startCountingReceiver, type CountingReceiver } from '../helpers/counting-receiver.js';
import { createApp, createEndpoint, eventually } from '../helpers/delivery.js';
import { backends, withClient } from '../helpers/postgres.js';
import { privatePostgresAvailable, startPrivatePostgres, stopAllPrivatePostgres } from '../helpers/private-postgres.js';
import { startTapwire, type TestTapwire } from '../helpers/tapwire.js';
import { chaosSize, reportFigures, waitUntil } from './chaos.js';

const REQUEST_TIMEOUT_MS = 1_000;
/** delivery-worker.ts leaseMsFor: attempts whose outcome could not be recorded are retried after this. */
const LEASE_MS = 2 * REQUEST_TIMEOUT_MS + 5_000;
const SERVER_ENV = { TAPWIRE_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`, TAPWIRE_RETRY_SCHEDULE: '100ms,200ms,500ms,1s,1s,1s,1s,1s' };
/** POSTs made while the trouble lasts. */
const POSTS_IN_TROUBLE = chaosSize(40, 400);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => stopAllPrivatePostgres());

/** Every answer of a troubled POST, sorted into what the contract allows, and anything else. */
interface Tally {
  accepted: string[];
  refused: number;
  unexpected: string[];
}

/** POST one message; a 202 is recorded as accepted, a 503 store_unavailable JSON as refused. */
async function post(tw: TestTapwire, appId: string, tally: Tally, n: number, padding = ''): Promise<number> {
  const res = await tw.api('POST', `/api/v1/app/${appId}/msg`, { eventType: 'disk.event', payload: { n, padding } });
  if (res.status === 202) tally.accepted.push(res.body.id as string);
  else if (res.status === 503 && res.headers.get('content-type')?.startsWith('application/json') && res.body?.code === 'store_unavailable' && typeof res.body.detail === 'string') tally.refused++;
  else tally.unexpected.push(`${res.status} ${res.text.slice(0, 300)}`);
  return res.status;
}

/** An app with one endpoint at a fresh counting receiver. */
async function appWithReceiver(tw: TestTapwire): Promise<{ appId: string; rx: CountingReceiver }> {
  const rx = await startCountingReceiver();
  cleanups.push(() => rx.close());
  const appId = await createApp(tw, 'Disk trouble');
  await createEndpoint(tw, appId, { url: rx.url });
  return { appId, rx };
}

/** Every accepted message reaches the receiver, and reads back through the API. */
async function expectAllDelivered(tw: TestTapwire, appId: string, rx: CountingReceiver, accepted: string[]): Promise<void> {
  await rx.waitFor(() => accepted.every((id) => rx.counts.has(id)), LEASE_MS + 20_000, `all ${accepted.length} accepted messages`).catch((error: Error) => {
    throw new Error(`${error.message}; missing ${accepted.filter((id) => !rx.counts.has(id)).slice(0, 5).join(', ')}`);
  });
  for (const id of accepted) expect((await tw.api('GET', `/api/v1/app/${appId}/msg/${id}?with_content=false`)).status).toBe(200);
}

/** The server's own better-sqlite3 connection (test-only reach into the store, to switch pragmas). */
function sqliteConnection(tw: TestTapwire): { pragma(sql: string, options?: { simple: boolean }): unknown } {
  return (tw.server.store as unknown as { db: { pragma(sql: string, options?: { simple: boolean }): unknown } }).db;
}

/** Mount a tmpfs of `sizeMb` at a fresh directory; null when this machine does not allow it. */
function mountTmpfs(sizeMb: number): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-chaos-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tapwire-chaos', dir], { stdio: 'pipe' });
    return dir;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    console.warn(`[chaos] disk-trouble: cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}); simulating a full disk with PRAGMA max_page_count`);
    return null;
  }
}

/** Write a file until the filesystem is full; returns its path and size. */
function fillUp(dir: string): { path: string; bytes: number } {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let bytes = 0;
  try {
    for (;;) bytes += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return { path, bytes };
}

const all = await backends();

describe.runIf(all.includes('sqlite'))('sqlite', () => {
  it('disk full: answers 503 JSON and never 202 for what it could not store, then recovers by itself once space is freed', async () => {
    const mount = mountTmpfs(16);
    let dataDir: string;
    if (mount) {
      cleanups.push(() => {
        execFileSync('umount', ['-l', mount]);
        rmSync(mount, { recursive: true, force: true });
      });
      dataDir = join(mount, 'data');
      mkdirSync(dataDir);
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'tapwire-chaos-disk-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    }
    const tw = await startTapwire({ ...SERVER_ENV, TAPWIRE_DATABASE_URL: join(dataDir, 'tapwire.db') }, { backend: 'sqlite' });
    cleanups.push(() => tw.close());
    const { appId, rx } = await appWithReceiver(tw);
    const tally: Tally = { accepted: [], refused: 0, unexpected: [] };
    for (let n = 0; n < 10; n++) expect(await post(tw, appId, tally, n)).toBe(202);

    // Fill the disk, then keep posting 2 KB messages: once the WAL has no room left, every POST is refused.
    const db = sqliteConnection(tw);
    let filler: { path: string; bytes: number } | null = null;
    if (mount) filler = fillUp(mount);
    else db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const padding = 'p'.repeat(2_000);
    let n = 10;
    let firstRefusalAfter = -1;
    for (let sent = 0; tally.refused < POSTS_IN_TROUBLE && sent < 5_000; sent++) {
      const status = await post(tw, appId, tally, n++, padding);
      if (status === 503 && firstRefusalAfter < 0) firstRefusalAfter = sent;
    }
    expect(tally.unexpected).toEqual([]);
    expect(tally.refused).toBe(POSTS_IN_TROUBLE);
    const acceptedWhileFull = tally.accepted.length - 10;
    // Reads still work while writes cannot.
    const read = await tw.api('GET', `/api/v1/app/${appId}/msg?limit=5&with_content=false`);
    expect(read.status).toBe(200);

    // Free the space: the very next POSTs are accepted, with no restart and no operator.
    if (filler) unlinkSync(filler.path);
    else db.pragma('max_page_count = 1073741823');
    const beforeRecovery = tally.accepted.length;
    await eventually(() => post(tw, appId, tally, n++), (status) => status === 202, { timeoutMs: 10_000, what: 'a 202 after freeing space' });
    for (let k = 0; k < 10; k++) expect(await post(tw, appId, tally, n++)).toBe(202);
    expect(tally.unexpected).toEqual([]);
    await expectAllDelivered(tw, appId, rx, tally.accepted);
    // Nothing refused reached the receiver: every delivered message is one that got its 202.
    expect([...rx.counts.keys()].filter((id) => !tally.accepted.includes(id))).toEqual([]);
    reportFigures('disk-full', 'sqlite', {
      how: mount ? 'tmpfs 16 MB filled with a file (ENOSPC)' : 'PRAGMA max_page_count (SQLITE_FULL)',
      fillerMB: filler ? Number((filler.bytes / 1024 / 1024).toFixed(1)) : null,
      acceptedBeforeFirstRefusal: acceptedWhileFull,
      refused503: tally.refused,
      fiveXXOtherThan503: 0,
      acceptedAfterRecovery: tally.accepted.length - beforeRecovery,
      accepted: tally.accepted.length,
      lost: 0,
    });
  }, 60_000);

  it('read-only database: answers 503 JSON to every write, keeps serving reads, and recovers by itself', async () => {
    const tw = await startTapwire(SERVER_ENV, { backend: 'sqlite' });
    cleanups.push(() => tw.close());
    const { appId, rx } = await appWithReceiver(tw);
    const tally: Tally = { accepted: [], refused: 0, unexpected: [] };
    for (let n = 0; n < 10; n++) expect(await post(tw, appId, tally, n)).toBe(202);

    const db = sqliteConnection(tw);
    db.pragma('query_only = ON');
    for (let n = 100; n < 100 + POSTS_IN_TROUBLE; n++) expect(await post(tw, appId, tally, n)).toBe(503);
    // Other writes too: 503 JSON, nothing changed.
    const before = (await tw.api('GET', `/api/v1/app/${appId}`)).text;
    for (const [method, path, body] of [
      ['PATCH', `/api/v1/app/${appId}`, { name: 'renamed' }],
      ['POST', `/api/v1/app/${appId}/endpoint`, { url: rx.url }],
      ['POST', '/api/v1/event-type', { name: 'ro.event', description: 'x' }],
    ] as const) {
      const res = await tw.api(method, path, body);
      expect(res.status, res.text).toBe(503);
      expect(res.body).toEqual({ code: 'store_unavailable', detail: expect.any(String) });
    }
    expect((await tw.api('GET', `/api/v1/app/${appId}`)).text).toBe(before);
    expect((await tw.api('GET', `/api/v1/app/${appId}/msg?with_content=false`)).status).toBe(200);

    db.pragma('query_only = OFF');
    for (let n = 200; n < 210; n++) expect(await post(tw, appId, tally, n)).toBe(202);
    expect(tally.unexpected).toEqual([]);
    await expectAllDelivered(tw, appId, rx, tally.accepted);
    expect(rx.counts.size).toBe(tally.accepted.length);
    reportFigures('read-only', 'sqlite', { how: 'PRAGMA query_only (SQLITE_READONLY)', refused503: tally.refused + 3, accepted: tally.accepted.length, lost: 0 });
  }, 60_000);
});

describe.runIf(all.includes('postgres') && privatePostgresAvailable())('postgres', () => {
  it('read-only, then restarted under load: 503 JSON while it cannot write, every 202 delivered, recovers by itself', async () => {
    const pg = await startPrivatePostgres();
    const tw = await startTapwire({ ...SERVER_ENV, TAPWIRE_DATABASE_URL: `${pg.url}?schema=chaos_disk` }, { backend: 'postgres' });
    cleanups.push(() => tw.close());
    const { appId, rx } = await appWithReceiver(tw);
    const tally: Tally = { accepted: [], refused: 0, unexpected: [] };
    for (let n = 0; n < 10; n++) expect(await post(tw, appId, tally, n)).toBe(202);

    // Read-only, as a hot standby is: every session, the server's open ones included, after a reload.
    const setReadOnly = (on: boolean): Promise<unknown> =>
      withClient(pg.url, async (client) => {
        await client.query(`ALTER SYSTEM SET default_transaction_read_only = ${on ? 'on' : 'off'}`);
        await client.query('SELECT pg_reload_conf()');
      });
    await setReadOnly(true);
    // The reload reaches each session when it next takes a command: the first POSTs may still pass.
    await eventually(() => post(tw, appId, tally, 100), (status) => status !== 202, { timeoutMs: 10_000, what: 'a refusal once read-only' });
    for (let n = 101; n < 100 + POSTS_IN_TROUBLE; n++) await post(tw, appId, tally, n);
    expect(tally.unexpected).toEqual([]);
    const refusedReadOnly = tally.refused;
    expect(refusedReadOnly).toBeGreaterThanOrEqual(POSTS_IN_TROUBLE - 5);
    expect((await tw.api('GET', `/api/v1/app/${appId}/msg?with_content=false`)).status).toBe(200);
    await setReadOnly(false);
    await eventually(() => post(tw, appId, tally, 1_000), (status) => status === 202, { timeoutMs: 10_000, what: 'a 202 once writable again' });

    // Restarted under load: 8 lanes posting the whole time; every answer a 202 or a prompt 503.
    let stop = false;
    let n = 10_000;
    const lanes = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) await post(tw, appId, tally, n++);
      }),
    );
    lanes.catch(() => undefined);
    const beforeRestart = tally.accepted.length;
    try {
      await waitUntil(() => tally.accepted.length >= beforeRestart + 50, 10_000, () => '50 POSTs accepted before the restart');
      await pg.restart();
      const afterRestart = tally.accepted.length;
      await waitUntil(() => tally.accepted.length >= afterRestart + 50, 15_000, () => '50 POSTs accepted after the restart');
    } finally {
      stop = true;
      await lanes;
    }
    expect(tally.unexpected).toEqual([]);
    await expectAllDelivered(tw, appId, rx, tally.accepted);
    reportFigures('postgres-trouble', 'postgres', {
      how: 'private cluster: ALTER SYSTEM default_transaction_read_only + reload; pg_ctl restart -m fast under 8 POST lanes',
      refused503ReadOnly: refusedReadOnly,
      refused503Restart: tally.refused - refusedReadOnly,
      accepted: tally.accepted.length,
      lost: 0,
      duplicates: rx.total - rx.counts.size,
    });
  }, 90_000);
});
