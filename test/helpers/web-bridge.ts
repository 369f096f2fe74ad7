// A minimal node:http server on 127.0.0.1 that hands each request to a Web-standard handler
// (`(Request) => Response`) and writes the Response back, so Hono apps and createWebHandler can be
// tested through real HTTP without @hono/node-server. The request body is streamed, not buffered,
// so a handler can refuse an oversized body before it has all arrived.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebBridge {
  url: string;
  close(): Promise<void>;
}

export async function serveWeb(handler: (request: Request) => Response | Promise<Response>): Promise<WebBridge> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      let response: Response;
      try {
        response = await handler(toWebRequest(req, `http://127.0.0.1:${port}`));
      } catch (error) {
        res.writeHead(599, { 'content-type': 'text/plain' }).end(`bridge: handler threw: ${String(error)}`);
        return;
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      // The handler stopped before the body's end (refused it): close instead of draining the rest.
      if (!req.complete) headers.connection = 'close';
      res.writeHead(response.status, headers);
      if (response.body === null) {
        res.end();
        return;
      }
      for await (const chunk of response.body) res.write(chunk);
      res.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function toWebRequest(req: IncomingMessage, origin: string): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (hasBody) {
    init.duplex = 'half';
    let cancelled = false;
    init.body = new ReadableStream<Uint8Array>({
      start(controller) {
        req.on('data', (chunk: Buffer) => {
          if (cancelled) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on('end', () => {
          if (!cancelled) controller.close();
        });
        req.on('error', (error) => {
          if (!cancelled) controller.error(error);
        });
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        // Keep the socket for the answer; discard what still arrives until it is closed.
        cancelled = true;
        req.resume();
      },
    });
  }
  return new Request(new URL(req.url ?? '/', origin), init);
}
