// A real HTTP receiver on 127.0.0.1 that records every request it gets and answers as the test
// says. Tests wait on what it received (waitFor), never on sleeps.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/**
 * How to answer one request: a status (and optional headers/body), or 'hang' to never answer.
 * With `after`, the answer is held until that promise settles (a receiver that takes its time).
 */
export type Answer = { status: number; headers?: Record<string, string>; body?: string; after?: Promise<unknown> } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Decide the answer per request (default 200 "ok"). */
  respond(fn: (req: ReceivedRequest, index: number) => Answer): void;
  /** Resolve once `predicate` holds for the recorded requests (checked on every request). */
  waitFor(predicate: (requests: ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  const hanging = new Set<ServerResponse>();
  let answer: (req: ReceivedRequest, index: number) => Answer = () => ({ status: 200, body: 'ok' });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      const index = requests.push(received) - 1;
      const a = answer(received, index);
      const write = (a: Exclude<Answer, 'hang'>): void => {
        if (!res.destroyed) res.writeHead(a.status, { 'content-type': 'text/plain', ...(a.headers ?? {}) }).end(a.body ?? '');
      };
      if (a === 'hang') hanging.add(res);
      else if (a.after) {
        hanging.add(res);
        void a.after.then(
          () => write(a),
          () => write(a),
        ).finally(() => hanging.delete(res));
      } else write(a);
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    respond(fn) {
      answer = fn;
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(requests)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(requests);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver condition not met within ${timeoutMs} ms (${requests.length} requests so far)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
