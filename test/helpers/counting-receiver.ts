// A loopback receiver for tests that send thousands of deliveries: it keeps counts per `webhook-id`
// (not every request), so waiting on "all N arrived" stays cheap, and it can hold requests unanswered
// on demand, which lets a test catch a worker with every attempt in flight at a moment it chooses.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback receiver that counts arrivals per `webhook-id` and answers 200, after `delayMs()` if
 * given. hold() makes it keep new requests unanswered until release(), which is how a test gets every
 * worker's every slot busy at a moment it chooses.
 */
export interface CountingReceiver {
  url: string;
  /** Requests received (including repeats). */
  readonly total: number;
  /** Arrivals per webhook-id. */
  counts: Map<string, number>;
  /** When each webhook-id first and last arrived (Date.now()). */
  firstAt: Map<string, number>;
  lastAt: Map<string, number>;
  /** webhook-ids whose 200 has been written (at least once). */
  answered: Set<string>;
  /** Requests held since hold(), and how many of them lost their connection (the sender died). */
  held(): { total: number; disconnected: number };
  hold(): void;
  /** Answer every held request that still has a connection; returns the webhook-ids of those that had none. */
  release(): string[];
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>;
}

export async function startCountingReceiver(delayMs: (() => number) | null = null): Promise<CountingReceiver> {
  const counts = new Map<string, number>();
  const firstAt = new Map<string, number>();
  const lastAt = new Map<string, number>();
  const answered = new Set<string>();
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  let holding = false;
  let held: Array<{ id: string; res: ServerResponse }> = [];
  let total = 0;
  const wakeAll = (): void => {
    for (const wake of waiters) wake();
  };
  const answer = (id: string, res: ServerResponse): void => {
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok', () => {
      answered.add(id);
      wakeAll();
    });
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = headerOf(req.headers, 'webhook-id');
      total++;
      counts.set(id, (counts.get(id) ?? 0) + 1);
      const now = Date.now();
      if (!firstAt.has(id)) firstAt.set(id, now);
      lastAt.set(id, now);
      if (holding) {
        held.push({ id, res });
        res.on('close', wakeAll); // the sender went away
      } else if (delayMs === null) {
        answer(id, res);
      } else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(id, res);
        }, delayMs());
        timers.add(timer);
      }
      wakeAll();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    get total() {
      return total;
    },
    counts,
    firstAt,
    lastAt,
    answered,
    held: () => ({ total: held.length, disconnected: held.filter(({ res }) => res.destroyed).length }),
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      const gone = held.filter(({ res }) => res.destroyed).map(({ id }) => id);
      for (const { id, res } of held) answer(id, res);
      held = [];
      return gone;
    },
    waitFor(predicate, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: ${what} not reached within ${timeoutMs} ms (${total} requests, ${counts.size} distinct, ${held.length} held)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function headerOf(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

