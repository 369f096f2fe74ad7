// The inbox's promise under a real crash: a receiving process (test/fixtures/inbox-crash-child.mjs,
// running the built dist/) is SIGKILLed while some events have succeeded and others are running,
// then started again. Every event must end succeeded, none that had been recorded as succeeded may
// run again, and events whose handler was stuck at the kill are taken over once their lease expires.
// Also checks that the built inbox module loads a database driver only when an inbox is opened.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createVerifiedWebhook } from '../src/receiver/core.js';
import { createInbox, type Inbox } from '../src/receiver/inbox/inbox.js';
import { backends, dropSchema, freshSchemaUrl } from './helpers/postgres.js';

const CHILD = fileURLToPath(new URL('./fixtures/inbox-crash-child.mjs', import.meta.url));
const BUILT_INBOX = fileURLToPath(new URL('../dist/receiver/inbox/inbox.js', import.meta.url));
/** Short, so the restarted process takes over the killed one's leases quickly. */
const LEASE_MS = 500;

beforeAll(() => {
  if (!existsSync(BUILT_INBOX)) throw new Error(`${BUILT_INBOX} is missing: run \`npm run build\` (npm test does) before these tests`);
});

interface Child {
  process: ChildProcess;
  exited: Promise<void>;
  /** Resolves when the child printed "ready" (its inbox is open). */
  ready: Promise<void>;
  stderr: () => string;
}

const children = new Set<Child>();

afterEach(async () => {
  for (const child of children) child.process.kill('SIGKILL');
  await Promise.all([...children].map((child) => child.exited));
  children.clear();
});

function startChild(database: string, logFile: string, leaseMs = LEASE_MS): Child {
  const process_ = spawn(process.execPath, [CHILD, database, logFile, String(leaseMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  process_.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const child: Child = {
    process: process_,
    exited: new Promise((resolve) => process_.once('exit', () => resolve())),
    ready: new Promise((resolve) => process_.stdout!.once('data', () => resolve())),
    stderr: () => stderr,
  };
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

async function kill(child: Child): Promise<void> {
  child.process.kill('SIGKILL');
  await child.exited;
}

/** Poll until `accept` holds; fail with the last value (and the child's stderr) after `timeoutMs`. */
async function waitUntil<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, child: Child, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`child exited while waiting for ${what}; stderr:\n${child.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(value)}; stderr:\n${child.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function logCounts(logFile: string): Map<string, number> {
  const counts = new Map<string, number>();
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  for (const id of text.split('\n').filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe.each(await backends())('%s', (backend) => {
  let scratch: string;
  let database: string;
  let inbox: Inbox | undefined;

  afterEach(async () => {
    await inbox?.close();
    inbox = undefined;
    rmSync(scratch, { recursive: true, force: true });
    if (backend === 'postgres') await dropSchema(database);
  });

  it('after a SIGKILL, a restarted process finishes every event and reruns none that had succeeded', async () => {
    scratch = mkdtempSync(join(tmpdir(), 'tapwire-inbox-crash-'));
    database = backend === 'sqlite' ? join(scratch, 'inbox.db') : freshSchemaUrl('inbox_crash');
    const logFile = join(scratch, 'handled.log');
    // This process only stores and inspects; the child runs the handlers.
    inbox = await createInbox({ database, handlers: {}, autoStart: false });
    const hangIds = ['hang-1', 'hang-2', 'hang-3'];
    const workIds = Array.from({ length: 60 }, (_, i) => `work-${i}`);
    const allIds = [...hangIds, ...workIds];
    // Received first, so claimed first: they occupy 3 of the child's 8 slots until the kill.
    for (const id of allIds) {
      const result = await inbox.receive(createVerifiedWebhook({ scheme: 'test', id, type: 'job', timestamp: undefined, body: Buffer.from(`{"id":"${id}"}`), headers: {} }));
      expect(result.duplicate).toBe(false);
    }

    const first = startChild(database, logFile);
    await waitUntil(
      async () => ({ stats: await inbox!.stats(), hung: await Promise.all(hangIds.map(async (id) => (await inbox!.get('test', id))?.status)) }),
      ({ stats, hung }) => stats.succeeded >= 10 && hung.every((status) => status === 'running'),
      'some events succeeded and the hanging ones running',
      first,
    );
    await kill(first);

    const before = await inbox.list({ limit: 1_000 });
    const succeededBefore = before.filter((r) => r.status === 'succeeded').map((r) => r.id);
    const runningBefore = before.filter((r) => r.status === 'running').map((r) => r.id);
    expect(succeededBefore.length).toBeGreaterThanOrEqual(10);
    expect(runningBefore).toEqual(expect.arrayContaining(hangIds));

    const second = startChild(database, logFile);
    await waitUntil(() => inbox!.stats(), (stats) => stats.succeeded === allIds.length, 'every event succeeded', second);
    await kill(second);

    // Nothing lost: every event succeeded and its handler's work is in the log.
    const records = await inbox.list({ limit: 1_000 });
    expect(records.map((r) => r.status).every((status) => status === 'succeeded')).toBe(true);
    const counts = logCounts(logFile);
    expect([...counts.keys()].sort()).toEqual([...allIds].sort());
    // Nothing recorded as succeeded ran again after the restart.
    for (const id of succeededBefore) expect(counts.get(id), id).toBe(1);
    // The stuck attempts never completed; the takeover was their second attempt.
    for (const id of hangIds) {
      expect(counts.get(id), id).toBe(1);
      expect(records.find((r) => r.id === id)?.attempts, id).toBe(2);
    }
    // At most one rerun, and only for an event killed between its work and the record of it.
    for (const [id, count] of counts) expect(count, id).toBeLessThanOrEqual(succeededBefore.includes(id) ? 1 : 2);
  }, 60_000);

  it('two processes on one database run each event exactly once', async () => {
    scratch = mkdtempSync(join(tmpdir(), 'tapwire-inbox-shared-'));
    database = backend === 'sqlite' ? join(scratch, 'inbox.db') : freshSchemaUrl('inbox_shared');
    const logFile = join(scratch, 'handled.log');
    inbox = await createInbox({ database, handlers: {}, autoStart: false });
    const ids = Array.from({ length: 200 }, (_, i) => `shared-${i}`);
    // A long lease: a rerun here could only come from two processes leasing the same event.
    const a = startChild(database, logFile, 60_000);
    const b = startChild(database, logFile, 60_000);
    await Promise.all([a.ready, b.ready]);
    for (const id of ids) {
      await inbox.receive(createVerifiedWebhook({ scheme: 'test', id, type: 'job', timestamp: undefined, body: Buffer.from('{}'), headers: {} }));
    }
    await waitUntil(() => inbox!.stats(), (stats) => stats.succeeded === ids.length, 'every event succeeded', a);
    await Promise.all([kill(a), kill(b)]);
    const counts = logCounts(logFile);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.entries()].filter(([, count]) => count !== 1)).toEqual([]);
    expect(a.stderr() + b.stderr()).toBe('');
  }, 60_000);
});

describe('the built inbox module', () => {
  it('loads a database driver only when an inbox on that backend is opened', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'tapwire-inbox-drivers-'));
    try {
      const script = `
        import { createRequire } from 'node:module';
        const require = createRequire(import.meta.url);
        const drivers = () => ['better-sqlite3', 'pg'].filter((name) =>
          Object.keys(require.cache).some((path) => path.includes('/node_modules/' + name + '/')));
        const { createInbox } = await import(${JSON.stringify(BUILT_INBOX)});
        const afterImport = drivers();
        const inbox = await createInbox({ database: ${JSON.stringify(join(scratch, 'x.db'))}, handlers: {}, autoStart: false });
        const afterOpen = drivers();
        await inbox.close();
        console.log(JSON.stringify({ afterImport, afterOpen }));`;
      const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(JSON.parse(output)).toEqual({ afterImport: [], afterOpen: ['better-sqlite3'] });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
