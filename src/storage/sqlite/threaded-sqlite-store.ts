// A SqliteStore on a worker thread of its own (TAPWIRE_SQLITE_THREAD, on by default). better-sqlite3
// is synchronous: in the main thread every statement, COMMIT and fsync holds up the HTTP server and
// the delivery worker's requests. Here the main thread only sends calls and receives results, and
// the database work runs in parallel on another core. Every Store method keeps its meaning: the
// thread runs the same SqliteStore (group commits, savepoints, durability), and a promise still
// settles only after its COMMIT.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { TapwireError } from '../../errors/tapwire-error.js';
import type { Store, StoreHealth, StoreLogger } from '../store.js';
import type { SerializedError, ThreadCall, ThreadReply } from './sqlite-thread.js';

export interface ThreadedSqliteStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** Receives the store's log lines (migrations, open-time warnings). */
  logger?: StoreLogger;
  /** As SqliteStoreOptions.encryptionKeys (sent to the thread as base64). */
  encryptionKeys?: Buffer[] | null;
}

type ThreadMessage =
  | { replies: ThreadReply[] }
  | { log: 'info' | 'warn'; obj: object; msg: string }
  | { ready: true }
  | { ready: false; error: SerializedError };

/**
 * The compiled thread script. Running from the TypeScript sources (the test runner), the worker
 * still needs JavaScript: it uses the build in dist/, which `npm test` makes first.
 */
function threadScript(): URL {
  const own = new URL('./sqlite-thread.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return own;
  const built = new URL('../../../dist/storage/sqlite/sqlite-thread.js', import.meta.url);
  if (!existsSync(built)) {
    throw new TapwireError('store_unavailable', { detail: `The SQLite thread needs the build (${fileURLToPath(built)}); run npm run build` });
  }
  return built;
}

function toError(error: SerializedError): TapwireError {
  return new TapwireError(error.code, { detail: error.detail, ...(error.issues ? { issues: error.issues } : {}) });
}

/**
 * Open the database on a new worker thread and return a Store whose every method runs there.
 * Throws TapwireError('store_unavailable') when the file cannot be opened, as SqliteStore.open does.
 */
export async function openThreadedSqliteStore(options: ThreadedSqliteStoreOptions): Promise<Store> {
  const encryptionKeys = options.encryptionKeys?.map((key) => key.toString('base64')) ?? null;
  const worker = new Worker(threadScript(), { workerData: { tapwireSqliteThread: true, path: options.path, encryptionKeys } });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let outbox: ThreadCall[] = [];
  let sendScheduled = false;
  /** Set once the thread is gone (closed or crashed): every later call fails with it. */
  let gone: TapwireError | null = null;
  let closing: Promise<void> | null = null;

  const failAll = (error: TapwireError): void => {
    gone ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
    outbox = [];
  };

  let settleReady: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    settleReady = { resolve, reject };
  });

  worker.on('message', (message: ThreadMessage) => {
    if ('replies' in message) {
      for (const reply of message.replies) {
        const waiter = pending.get(reply.id);
        if (!waiter) continue;
        pending.delete(reply.id);
        if (reply.ok) waiter.resolve(reply.value);
        else waiter.reject(toError(reply.error));
      }
    } else if ('log' in message) {
      options.logger?.[message.log](message.obj, message.msg);
    } else if (message.ready) {
      settleReady?.resolve();
    } else {
      settleReady?.reject(toError(message.error));
    }
  });
  worker.on('error', (error) => {
    // An exception escaped the thread: a bug. Fail loudly and refuse further calls (503s), rather
    // than leave callers waiting forever.
    options.logger?.warn({ err: { message: error.message, stack: error.stack } }, 'the SQLite thread crashed');
    const failure = new TapwireError('store_unavailable', { detail: `The SQLite thread crashed: ${error.message}` });
    settleReady?.reject(failure);
    failAll(failure);
  });
  worker.on('exit', (code) => {
    const failure = new TapwireError('store_unavailable', { detail: closing ? 'The store is closed' : `The SQLite thread exited (code ${code})` });
    settleReady?.reject(failure);
    failAll(failure);
  });

  try {
    await ready;
  } catch (error) {
    await worker.terminate().catch(() => undefined);
    throw error;
  }
  settleReady = null;

  const send = (): void => {
    sendScheduled = false;
    if (outbox.length === 0) return;
    const batch = outbox;
    outbox = [];
    worker.postMessage(batch);
  };
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (gone) return Promise.reject(gone);
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      outbox.push({ id, method, args });
      if (!sendScheduled) {
        sendScheduled = true;
        // Every call made in this turn of the event loop travels in one message.
        setImmediate(send);
      }
    });
  };

  const own: Partial<Record<keyof Store, unknown>> = {
    kind: 'sqlite',
    async ping(): Promise<StoreHealth> {
      try {
        return (await call('ping', [])) as StoreHealth;
      } catch (error) {
        return { ok: false, detail: (error as Error).message };
      }
    },
    // SQLite has no cross-process notification; the server wakes its own worker (see SqliteStore).
    async onDeliveriesQueued(): Promise<() => Promise<void>> {
      return async () => undefined;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        // Writes already handed over are committed first: close() runs after them in the thread.
        await call('close', []).catch(() => undefined);
        await worker.terminate().catch(() => undefined);
        failAll(new TapwireError('store_unavailable', { detail: 'The store is closed' }));
      })();
      return closing;
    },
  };
  const forwarders = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(own, {
    get(target, property) {
      if (typeof property !== 'string') return undefined;
      if (property in target) return target[property as keyof Store];
      // Not a thenable: `await store` must not call into the thread.
      if (property === 'then') return undefined;
      let forward = forwarders.get(property);
      if (!forward) {
        forward = (...args: unknown[]) => call(property, args);
        forwarders.set(property, forward);
      }
      return forward;
    },
  }) as unknown as Store;
}
