// A raw TCP "HTTP server" on 127.0.0.1 that misbehaves on purpose, one behaviour per request path:
// what node:http would never let a test do (reset the connection, answer garbage, drip the status
// line byte by byte, offer a 100 MB body). It counts what it did, so a test can tell how much of a
// huge body the client really read, and that nobody followed a redirect.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type HostileBehaviour =
  /** 500 or 200 at random (the `random` given to the server). */
  | 'flaky'
  /** Reads the request and never answers. */
  | 'hang'
  /** Resets the connection (TCP RST) once the request headers are in. */
  | 'reset'
  /** Writes the status line and headers one byte every `dripMs`, never finishing in time. */
  | 'drip'
  /** 200 with a `hugeBytes` body, written as fast as the client takes it. */
  | 'huge'
  /** Answers bytes that are not HTTP, then closes. */
  | 'invalid'
  /** 302 to `redirectTo`. */
  | 'redirect';

export const HOSTILE_BEHAVIOURS: readonly HostileBehaviour[] = ['flaky', 'hang', 'reset', 'drip', 'huge', 'invalid', 'redirect'];

export interface HostileReceiver {
  /** `http://127.0.0.1:PORT`; append `/<behaviour>`. */
  url: string;
  /** Complete request heads received per behaviour. */
  requests: Record<HostileBehaviour, number>;
  /** Body bytes of the huge answer written per connection (what the kernel took off our hands). */
  hugeBytesWritten: number[];
  close(): Promise<void>;
}

export interface HostileReceiverOptions {
  random: () => number;
  /** Probability that `flaky` answers 500 (default 0.5). */
  failRate?: number;
  /** Size of the huge body (default 100 MB). */
  hugeBytes?: number;
  /** Where `redirect` points. */
  redirectTo: string;
  /** Gap between the bytes `drip` writes (default 50 ms). */
  dripMs?: number;
}

export async function startHostileReceiver(options: HostileReceiverOptions): Promise<HostileReceiver> {
  const { random, failRate = 0.5, hugeBytes = 100 * 1024 * 1024, redirectTo, dripMs = 50 } = options;
  const requests = Object.fromEntries(HOSTILE_BEHAVIOURS.map((b) => [b, 0])) as Record<HostileBehaviour, number>;
  const hugeBytesWritten: number[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const answer = (socket: Socket, behaviour: HostileBehaviour): void => {
    requests[behaviour]++;
    switch (behaviour) {
      case 'flaky': {
        const status = random() < failRate ? '500 Internal Server Error' : '200 OK';
        socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope`);
        return;
      }
      case 'hang':
        return; // the socket stays open until the client gives up (or close())
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'drip': {
        const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';
        let i = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || i >= head.length) {
            clearInterval(timer);
            timers.delete(timer);
            if (!socket.destroyed) socket.end();
            return;
          }
          socket.write(head[i++]!);
        }, dripMs);
        timers.add(timer);
        return;
      }
      case 'huge': {
        const index = hugeBytesWritten.push(0) - 1;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${hugeBytes}\r\nConnection: close\r\n\r\n`);
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = (): void => {
          while (!socket.destroyed && hugeBytesWritten[index]! < hugeBytes) {
            const n = Math.min(chunk.length, hugeBytes - hugeBytesWritten[index]!);
            hugeBytesWritten[index]! += n;
            if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
              socket.once('drain', pump);
              return;
            }
          }
          if (!socket.destroyed) socket.end();
        };
        pump();
        return;
      }
      case 'invalid':
        socket.end('THIS IS NOT HTTP\r\n\u0000\u0001\u0002 garbage\r\n\r\n');
        return;
      case 'redirect':
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ${redirectTo}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
    }
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 64 * 1024) socket.destroy();
        return;
      }
      // One request per connection: the rest (the body) is read and ignored.
      socket.off('data', onData);
      socket.on('data', () => undefined);
      const path = head.slice(0, head.indexOf('\r\n')).split(' ')[1] ?? '/';
      const behaviour = path.replace(/^\//, '').split(/[/?]/)[0] as HostileBehaviour;
      if (!HOSTILE_BEHAVIOURS.includes(behaviour)) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      answer(socket, behaviour);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    hugeBytesWritten,
    async close() {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
