// One delivery attempt against real HTTP servers on 127.0.0.1: status handling, the single deadline,
// the response-body cap and transport failures, all as values.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import type { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeliveryAgent, sendWebhook, type SendWebhookInput } from '../src/delivery/send-webhook.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const openServers = new Set<Server>();
let agent: Agent;

beforeEach(() => {
  agent = createDeliveryAgent();
});

afterEach(async () => {
  await agent.destroy();
  await Promise.all([...openServers].map(closeServer));
});

async function startServer(handler: Handler): Promise<{ server: Server; url: string; port: number }> {
  const server = createServer(handler);
  openServers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/hook`, port };
}

async function closeServer(server: Server): Promise<void> {
  openServers.delete(server);
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

function send(url: string, overrides: Partial<SendWebhookInput> = {}) {
  return sendWebhook({
    url,
    headers: { 'content-type': 'application/json' },
    body: '{"type":"test"}',
    timeoutMs: 5_000,
    maxResponseBytes: 20_480,
    dispatcher: agent,
    ...overrides,
  });
}

/** Resolves with the request body once the server has read it all. */
function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

describe('sendWebhook: statuses', () => {
  it('treats 200 as success and returns the body and headers', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'X-Receiver': 'yes' }).end('thanks');
    });
    const result = await send(url);
    expect(result).toMatchObject({ ok: true, statusCode: 200, responseBody: 'thanks' });
    expect(result.headers['x-receiver']).toBe('yes');
    expect(result.headers['content-type']).toBe('text/plain');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('treats any 2xx as success', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(204).end();
    });
    expect(await send(url)).toMatchObject({ ok: true, statusCode: 204, responseBody: '' });
  });

  it('reports 500 as a status failure with its body', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(500, { 'retry-after': '10' }).end('boom');
    });
    const result = await send(url);
    expect(result).toMatchObject({ ok: false, statusCode: 500, reason: 'status', responseBody: 'boom' });
    expect(result).not.toHaveProperty('retryAfterMs');
  });

  it('reports 410 as a status failure', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(410).end('gone');
    });
    expect(await send(url)).toMatchObject({ ok: false, statusCode: 410, reason: 'status', responseBody: 'gone' });
  });

  it.each([301, 302, 307, 308])('does not follow a %i redirect', async (status) => {
    let targetHits = 0;
    const target = await startServer((req, res) => {
      targetHits++;
      req.resume();
      res.writeHead(200).end('followed');
    });
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(status, { location: target.url }).end('moved');
    });
    const result = await send(url);
    expect(result).toMatchObject({ ok: false, statusCode: status, reason: 'redirect', responseBody: 'moved' });
    expect(result.headers.location).toBe(target.url);
    expect(targetHits).toBe(0);
  });

  it('reads Retry-After seconds on 429', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(429, { 'retry-after': '7' }).end('slow down');
    });
    expect(await send(url)).toMatchObject({ ok: false, statusCode: 429, reason: 'status', retryAfterMs: 7_000 });
  });

  it('reads a Retry-After HTTP-date on 503 against the injected clock', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(503, { 'retry-after': 'Fri, 01 Mar 2024 12:01:30 GMT' }).end();
    });
    const now = Date.parse('2024-03-01T12:00:00Z');
    const result = await sendWebhook(
      { url, headers: {}, body: '{}', timeoutMs: 5_000, maxResponseBytes: 100, dispatcher: agent },
      { now: () => now },
    );
    expect(result).toMatchObject({ ok: false, statusCode: 503, retryAfterMs: 90_000, durationMs: 0 });
  });

  it('gives retryAfterMs null on a 429 without a usable Retry-After', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(429, { 'retry-after': 'later' }).end();
    });
    expect(await send(url)).toMatchObject({ ok: false, statusCode: 429, retryAfterMs: null });
  });
});

describe('sendWebhook: request', () => {
  it('POSTs the body bytes exactly as given, with the headers', async () => {
    const body = Buffer.concat([Buffer.from('{"bin":"'), randomBytes(65_536), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    let received: { method?: string; body: Buffer; headers: IncomingMessage['headers'] } | undefined;
    const { url } = await startServer(async (req, res) => {
      received = { method: req.method, body: await readRequestBody(req), headers: req.headers };
      res.writeHead(200).end();
    });
    const result = await send(url, {
      body,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'x-custom': 'a b' },
    });
    expect(result.ok).toBe(true);
    expect(received?.method).toBe('POST');
    expect(Buffer.compare(received!.body, body)).toBe(0);
    expect(received?.headers['content-length']).toBe(String(body.length));
    expect(received?.headers['webhook-id']).toBe('msg_1');
    expect(received?.headers['x-custom']).toBe('a b');
  });

  it('sends a string body as UTF-8', async () => {
    let received: Buffer | undefined;
    const { url } = await startServer(async (req, res) => {
      received = await readRequestBody(req);
      res.writeHead(200).end();
    });
    await send(url, { body: '{"name":"Zoë 🎉"}' });
    expect(received?.equals(Buffer.from('{"name":"Zoë 🎉"}', 'utf8'))).toBe(true);
  });

  it.each(['not a url', '', 'ftp://127.0.0.1/hook', 'file:///etc/passwd'])(
    'reports %j as an invalid URL without sending',
    async (url) => {
      const result = await send(url);
      expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'invalid_url', headers: {} });
      expect(result.responseBody).not.toBe('');
    },
  );
});

describe('sendWebhook: deadline', () => {
  it('times out within timeoutMs when the server never answers', async () => {
    let arrived = false;
    const { url } = await startServer(() => {
      arrived = true; // accept the request, never respond
    });
    const result = await send(url, { timeoutMs: 200 });
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'timeout', headers: {} });
    expect(result.responseBody).toMatch(/200 ms.*response headers/);
    expect(arrived).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
    expect(result.durationMs).toBeLessThan(1_500);
  });

  it('times out when headers arrive but the body drips past the deadline', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'x-drip': '1' });
      res.write('.');
      const drip = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(drip));
    });
    const result = await send(url, { timeoutMs: 300 });
    expect(result).toMatchObject({ ok: false, statusCode: 200, reason: 'timeout' });
    expect(result.headers['x-drip']).toBe('1');
    expect(result.responseBody).toMatch(/response body/);
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(result.durationMs).toBeLessThan(1_500);
  });

  it('reports a caller abort as aborted', async () => {
    const controller = new AbortController();
    const { url } = await startServer(() => controller.abort());
    const result = await send(url, { signal: controller.signal });
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'aborted' });
  });

  it('does not send when the caller signal is already aborted', async () => {
    let hits = 0;
    const { url } = await startServer((_req, res) => {
      hits++;
      res.end();
    });
    const result = await send(url, { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'aborted' });
    expect(hits).toBe(0);
  });
});

describe('sendWebhook: response body cap', () => {
  it('keeps only maxResponseBytes of a 5 MB body and returns quickly', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.on('error', () => {}); // the client hangs up mid-body, on purpose
      res.writeHead(200).end(Buffer.alloc(5 * 1024 * 1024, 'a'));
    });
    const result = await send(url, { maxResponseBytes: 1_024 });
    expect(result).toMatchObject({ ok: true, statusCode: 200 });
    expect(result.responseBody).toBe('a'.repeat(1_024));
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('stops reading an endless body instead of waiting for the deadline', async () => {
    let bytesWritten = 0;
    const { url } = await startServer((req, res) => {
      req.resume();
      res.on('error', () => {});
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 'z');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) bytesWritten += chunk.length;
      };
      res.on('drain', pump);
      pump();
    });
    const result = await send(url, { maxResponseBytes: 20_480, timeoutMs: 10_000 });
    expect(result).toMatchObject({ ok: true, statusCode: 200 });
    expect(result.responseBody).toHaveLength(20_480);
    expect(result.durationMs).toBeLessThan(2_000);
    expect(bytesWritten).toBeLessThan(64 * 1024 * 1024);
  });

  it('keeps a body cut inside a multi-byte character as text', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(500).end('é'.repeat(100)); // 2 bytes each
    });
    const result = await send(url, { maxResponseBytes: 11 });
    expect(result.responseBody).toBe('é'.repeat(5));
  });

  it('returns a non-UTF-8 body as base64', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(400).end(bytes);
    });
    expect(await send(url)).toMatchObject({ ok: false, statusCode: 400, responseBody: bytes.toString('base64') });
  });

  it('returns a UTF-8 body holding a NUL byte as base64 (binary, and no database text can hold it)', async () => {
    const bytes = Buffer.from('ok\u0000ok');
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(200).end(bytes);
    });
    expect(await send(url)).toMatchObject({ ok: true, statusCode: 200, responseBody: bytes.toString('base64') });
  });

  it('reads nothing with maxResponseBytes 0', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.on('error', () => {});
      res.writeHead(200).end('ignored');
    });
    expect(await send(url, { maxResponseBytes: 0 })).toMatchObject({ ok: true, statusCode: 200, responseBody: '' });
  });
});

describe('sendWebhook: connection failures', () => {
  it('reports a refused connection', async () => {
    const { server, url } = await startServer(() => {});
    await closeServer(server);
    const result = await send(url);
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'connection', headers: {} });
    expect(result.responseBody).toMatch(/ECONNREFUSED/);
  });

  it('reports a DNS failure', async () => {
    // An injected resolver answers NXDOMAIN, so no query ever leaves the machine.
    const nxdomain: LookupFunction = (hostname, _options, callback) => {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    };
    const resolverAgent = createDeliveryAgent({ lookup: nxdomain });
    try {
      const result = await send('http://tapwire-test.invalid/hook', { dispatcher: resolverAgent });
      expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'connection' });
      expect(result.responseBody).toMatch(/ENOTFOUND/);
    } finally {
      await resolverAgent.close();
    }
  });

  it('reports a socket closed by the server without an answer', async () => {
    const { url } = await startServer((req) => req.socket.destroy());
    const result = await send(url);
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'connection' });
    expect(result.responseBody).toMatch(/UND_ERR_SOCKET|ECONNRESET|socket hang up|other side closed/);
  });

  it('reports a connection reset (TCP RST)', async () => {
    const { url } = await startServer((req) => req.socket.resetAndDestroy());
    const result = await send(url);
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'connection' });
    expect(result.responseBody).toMatch(/ECONNRESET|UND_ERR_SOCKET/);
  });

  it('reports a response cut off mid-body as a connection failure with its status', async () => {
    const { url } = await startServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => res.socket?.destroy());
    });
    const result = await send(url);
    expect(result).toMatchObject({ ok: false, statusCode: 200, reason: 'connection' });
  });
});

describe('createDeliveryAgent', () => {
  it('resolves names through the lookup hook', async () => {
    const { port } = await startServer((req, res) => {
      req.resume();
      res.writeHead(200).end('via lookup');
    });
    const looked: string[] = [];
    const lookup: LookupFunction = (hostname, options, callback) => {
      looked.push(hostname);
      if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    await agent.destroy();
    agent = createDeliveryAgent({ lookup });
    const result = await send(`http://receiver.tapwire.test:${port}/hook`);
    expect(result).toMatchObject({ ok: true, statusCode: 200, responseBody: 'via lookup' });
    expect(looked).toContain('receiver.tapwire.test');
  });

  it('reports a lookup refusal (EBLOCKED) as blocked, with the refusal as the response', async () => {
    const lookup: LookupFunction = (hostname, _options, callback) => {
      callback(Object.assign(new Error(`Blocked: ${hostname} resolves to a private address`), { code: 'EBLOCKED' }), '');
    };
    await agent.destroy();
    agent = createDeliveryAgent({ lookup });
    const result = await send('http://internal.tapwire.test/hook');
    expect(result).toMatchObject({ ok: false, statusCode: 0, reason: 'blocked' });
    expect(result.responseBody).toBe('Blocked: internal.tapwire.test resolves to a private address');
  });
});

describe('sendWebhook: caller bugs', () => {
  it('rejects an invalid timeout or cap', async () => {
    await expect(send('http://127.0.0.1/', { timeoutMs: 0 })).rejects.toThrow(RangeError);
    await expect(send('http://127.0.0.1/', { maxResponseBytes: -1 })).rejects.toThrow(RangeError);
  });

  it('rejects a header value undici refuses to send', async () => {
    const { url } = await startServer((_req, res) => res.end());
    await expect(send(url, { headers: { 'x-bad': 'a\r\nb' } })).rejects.toThrow(/invalid/i);
  });
});
