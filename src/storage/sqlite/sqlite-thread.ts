// The worker-thread side of ThreadedSqliteStore: owns one SqliteStore and runs the calls the main
// thread sends it. better-sqlite3 is synchronous, so on the main thread every statement, COMMIT and
// fsync stops HTTP work; here they run beside it, on a core of their own when one is free.
//
// Protocol (both directions batch everything produced in one turn of their event loop into one
// message, since each postMessage has a fixed cost):
//   main → thread: Call[]                      {id, method, args}
//   thread → main: {replies: Reply[]}          {id, ok, value} | {id, ok: false, error}
//                  {log: 'info'|'warn', obj, msg}
//                  {ready: true} | {ready: false, error} once, after opening the database
import { parentPort, workerData } from 'node:worker_threads';

import { TapwireError } from '../../errors/tapwire-error.js';
import { SqliteStore } from './sqlite-store.js';

export interface ThreadCall {
  id: number;
  method: string;
  args: unknown[];
}

/** An error as it crosses the thread boundary (class instances do not survive structured clone). */
export interface SerializedError {
  code: TapwireError['code'];
  detail: string;
  issues?: TapwireError['issues'];
}

export type ThreadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export interface ThreadData {
  path: string;
  /** Base64 of each key (see SqliteStoreOptions.encryptionKeys). */
  encryptionKeys: string[] | null;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof TapwireError) {
    return { code: error.code, detail: error.detail, ...(error.issues ? { issues: error.issues } : {}) };
  }
  // The store translates every driver error; anything else is a bug, reported as the store failing.
  return { code: 'store_unavailable', detail: `The SQLite store failed: ${error instanceof Error ? error.message : String(error)}` };
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('sqlite-thread.js runs only as a worker thread (see ThreadedSqliteStore)');
  const { path, encryptionKeys } = workerData as ThreadData;
  const logger = {
    info: (obj: object, msg: string) => port.postMessage({ log: 'info', obj, msg }),
    warn: (obj: object, msg: string) => port.postMessage({ log: 'warn', obj, msg }),
  };
  let store: SqliteStore;
  try {
    store = SqliteStore.open({ path, logger, encryptionKeys: encryptionKeys?.map((key) => Buffer.from(key, 'base64')) ?? null });
  } catch (error) {
    port.postMessage({ ready: false, error: serializeError(error) });
    return;
  }

  const methods = store as unknown as Record<string, unknown>;
  let replies: ThreadReply[] = [];
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    const batch = replies;
    replies = [];
    port.postMessage({ replies: batch });
  };
  const reply = (value: ThreadReply): void => {
    replies.push(value);
    if (!flushScheduled) {
      flushScheduled = true;
      // After the store's own group commit (also a setImmediate, scheduled earlier in this turn):
      // every call settled by that COMMIT goes back in one message.
      setImmediate(flush);
    }
  };

  port.on('message', (calls: ThreadCall[]) => {
    for (const { id, method, args } of calls) {
      const fn = methods[method];
      if (typeof fn !== 'function' || method === 'constructor' || method.startsWith('_')) {
        reply({ id, ok: false, error: { code: 'server_error', detail: `The SQLite store has no method '${method}'` } });
        continue;
      }
      let result: unknown;
      try {
        result = (fn as (...a: unknown[]) => unknown).apply(store, args);
      } catch (error) {
        reply({ id, ok: false, error: serializeError(error) });
        continue;
      }
      Promise.resolve(result).then(
        (value) => reply({ id, ok: true, value }),
        (error: unknown) => reply({ id, ok: false, error: serializeError(error) }),
      );
    }
  });
  port.postMessage({ ready: true });
}

if (parentPort && (workerData as { tapwireSqliteThread?: boolean } | null)?.tapwireSqliteThread) main();
