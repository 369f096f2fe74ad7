// Concurrency as a receiver sees it: per-endpoint limits are checked where they matter, at the
// receiver, whichever worker processes the requests come from.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a probe answers the `nth` arrival (1 = first) of a webhook-id (`id`): now, after a delay, or never. */
export type ProbeAnswer = { status: number; delayMs?: number } | 'hang';

/**
 * A loopback receiver that measures concurrency: how many requests it holds unanswered right now
 * (`active`) and at most so far (`maxActive`; `maxActiveRetries` counts only repeat arrivals of a
 * webhook-id), and when each request arrived. Hanging requests are dropped by close().
 */
export interface Probe {
  url: string;
  arrivals: { id: string; nth: number; at: number }[];
  readonly active: number;
  readonly maxActive: number;
  readonly maxActiveRetries: number;
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startConcurrencyProbe(answer: (nth: number, id: string) => ProbeAnswer = () => ({ status: 200 })): Promise<Probe> {
  const arrivals: Probe['arrivals'] = [];
  const seen = new Map<string, number>();
  const open = new Set<ServerResponse>();
  const waiters = new Set<() => void>();
  let active = 0;
  let maxActive = 0;
  let activeRetries = 0;
  let maxActiveRetries = 0;
  const changed = (): void => {
    for (const wake of waiters) wake();
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const nth = (seen.get(id) ?? 0) + 1;
      seen.set(id, nth);
      arrivals.push({ id, nth, at: Date.now() });
      active++;
      maxActive = Math.max(maxActive, active);
      if (nth > 1) maxActiveRetries = Math.max(maxActiveRetries, ++activeRetries);
      open.add(res);
      res.on('close', () => {
        open.delete(res);
        active--;
        if (nth > 1) activeRetries--;
        changed();
      });
      const reply = answer(nth, id);
      if (reply !== 'hang') {
        const send = (): void => void res.writeHead(reply.status, { 'content-type': 'text/plain' }).end('ok');
        if (reply.delayMs) setTimeout(send, reply.delayMs);
        else send();
      }
      changed();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const probe: Probe = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrivals,
    get active() {
      return active;
    },
    get maxActive() {
      return maxActive;
    },
    get maxActiveRetries() {
      return maxActiveRetries;
    },
    waitFor(predicate, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${what}: not within ${timeoutMs} ms (${arrivals.length} arrivals, ${active} open)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return probe;
}

