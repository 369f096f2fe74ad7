// Runs endpoint transformations in a few worker threads, each owning a QuickJS module. QuickJS is
// synchronous: a handler that spins until its 100 ms deadline would stall every other delivery if
// it ran on the worker's event loop. Here it blocks one thread, and the event loop only waits for
// a message. A thread that misses its deadline by a wide margin, or dies, is replaced.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TapwireError } from '../errors/tapwire-error.js';
import type { SandboxResult } from './transformation-sandbox.js';
import type { SandboxCall, SandboxReply } from './transformation-thread.js';

export interface TransformationPoolOptions {
  /** Threads running transformations at once. */
  threads: number;
  /** CPU deadline of one run (TAPWIRE_TRANSFORMATION_TIMEOUT, default 100 ms). */
  timeoutMs: number;
  /** QuickJS heap limit of one run (TAPWIRE_TRANSFORMATION_MEMORY_LIMIT, default 16 MiB). */
  memoryLimitBytes: number;
}

/**
 * A thread that has not answered this long after a run's deadline is terminated: QuickJS checks
 * the deadline between bytecodes, so only a fault (or a single enormous native call) gets here.
 */
const WATCHDOG_GRACE_MS = 1_000;

/**
 * Runs handed to one thread at once. The event loop of a busy worker answers a thread's reply late;
 * with a second run already waiting, the thread goes on at once instead of sitting idle until then.
 */
const PIPELINE_DEPTH = 2;

/**
 * Thread time charged to a key when its run is handed out, corrected when it ends: a key with a
 * run already out then yields to one without, so a pipelined slot goes to another endpoint first.
 */
const PROVISIONAL_CHARGE_MS = 1;

interface PendingRun {
  call: SandboxCall;
  /** Whose run it is (an endpoint id): threads are shared out by the time each key has used. */
  key: string;
  resolve: (result: SandboxResult) => void;
}

/** Thread time a key has used, decaying with a half-life of USAGE_HALF_LIFE_MS. */
interface Usage {
  ms: number;
  at: number;
}

/**
 * How fast a key's used thread time is forgotten. Long enough that an endpoint whose handler spins
 * to its deadline every run stays behind endpoints whose handlers take a fraction of a millisecond;
 * short enough that it is not starved once it is alone again.
 */
const USAGE_HALF_LIFE_MS = 1_000;

interface PoolThread {
  worker: Worker;
  /**
   * Runs handed to it, in order: the first is running, the others wait in its message port, so the
   * thread starts the next one without waiting for the event loop to hand it over.
   */
  runs: PendingRun[];
  watchdog: NodeJS.Timeout | null;
  /** It has answered a run: its QuickJS module is compiled. */
  started: boolean;
  /** When its current run was handed to it (performance.now()). */
  runStarted: number;
}

/**
 * The compiled thread script. Running from the TypeScript sources (the test runner), the thread
 * still needs JavaScript: it uses the build in dist/, which `npm test` makes first.
 */
function threadScript(): URL {
  const own = new URL('./transformation-thread.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return own;
  const built = new URL('../../dist/delivery/transformation-thread.js', import.meta.url);
  if (!existsSync(built)) {
    throw new TapwireError('server_error', { detail: `The transformation threads need the build (${fileURLToPath(built)}); run npm run build` });
  }
  return built;
}

export class TransformationPool {
  private readonly options: TransformationPoolOptions;
  private readonly threads: PoolThread[] = [];
  /** Runs waiting for a thread, per key, each key's in arrival order. */
  private readonly queues = new Map<string, PendingRun[]>();
  private readonly usage = new Map<string, Usage>();
  private nextId = 1;
  private closed = false;

  constructor(options: TransformationPoolOptions) {
    this.options = { ...options, threads: Math.max(1, options.threads) };
  }

  /** The limits each run gets. */
  get limits(): { timeoutMs: number; memoryLimitBytes: number } {
    return { timeoutMs: this.options.timeoutMs, memoryLimitBytes: this.options.memoryLimitBytes };
  }

  /**
   * Run `handler(webhook)` of `code` once, in a fresh QuickJS context. Resolves with how it ended;
   * never rejects for anything the code does. Threads start on the first run.
   */
  run(code: string, webhookJson: string, options: { key?: string; checkOnly?: boolean } = {}): Promise<SandboxResult> {
    if (this.closed) return Promise.resolve({ kind: 'error', message: 'the server is shutting down', durationMs: 0 });
    const key = options.key ?? '';
    return new Promise((resolve) => {
      const call: SandboxCall = { id: this.nextId++, input: { code, webhookJson, ...this.limits, ...(options.checkOnly ? { checkOnly: true } : {}) } };
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = []));
      queue.push({ call, key, resolve });
      this.dispatch();
    });
  }

  /** End the threads; runs still queued resolve as errors. */
  async close(): Promise<void> {
    this.closed = true;
    const waiting = [...this.queues.values()].flat();
    this.queues.clear();
    for (const pending of waiting) pending.resolve({ kind: 'error', message: 'the server is shutting down', durationMs: 0 });
    await Promise.all(this.threads.splice(0).map((thread) => this.stop(thread, { kind: 'error', message: 'the server is shutting down', durationMs: 0 })));
  }

  private dispatch(): void {
    while (this.queues.size > 0) {
      // An idle thread first, then a new one, then a busy one with room in its pipeline.
      let thread = this.threads.find((t) => t.runs.length === 0);
      if (!thread && this.threads.length < this.options.threads) thread = this.spawn();
      thread ??= this.threads.find((t) => t.started && t.runs.length < PIPELINE_DEPTH);
      if (!thread) return;
      this.start(thread, this.nextRun());
    }
  }

  /**
   * The next run: the oldest of the key that has used the least thread time lately (ties go to the
   * key queued first). An endpoint whose handler spins to its deadline uses a thread for 100 ms a
   * run; it then waits while endpoints with quick handlers run, so it cannot take their throughput,
   * and it still gets the threads whenever they have nothing to run.
   */
  private nextRun(): PendingRun {
    const now = performance.now();
    let chosen: string | null = null;
    let least = Infinity;
    for (const key of this.queues.keys()) {
      const used = this.usedMs(key, now);
      if (used < least) {
        least = used;
        chosen = key;
      }
    }
    const queue = this.queues.get(chosen!)!;
    const run = queue.shift()!;
    if (queue.length === 0) this.queues.delete(chosen!);
    return run;
  }

  private usedMs(key: string, now: number): number {
    const usage = this.usage.get(key);
    return usage ? usage.ms * 2 ** (-(now - usage.at) / USAGE_HALF_LIFE_MS) : 0;
  }

  /** Charge a finished run's thread time to its key (and forget keys whose usage has decayed away). */
  private charge(key: string, ms: number): void {
    const now = performance.now();
    this.usage.set(key, { ms: Math.max(0, this.usedMs(key, now) + ms), at: now });
    if (this.usage.size > 1_000) {
      for (const [k] of this.usage) if (!this.queues.has(k) && this.usedMs(k, now) < 0.01) this.usage.delete(k);
    }
  }

  private spawn(): PoolThread {
    const worker = new Worker(threadScript(), { workerData: { tapwireTransformationThread: true } });
    // The pool's runs keep the process busy while they matter; an idle thread must not keep it alive.
    worker.unref();
    const thread: PoolThread = { worker, runs: [], watchdog: null, started: false, runStarted: 0 };
    worker.on('message', (reply: SandboxReply) => {
      if (thread.runs[0]?.call.id !== reply.id) return;
      this.finish(thread, reply.result);
    });
    worker.on('error', (error) => this.lose(thread, `the transformation thread failed: ${error.message}`));
    worker.on('exit', () => this.lose(thread, 'the transformation thread ended unexpectedly'));
    this.threads.push(thread);
    return thread;
  }

  private start(thread: PoolThread, pending: PendingRun): void {
    this.charge(pending.key, PROVISIONAL_CHARGE_MS);
    thread.runs.push(pending);
    if (thread.runs.length === 1) this.watch(thread);
    thread.worker.postMessage(pending.call);
  }

  /** Time the thread's current run (its first): the deadline is the sandbox's; the watchdog only catches a thread that can no longer keep it. */
  private watch(thread: PoolThread): void {
    thread.runStarted = performance.now();
    thread.watchdog = setTimeout(() => {
      void this.replace(thread, { kind: 'timeout', message: `the transformation did not stop at its ${this.options.timeoutMs} ms deadline; its thread was terminated`, durationMs: this.options.timeoutMs + WATCHDOG_GRACE_MS });
    }, this.options.timeoutMs + WATCHDOG_GRACE_MS + startupAllowanceMs(thread));
    thread.watchdog.unref();
  }

  private finish(thread: PoolThread, result: SandboxResult): void {
    const pending = thread.runs.shift();
    if (thread.watchdog) clearTimeout(thread.watchdog);
    thread.watchdog = null;
    thread.started = true;
    if (pending) this.charge(pending.key, performance.now() - thread.runStarted - PROVISIONAL_CHARGE_MS);
    // The thread has started its next run already, if it had one.
    if (thread.runs.length > 0) this.watch(thread);
    pending?.resolve(result);
    this.dispatch();
  }

  /** Runs a lost thread had not started go back to the front of their queues, to run on another thread. */
  private requeueWaiting(thread: PoolThread): void {
    const waiting = thread.runs.splice(1);
    if (this.closed) {
      for (const pending of waiting) pending.resolve({ kind: 'error', message: 'the server is shutting down', durationMs: 0 });
      return;
    }
    for (const pending of waiting.reverse()) {
      const queue = this.queues.get(pending.key);
      if (queue) queue.unshift(pending);
      else this.queues.set(pending.key, [pending]);
    }
  }

  /** A thread that errored or exited: its run fails, and it leaves the pool (a new one starts on demand). */
  private lose(thread: PoolThread, message: string): void {
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    this.threads.splice(index, 1);
    this.requeueWaiting(thread);
    if (thread.runs.length > 0) this.finish(thread, { kind: 'error', message, durationMs: 0 });
    else this.dispatch();
  }

  private async replace(thread: PoolThread, result: SandboxResult): Promise<void> {
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.threads.splice(index, 1);
    await this.stop(thread, result);
    this.dispatch();
  }

  private async stop(thread: PoolThread, result: SandboxResult): Promise<void> {
    this.requeueWaiting(thread);
    if (thread.runs.length > 0) this.finish(thread, result);
    await thread.worker.terminate().catch(() => undefined);
  }
}

/**
 * A thread's first run also waits for its QuickJS module to compile (tens of ms, more on a busy
 * machine): the watchdog allows for that once, so a slow start is not taken for a hung handler.
 */
function startupAllowanceMs(thread: PoolThread): number {
  return thread.started ? 0 : 10_000;
}
