// The transformation pool: runs happen on worker threads, so a handler spinning to its deadline
// never blocks the event loop; runs beyond the threads queue; a thread that dies fails only its run
// and is replaced; close() ends queued runs. Runs the thread script from the build (npm run build).
import { afterEach, describe, expect, it } from 'vitest';
import { TransformationPool } from '../src/delivery/transformation-pool.js';

const WEBHOOK = JSON.stringify({ method: 'POST', url: 'https://example.com/', payload: { n: 1 }, eventType: 'e', headers: {} });
const SPIN = 'function handler(webhook) { while (true) {} }';
const ECHO = 'function handler(webhook) { webhook.payload.n++; return webhook; }';

describe('TransformationPool', () => {
  const pools: TransformationPool[] = [];
  const poolOf = (threads: number, timeoutMs = 100): TransformationPool => {
    const pool = new TransformationPool({ threads, timeoutMs, memoryLimitBytes: 16 * 1_048_576 });
    pools.push(pool);
    return pool;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('keeps the event loop free while handlers spin to their deadline on every thread', async () => {
    const pool = poolOf(2, 300);
    await pool.run(ECHO, WEBHOOK); // the threads' QuickJS modules are compiled
    await pool.run(ECHO, WEBHOOK);
    let last = performance.now();
    let worstLagMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLagMs = Math.max(worstLagMs, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    const results = await Promise.all([pool.run(SPIN, WEBHOOK), pool.run(SPIN, WEBHOOK), pool.run(SPIN, WEBHOOK), pool.run(ECHO, WEBHOOK)]);
    clearInterval(ticker);
    expect(results.map((r) => r.kind)).toEqual(['timeout', 'timeout', 'timeout', 'ok']);
    // Two threads: the third spin waited for one of them.
    expect(performance.now() - started).toBeGreaterThanOrEqual(550);
    // A run on the event loop would have stalled the ticker for 300 ms.
    expect(worstLagMs).toBeLessThan(150);
  });

  it('shares threads by time used: an endpoint whose handler spins waits while a quick one runs, and is not starved', async () => {
    const pool = poolOf(1, 100);
    await pool.run(ECHO, WEBHOOK); // the thread's QuickJS module is compiled
    const done: string[] = [];
    const track = (key: string, run: Promise<unknown>): Promise<unknown> => run.then(() => done.push(key));
    // The spinning endpoint queues first, five runs; then twenty quick runs of another endpoint.
    const spins = Array.from({ length: 5 }, () => track('spin', pool.run(SPIN, WEBHOOK, { key: 'ep_spin' })));
    const quick = Array.from({ length: 20 }, () => track('quick', pool.run(ECHO, WEBHOOK, { key: 'ep_quick' })));
    await Promise.all([...spins, ...quick]);
    // The spinning endpoint had the thread first, with its second run already handed over behind
    // it (a thread takes two at once); after those, every quick run went before the next spin.
    expect(done.slice(0, 22)).toEqual(['spin', 'spin', ...Array.from({ length: 20 }, () => 'quick')]);
    expect(done.filter((k) => k === 'spin')).toHaveLength(5);
  });

  it('answers each run with its own result', async () => {
    const pool = poolOf(2);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.run(`function handler(w) { w.payload = ${i}; return w; }`, WEBHOOK)));
    expect(results.map((r) => (r.kind === 'ok' ? JSON.parse(r.resultJson).payload : r))).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('fails only the run of a thread that dies, and replaces the thread', async () => {
    const pool = poolOf(1, 2_000);
    await pool.run(ECHO, WEBHOOK);
    const running = pool.run(SPIN, WEBHOOK);
    const queued = pool.run(ECHO, WEBHOOK);
    // Kill the thread mid-run, as a fault of the WebAssembly instance would end it.
    const threads = (pool as unknown as { threads: { worker: { terminate(): Promise<number> } }[] }).threads;
    await threads[0]!.worker.terminate();
    expect(await running).toMatchObject({ kind: 'error', message: 'the transformation thread ended unexpectedly' });
    const next = await queued;
    expect(next.kind).toBe('ok');
  });

  it('ends queued runs on close', async () => {
    const pool = poolOf(1, 500);
    const first = pool.run(SPIN, WEBHOOK);
    const second = pool.run(ECHO, WEBHOOK);
    await pool.close();
    expect(await second).toMatchObject({ kind: 'error', message: 'the server is shutting down' });
    expect(await first).toMatchObject({ kind: 'error', message: 'the server is shutting down' });
    expect(await pool.run(ECHO, WEBHOOK)).toMatchObject({ kind: 'error', message: 'the server is shutting down' });
  });
});
