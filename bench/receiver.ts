// The webhook receiver of every scenario, in its own process so that its CPU is its own and the
// senders (raw, relay, Tapwire) share the machine with it the same way. It listens on several
// loopback addresses (127.0.0.1, 127.0.0.2, …), one origin per endpoint of the multi-endpoint
// scenarios, and counts each (path, webhook-id) once. It does not verify signatures: it is the
// same cheap receiver for every sender, so the ratios compare the senders.
//
// Paths: /ok/<name> answers 200 "ok" once the body has arrived; /slow/<ms>/<name> answers 200 <ms>
// milliseconds after the body has arrived (a slow endpoint); /hang/<name> never answers (the sender
// must time out); /limited/<name> answers 429 with `Retry-After: 1` from its first request until
// the limited window (10 s unless reset() says otherwise) has passed, then 200, and keeps the
// arrival time and answer of every request it gets (see `limited`); /clock answers this process's
// clock (see clock.ts) for offset measurement. Arrival time is taken when the whole request body
// has arrived; a /limited/ request answered 429 is not an arrival (it was refused), only a request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { wallClockMs } from './clock.js';
import { serveCalls } from './ipc.js';

/** What the receiver tells the harness when it is up. */
export interface ReceiverReady {
  /** `http://127.0.0.N:PORT`, one per address, index 0 = 127.0.0.1. */
  origins: string[];
}

/** Counts of one path. */
export interface PathStats {
  /** Distinct webhook-ids. */
  unique: number;
  /** Requests beyond the first of their webhook-id (at-least-once repeats). */
  repeats: number;
  /** Arrival time of the first and the latest request (wallClockMs). */
  first: number;
  last: number;
}

export interface ReceiverStats {
  /** When these stats were taken (wallClockMs). */
  at: number;
  paths: Record<string, PathStats>;
  /** process.cpuUsage() of the receiver, in ms (user + system). */
  cpuMs: number;
}

interface PathState extends PathStats {
  ids: Set<string>;
}

/** Every request one /limited/ path got. */
export interface LimitedPath {
  /** Arrival of its first request (wallClockMs), which opened the window. */
  firstAt: number;
  /** From then on it answers 200 (wallClockMs). */
  windowEndsAt: number;
  /** [arrival wallClockMs, status answered], in arrival order. */
  requests: [number, number][];
}

const addressCount = Number(process.argv[2] ?? '1');
let paths = new Map<string, PathState>();
/** webhook-id → first arrival, while tracking (latency scenarios). */
let tracked: Map<string, number> | null = null;
/** Only arrivals under this prefix are tracked. */
let trackPrefix = '/';
/** How long a /limited/ path answers 429 after its first request. */
let limitedWindowMs = 10_000;
let limited = new Map<string, LimitedPath>();
/** Requests not answered yet (/hang/, /slow/): reset() drops them. */
const hanging = new Set<ServerResponse>();
const waiters = new Set<() => void>();

function record(path: string, id: string | undefined): void {
  const at = wallClockMs();
  let state = paths.get(path);
  if (!state) {
    state = { unique: 0, repeats: 0, first: at, last: at, ids: new Set() };
    paths.set(path, state);
  }
  state.last = at;
  const key = id ?? `anonymous-${state.unique + state.repeats}`;
  if (state.ids.has(key)) {
    state.repeats++;
  } else {
    state.ids.add(key);
    state.unique++;
    if (tracked && id && !tracked.has(id) && path.startsWith(trackPrefix)) tracked.set(id, at);
  }
  for (const wake of waiters) wake();
}

function countUnder(prefix: string): number {
  let total = 0;
  for (const [path, state] of paths) if (path.startsWith(prefix)) total += state.unique;
  return total;
}

function stats(): ReceiverStats {
  const out: Record<string, PathStats> = {};
  for (const [path, { unique, repeats, first, last }] of paths) out[path] = { unique, repeats, first, last };
  const cpu = process.cpuUsage();
  return { at: wallClockMs(), paths: out, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/';
  if (path === '/clock') {
    req.resume();
    res.end(String(wallClockMs()));
    return;
  }
  const header = req.headers['webhook-id'];
  const id = Array.isArray(header) ? header[0] : header;
  if (path.startsWith('/hang/')) {
    hanging.add(res);
    res.once('close', () => hanging.delete(res));
    req.resume();
    req.once('end', () => record(path, id));
    return;
  }
  const slow = /^\/slow\/(\d+)\//.exec(path);
  if (slow) {
    const delayMs = Number(slow[1]);
    hanging.add(res);
    res.once('close', () => hanging.delete(res));
    req.resume();
    req.once('end', () => {
      record(path, id);
      setTimeout(() => {
        hanging.delete(res);
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }, delayMs);
    });
    return;
  }
  if (path.startsWith('/limited/')) {
    req.resume();
    req.once('end', () => {
      const at = wallClockMs();
      let state = limited.get(path);
      if (!state) {
        state = { firstAt: at, windowEndsAt: at + limitedWindowMs, requests: [] };
        limited.set(path, state);
      }
      const status = at < state.windowEndsAt ? 429 : 200;
      state.requests.push([at, status]);
      if (status === 429) {
        res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end('slow down');
        return;
      }
      record(path, id);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    return;
  }
  req.resume();
  req.once('end', () => {
    record(path, id);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
}

const origins: string[] = [];
for (let i = 0; i < addressCount; i++) {
  const server = createServer({ keepAliveTimeout: 60_000 }, onRequest);
  const host = `127.0.0.${i + 1}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  origins.push(`http://${host}:${(server.address() as AddressInfo).port}`);
}

serveCalls({ origins } satisfies ReceiverReady, {
  /**
   * Forget every count (and drop the requests not answered yet); `track` records each webhook-id's
   * first arrival under `trackPrefix` (default every path); `limitedWindowMs` sets how long each
   * /limited/ path answers 429 from its first request (default 10 s).
   */
  reset: (params: { track?: boolean; trackPrefix?: string; limitedWindowMs?: number }) => {
    paths = new Map();
    tracked = params.track ? new Map() : null;
    trackPrefix = params.trackPrefix ?? '/';
    limitedWindowMs = params.limitedWindowMs ?? 10_000;
    limited = new Map();
    for (const res of hanging) res.destroy();
    hanging.clear();
    return stats();
  },
  stats: () => stats(),
  /** Resolve with the stats once `count` distinct arrivals under `prefix` are in, or at `timeoutMs`. */
  waitFor: (params: { prefix: string; count: number; timeoutMs: number }) =>
    new Promise<ReceiverStats & { reached: boolean }>((resolve) => {
      const check = (timedOut: boolean): void => {
        const reached = countUnder(params.prefix) >= params.count;
        if (!reached && !timedOut) return;
        waiters.delete(wake);
        clearTimeout(timer);
        resolve({ ...stats(), reached });
      };
      const wake = (): void => check(false);
      const timer = setTimeout(() => check(true), params.timeoutMs);
      waiters.add(wake);
      check(false);
    }),
  /** The tracked arrivals as [webhook-id, wallClockMs] pairs. */
  arrivals: () => [...(tracked ?? new Map<string, number>())],
  /** Every request of each /limited/ path since the last reset, by path. */
  limited: (): Record<string, LimitedPath> => Object.fromEntries(limited),
});
