// A graceful stop is not held up by clients' keep-alive connections: a request in flight when the
// server starts closing is answered (with `Connection: close`), and the stop then completes at once
// instead of waiting TAPWIRE_API_KEEP_ALIVE_TIMEOUT (72 s) for the client's idle socket. Without
// that, this test runs into its timeout.
import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTapwire, type TestTapwire } from './helpers/tapwire.js';

describe('graceful close', () => {
  let tw: TestTapwire | null = null;
  afterEach(async () => {
    await tw?.close();
    tw = null;
  });

  it('answers a request in flight with Connection: close and stops without waiting for the keep-alive socket', async () => {
    tw = await startTapwire({}, { backend: 'sqlite' });
    const api = tw.server.api!;
    const agent = new Agent({ keepAlive: true });
    const body = JSON.stringify({ name: 'In flight at close' });
    const url = new URL('/api/v1/app', tw.url);
    let closing: Promise<void> | null = null;
    // The server has the request (its headers) before close starts; its body comes after.
    const arrived = new Promise<void>((resolve) => api.server.once('request', () => resolve()));
    const response = new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 5));
      void arrived.then(() => {
        closing = tw!.server.close();
        // close() has begun (preClose ran synchronously up to its first await); the body completes the request.
        setImmediate(() => req.end(body.slice(5)));
      });
    });
    const answer = await response;
    expect(answer.status).toBe(201);
    expect(answer.connection).toBe('close');
    await closing;
    agent.destroy();
  });
});
