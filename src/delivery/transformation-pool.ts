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

interface PendingRun {
  call: SandboxCall;
  resolve: (result: SandboxResult) => void;
}

interface PoolThread {
  worker: Worker;
  running: PendingRun | null;
  watchdog: NodeJS.Timeout | null;
  /** It has answered a run: its QuickJS module is compiled. */
  started: boolean;
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
  private readonly queue: PendingRun[] = [];
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
  run(code: string, webhookJson: string, checkOnly = false): Promise<SandboxResult> {
    if (this.closed) return Promise.resolve({ kind: 'error', message: 'the server is shutting down', durationMs: 0 });
    return new Promise((resolve) => {
      this.queue.push({ call: { id: this.nextId++, input: { code, webhookJson, ...this.limits, ...(checkOnly ? { checkOnly } : {}) } }, resolve });
      this.dispatch();
    });
  }

  /** End the threads; runs still queued resolve as errors. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.resolve({ kind: 'error', message: 'the server is shutting down', durationMs: 0 });
    await Promise.all(this.threads.splice(0).map((thread) => this.stop(thread, { kind: 'error', message: 'the server is shutting down', durationMs: 0 })));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let thread = this.threads.find((t) => t.running === null);
      if (!thread) {
        if (this.threads.length >= this.options.threads) return;
        thread = this.spawn();
      }
      this.start(thread, this.queue.shift()!);
    }
  }

  private spawn(): PoolThread {
    const worker = new Worker(threadScript(), { workerData: { tapwireTransformationThread: true } });
    // The pool's runs keep the process busy while they matter; an idle thread must not keep it alive.
    worker.unref();
    const thread: PoolThread = { worker, running: null, watchdog: null, started: false };
    worker.on('message', (reply: SandboxReply) => {
      if (thread.running?.call.id !== reply.id) return;
      this.finish(thread, reply.result);
    });
    worker.on('error', (error) => this.lose(thread, `the transformation thread failed: ${error.message}`));
    worker.on('exit', () => this.lose(thread, 'the transformation thread ended unexpectedly'));
    this.threads.push(thread);
    return thread;
  }

  private start(thread: PoolThread, pending: PendingRun): void {
    thread.running = pending;
    // The deadline is the sandbox's; the watchdog only catches a thread that can no longer keep it.
    thread.watchdog = setTimeout(() => {
      void this.replace(thread, { kind: 'timeout', message: `the transformation did not stop at its ${this.options.timeoutMs} ms deadline; its thread was terminated`, durationMs: this.options.timeoutMs + WATCHDOG_GRACE_MS });
    }, this.options.timeoutMs + WATCHDOG_GRACE_MS + startupAllowanceMs(thread));
    thread.watchdog.unref();
    thread.worker.postMessage(pending.call);
  }

  private finish(thread: PoolThread, result: SandboxResult): void {
    const pending = thread.running;
    if (thread.watchdog) clearTimeout(thread.watchdog);
    thread.watchdog = null;
    thread.running = null;
    thread.started = true;
    pending?.resolve(result);
    this.dispatch();
  }

  /** A thread that errored or exited: its run fails, and it leaves the pool (a new one starts on demand). */
  private lose(thread: PoolThread, message: string): void {
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    this.threads.splice(index, 1);
    if (thread.running) this.finish(thread, { kind: 'error', message, durationMs: 0 });
    else this.dispatch();
  }

  private async replace(thread: PoolThread, result: SandboxResult): Promise<void> {
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.threads.splice(index, 1);
    await this.stop(thread, result);
    this.dispatch();
  }

  private async stop(thread: PoolThread, result: SandboxResult): Promise<void> {
    if (thread.running) this.finish(thread, result);
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
