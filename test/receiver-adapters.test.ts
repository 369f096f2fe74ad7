// The receiver's framework adapters through real HTTP on 127.0.0.1: each must hand the handler the
// exact bytes that were signed, refuse bad signatures without saying why, refuse oversized bodies
// before reading them, answer duplicates and handler failures the same way. Node:http, Express (with
// and without express.raw, and misconfigured behind express.json), Fastify, Hono and Web handlers.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { expressWebhook } from '../src/receiver/adapters/express.js';
import { fastifyWebhook } from '../src/receiver/adapters/fastify.js';
import {
  RequestBodyError,
  handleWebhookRequest,
  readRawBody,
  type WebhookHandlerOptions,
  type WebhookRequestInfo,
} from '../src/receiver/adapters/handle.js';
import { honoWebhook, type HonoWebhookVariables } from '../src/receiver/adapters/hono.js';
import { createNodeHandler } from '../src/receiver/adapters/node.js';
import { createWebHandler, readWebBody, verifyWebRequest } from '../src/receiver/adapters/web.js';
import type { WebhookVerificationError } from '../src/receiver/errors.js';
import { standardWebhooks } from '../src/receiver/schemes/standard-webhooks.js';
import type { ReceiveResult, VerifiedWebhook, Verifier, WebhookSink } from '../src/receiver/types.js';
import { serveWeb } from './helpers/web-bridge.js';

const SECRET = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
/** A small cap, so oversized bodies are cheap to send. */
const CAP = 1024;
/** Non-ASCII, U+2028, doubled spaces, a tab and a trailing newline: any re-serialisation changes it. */
const BODY = '{"a":  "é\u2028",\t"b":1}\n';

const verifier = standardWebhooks({ secret: SECRET, maxBodyBytes: CAP });

interface Harness {
  /** The webhook endpoint. */
  url: string;
  /** The server's origin, for sibling routes. */
  origin: string;
  close(): Promise<void>;
}

interface AdapterCase {
  name: string;
  start(options: WebhookHandlerOptions): Promise<Harness>;
  /** Whether the adapter itself reads the body, so it can refuse an oversized one before it arrives. */
  refusesBeforeReading: boolean;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function nodeHarness(server: Server, path = '/hook'): Promise<Harness> {
  const origin = await listen(server);
  return { url: `${origin}${path}`, origin, close: () => closeServer(server) };
}

const ADAPTERS: AdapterCase[] = [
  {
    name: 'node:http',
    refusesBeforeReading: true,
    start: (options) => nodeHarness(createServer(createNodeHandler(options))),
  },
  {
    name: 'express (no body parser)',
    refusesBeforeReading: true,
    start: (options) => {
      const app = express();
      app.post('/hook', expressWebhook(options));
      return nodeHarness(createServer(app));
    },
  },
  {
    name: 'express with express.raw()',
    // express.raw() reads the whole body under its own limit (100 kB) before the middleware runs.
    refusesBeforeReading: false,
    start: (options) => {
      const app = express();
      app.post('/hook', express.raw({ type: '*/*' }), expressWebhook(options));
      return nodeHarness(createServer(app));
    },
  },
  {
    name: 'fastify',
    refusesBeforeReading: true,
    start: async (options) => {
      const app = Fastify();
      await app.register(fastifyWebhook, { prefix: '/hook', ...options });
      const origin = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `${origin}/hook`, origin, close: () => app.close() };
    },
  },
  {
    name: 'hono',
    refusesBeforeReading: true,
    start: async (options) => {
      const app = new Hono();
      app.post('/hook', honoWebhook(options));
      const bridge = await serveWeb((request) => app.fetch(request));
      return { url: `${bridge.url}/hook`, origin: bridge.url, close: () => bridge.close() };
    },
  },
  {
    name: 'web (createWebHandler)',
    refusesBeforeReading: true,
    start: async (options) => {
      const bridge = await serveWeb(createWebHandler(options));
      return { url: `${bridge.url}/hook`, origin: bridge.url, close: () => bridge.close() };
    },
  },
];

const open: Harness[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((harness) => harness.close()));
});

async function start(adapter: AdapterCase, options: WebhookHandlerOptions): Promise<Harness> {
  const harness = await adapter.start(options);
  open.push(harness);
  return harness;
}

/** Callbacks that record what they were told. */
function recorder() {
  const webhooks: VerifiedWebhook[] = [];
  const rejected: Array<{ error: WebhookVerificationError; info: WebhookRequestInfo }> = [];
  const errors: unknown[] = [];
  return {
    webhooks,
    rejected,
    errors,
    onWebhook: (webhook: VerifiedWebhook) => {
      webhooks.push(webhook);
    },
    onRejected: (error: WebhookVerificationError, info: WebhookRequestInfo) => {
      rejected.push({ error, info });
    },
    onError: (error: unknown) => {
      errors.push(error);
    },
  };
}

/** An in-memory WebhookSink that dedupes on the webhook id. */
function memoryInbox(): WebhookSink & { received: VerifiedWebhook[] } {
  const seen = new Set<string>();
  const received: VerifiedWebhook[] = [];
  return {
    received,
    async receive(webhook): Promise<ReceiveResult> {
      received.push(webhook);
      const id = webhook.id ?? webhook.body.toString('base64');
      const duplicate = seen.has(id);
      seen.add(id);
      return { id, duplicate };
    },
  };
}

function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<Response> {
  const payload = typeof body === 'string' ? body : new Uint8Array(body);
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
}

function postSigned(url: string, body: string = BODY, id = 'msg_adapters'): Promise<Response> {
  const signed = verifier.sign({ body, id });
  return post(url, signed.body, signed.headers);
}

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A POST whose body the test writes by hand and never finishes: the answer has to come while the
 * request is still open, which proves the server did not wait for (or read) the whole body.
 */
function openPost(url: string, headers: Record<string, string>): { write(chunk: Buffer): void; answer: Promise<RawAnswer> } {
  let answered = false;
  const req = httpRequest(url, { method: 'POST', headers, agent: false });
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        req.destroy();
      });
      res.on('error', () => {}); // the server may close the socket right after its answer
    });
    req.on('error', (error) => {
      // After the answer, a reset (the server closing on our unfinished body) is expected.
      if (!answered) reject(error);
    });
  });
  req.flushHeaders();
  return { write: (chunk) => req.write(chunk), answer };
}

describe.each(ADAPTERS)('$name', (adapter) => {
  it('accepts a validly signed request and hands over the exact bytes', async () => {
    const rec = recorder();
    const { url } = await start(adapter, { verifier, onWebhook: rec.onWebhook, onRejected: rec.onRejected, onError: rec.onError });
    const res = await postSigned(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe('{"received":true}');
    expect(rec.webhooks).toHaveLength(1);
    expect(rec.webhooks[0].body.equals(Buffer.from(BODY, 'utf8'))).toBe(true);
    expect(rec.webhooks[0].text()).toBe(BODY);
    expect(rec.webhooks[0].json()).toEqual({ a: 'é\u2028', b: 1 });
    expect(rec.webhooks[0].id).toBe('msg_adapters');
    expect(rec.rejected).toEqual([]);
    expect(rec.errors).toEqual([]);
  });

  it('answers a bad signature 401 {"error":"unauthorized"} and tells only onRejected why', async () => {
    const rec = recorder();
    const { url } = await start(adapter, { verifier, onWebhook: rec.onWebhook, onRejected: rec.onRejected, onError: rec.onError });
    const signed = verifier.sign({ body: BODY, id: 'msg_adapters' });
    const tampered = await post(url, BODY.replace('1', '2'), signed.headers);
    expect(tampered.status).toBe(401);
    expect(await tampered.text()).toBe('{"error":"unauthorized"}');
    const unsigned = await post(url, BODY, {});
    expect(unsigned.status).toBe(401);
    expect(await unsigned.text()).toBe('{"error":"unauthorized"}');
    expect(rec.webhooks).toEqual([]);
    expect(rec.rejected.map((r) => r.error.reason)).toEqual(['no_matching_signature', 'missing_header']);
    expect(rec.rejected[0].info.headers['webhook-id']).toBe('msg_adapters');
    expect(rec.errors).toEqual([]);
  });

  it('refuses a declared Content-Length over the cap with 413', async () => {
    const rec = recorder();
    const { url } = await start(adapter, { verifier, onWebhook: rec.onWebhook, onRejected: rec.onRejected, onError: rec.onError });
    if (adapter.refusesBeforeReading) {
      // Headers only: a server that waited for the declared 100 kB would never answer.
      const req = openPost(url, { 'content-type': 'application/json', 'content-length': String(CAP * 100) });
      const answer = await req.answer;
      expect(answer.status).toBe(413);
      expect(answer.body).toBe('{"error":"payload_too_large"}');
    } else {
      const res = await post(url, Buffer.alloc(CAP + 1, 'x'), {});
      expect(res.status).toBe(413);
      expect(await res.text()).toBe('{"error":"payload_too_large"}');
    }
    expect(rec.webhooks).toEqual([]);
    expect(rec.rejected.map((r) => r.error.reason)).toEqual(['body_too_large']);
  });

  it('refuses a chunked body over the cap with 413', async () => {
    const rec = recorder();
    const { url } = await start(adapter, { verifier, onWebhook: rec.onWebhook, onRejected: rec.onRejected, onError: rec.onError });
    const headers = { 'content-type': 'application/json', ...verifier.sign({ body: BODY }).headers };
    if (adapter.refusesBeforeReading) {
      const req = openPost(url, headers);
      req.write(Buffer.alloc(CAP / 2, 'x'));
      req.write(Buffer.alloc(CAP / 2 + 1, 'x'));
      // The request is never ended: the answer can only come from counting the bytes as they arrive.
      const answer = await req.answer;
      expect(answer.status).toBe(413);
      expect(answer.body).toBe('{"error":"payload_too_large"}');
      expect(answer.headers.connection).toBe('close');
    } else {
      // express.raw() buffers the whole body first (under its own 100 kB limit); the cap still holds.
      const chunks = [Buffer.alloc(CAP / 2, 'x'), Buffer.alloc(CAP / 2 + 1, 'x')];
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk === undefined) controller.close();
          else controller.enqueue(new Uint8Array(chunk));
        },
      });
      const res = await fetch(url, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
      expect(await res.text()).toBe('{"error":"payload_too_large"}');
    }
    expect(rec.webhooks).toEqual([]);
    expect(rec.rejected.map((r) => r.error.reason)).toEqual(['body_too_large']);
  });

  it('acknowledges a duplicate from the inbox with duplicate:true', async () => {
    const inbox = memoryInbox();
    const { url } = await start(adapter, { verifier, inbox });
    const first = await postSigned(url, BODY, 'msg_dup');
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    const second = await postSigned(url, BODY, 'msg_dup');
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ received: true, duplicate: true });
    expect(inbox.received).toHaveLength(2);
    for (const webhook of inbox.received) expect(webhook.body.equals(Buffer.from(BODY, 'utf8'))).toBe(true);
  });

  it('answers 500 {"error":"internal"} when the handler throws, so the sender retries', async () => {
    const rec = recorder();
    const failure = new Error('database down');
    const { url } = await start(adapter, {
      verifier,
      onWebhook: () => Promise.reject(failure),
      onRejected: rec.onRejected,
      onError: rec.onError,
    });
    const res = await postSigned(url);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('{"error":"internal"}');
    expect(rec.errors).toEqual([failure]);
  });

  it('answers 400 {"error":"invalid_body"} when a verified body is not the JSON the handler parses', async () => {
    const rec = recorder();
    const { url } = await start(adapter, {
      verifier,
      onWebhook: (webhook) => {
        webhook.json();
      },
      onError: rec.onError,
    });
    const res = await postSigned(url, 'not json at all');
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('{"error":"invalid_body"}');
    expect(rec.errors.map((error) => (error as { reason?: string }).reason)).toEqual(['invalid_body']);
  });

  it('answers 500 when the inbox fails', async () => {
    const rec = recorder();
    const failure = new Error('disk full');
    const inbox: WebhookSink = { receive: () => Promise.reject(failure) };
    const { url } = await start(adapter, { verifier, inbox, onError: rec.onError });
    const res = await postSigned(url);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('{"error":"internal"}');
    expect(rec.errors).toEqual([failure]);
  });
});

describe('node:http adapter', () => {
  it('answers anything but POST with 405 and Allow: POST', async () => {
    const rec = recorder();
    const { url } = await start(ADAPTERS[0], { verifier, onWebhook: rec.onWebhook });
    const res = await fetch(url);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(rec.webhooks).toEqual([]);
  });

  it('answers a sender that stalls mid-body 408 once the read deadline passes', async () => {
    const rec = recorder();
    const { url } = await start(ADAPTERS[0], { verifier, onWebhook: rec.onWebhook, onError: rec.onError, readTimeoutMs: 200 });
    const req = openPost(url, { 'content-type': 'application/json', 'content-length': '100' });
    req.write(Buffer.alloc(10, 'x'));
    const answer = await req.answer;
    expect(answer.status).toBe(408);
    expect(answer.body).toBe('{"error":"request_timeout"}');
    expect(answer.headers.connection).toBe('close');
    expect(rec.errors).toHaveLength(1);
    expect((rec.errors[0] as RequestBodyError).code).toBe('timeout');
  });

  it('refuses options that would drop webhooks or are ambiguous', () => {
    expect(() => createNodeHandler({ verifier })).toThrow(/inbox or onWebhook/);
    expect(() => createNodeHandler({ verifier, inbox: memoryInbox(), onWebhook: () => {} })).toThrow(/not both/);
    expect(() => createNodeHandler({ verifier: {} as Verifier, onWebhook: () => {} })).toThrow(/verifier/);
  });
});

describe('express adapter', () => {
  it('with neither inbox nor onWebhook, sets req.webhook and calls next()', async () => {
    const app = express();
    app.post('/hook', expressWebhook({ verifier }), (req, res) => {
      res.json({ id: req.webhook?.id, same: Buffer.isBuffer(req.body) && req.body.equals(req.webhook!.body), parsed: req.webhook?.json() });
    });
    const { url } = await startHarness(nodeHarness(createServer(app)));
    const res = await postSigned(url);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'msg_adapters', same: true, parsed: { a: 'é\u2028', b: 1 } });

    const bad = await post(url, BODY, {});
    expect(bad.status).toBe(401);
    expect(await bad.text()).toBe('{"error":"unauthorized"}');
  });

  it('behind express.json(), fails with an error saying how to mount it instead of a false 401/200', async () => {
    const rec = recorder();
    const app = express();
    app.use(express.json());
    app.post('/hook', expressWebhook({ verifier, onWebhook: rec.onWebhook, onRejected: rec.onRejected }));
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ setupError: error.message });
    });
    const { url } = await startHarness(nodeHarness(createServer(app)));

    const res = await postSigned(url);
    expect(res.status).toBe(500);
    const { setupError } = (await res.json()) as { setupError: string };
    expect(setupError).toMatch(/already a parsed object/);
    expect(setupError).toMatch(/before app\.use\(express\.json\(\)\)/);
    expect(setupError).toMatch(/express\.raw/);
    expect(rec.webhooks).toEqual([]);
    expect(rec.rejected).toEqual([]);

    // express.json() skips other content types, leaving the stream unread: that still verifies.
    const signed = verifier.sign({ body: BODY });
    const plain = await post(url, signed.body, { ...signed.headers, 'content-type': 'application/octet-stream' });
    expect(plain.status).toBe(200);
    expect(rec.webhooks[0].body.equals(Buffer.from(BODY, 'utf8'))).toBe(true);
  });
  it("uses req.rawBody when express.json()'s verify hook kept the bytes", async () => {
    const rec = recorder();
    const app = express();
    app.use(
      express.json({
        verify: (req, _res, buf) => {
          (req as { rawBody?: Buffer }).rawBody = buf;
        },
      }),
    );
    app.post('/hook', expressWebhook({ verifier, onWebhook: rec.onWebhook }));
    const { url } = await startHarness(nodeHarness(createServer(app)));
    const res = await postSigned(url);
    expect(res.status).toBe(200);
    expect(rec.webhooks[0].body.equals(Buffer.from(BODY, 'utf8'))).toBe(true);
  });
});

describe('fastify adapter', () => {
  it('keeps the raw parser inside its own context: a sibling route still parses JSON', async () => {
    const rec = recorder();
    const app = Fastify();
    app.post('/json', async (request) => ({ parsed: request.body }));
    await app.register(fastifyWebhook, { prefix: '/webhooks/test', verifier, onWebhook: rec.onWebhook });
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    open.push({ url: origin, origin, close: () => app.close() });

    const sibling = await post(`${origin}/json`, BODY, {});
    expect(sibling.status).toBe(200);
    expect(await sibling.json()).toEqual({ parsed: { a: 'é\u2028', b: 1 } });

    const hook = await postSigned(`${origin}/webhooks/test`);
    expect(hook.status).toBe(200);
    expect(rec.webhooks[0].body.equals(Buffer.from(BODY, 'utf8'))).toBe(true);

    // The sibling route's own limit is the app's (1 MiB), not the webhook cap.
    const big = await post(`${origin}/json`, JSON.stringify({ pad: 'x'.repeat(CAP * 2) }), {});
    expect(big.status).toBe(200);
  });

  it('serves a custom path inside the prefix and refuses invalid options at register time', async () => {
    const rec = recorder();
    const app = Fastify();
    await app.register(fastifyWebhook, { prefix: '/webhooks', path: '/stripe', verifier, onWebhook: rec.onWebhook });
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    open.push({ url: origin, origin, close: () => app.close() });
    expect((await postSigned(`${origin}/webhooks/stripe`)).status).toBe(200);
    expect(rec.webhooks).toHaveLength(1);

    const broken = Fastify();
    await expect(broken.register(fastifyWebhook, { verifier }).ready()).rejects.toThrow(/inbox or onWebhook/);
    await broken.close();
  });
});

describe('hono adapter', () => {
  it('with neither inbox nor onWebhook, sets c.var.webhook and leaves the body readable', async () => {
    const app = new Hono<{ Variables: HonoWebhookVariables }>();
    app.post('/hook', honoWebhook({ verifier }), async (c) => {
      const webhook = c.get('webhook');
      return c.json({ id: webhook.id, text: await c.req.text(), parsed: await c.req.json() });
    });
    const bridge = await serveWeb((request) => app.fetch(request));
    open.push({ url: bridge.url, origin: bridge.url, close: () => bridge.close() });
    const res = await postSigned(`${bridge.url}/hook`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'msg_adapters', text: BODY, parsed: { a: 'é\u2028', b: 1 } });
  });

  it("uses Hono's cached body when an earlier middleware read it, still under the cap", async () => {
    const rec = recorder();
    const app = new Hono();
    app.use('/hook', async (c, next) => {
      await c.req.arrayBuffer();
      await next();
    });
    app.post('/hook', honoWebhook({ verifier, onWebhook: rec.onWebhook, onRejected: rec.onRejected }));
    const bridge = await serveWeb((request) => app.fetch(request));
    open.push({ url: bridge.url, origin: bridge.url, close: () => bridge.close() });
    expect((await postSigned(`${bridge.url}/hook`)).status).toBe(200);
    expect(rec.webhooks[0].body.equals(Buffer.from(BODY, 'utf8'))).toBe(true);
  });
  it('verifies after an earlier c.req.json()/parseBody(); throws to onError when c.req.raw was consumed', async () => {
    const rec = recorder();
    const app = new Hono();
    app.use('/json-first', async (c, next) => {
      await c.req.json();
      await next();
    });
    app.use('/form-first', async (c, next) => {
      await c.req.parseBody();
      await next();
    });
    app.use('/raw-first', async (c, next) => {
      await c.req.raw.text();
      await next();
    });
    const middleware = honoWebhook({ verifier, onWebhook: rec.onWebhook, onRejected: rec.onRejected });
    app.post('/json-first', middleware);
    app.post('/form-first', middleware);
    app.post('/raw-first', middleware);
    app.onError((error, c) => c.json({ setupError: error.message }, 500));
    const bridge = await serveWeb((request) => app.fetch(request));
    open.push({ url: bridge.url, origin: bridge.url, close: () => bridge.close() });

    expect((await postSigned(`${bridge.url}/json-first`)).status).toBe(200);
    const form = 'a=1&b=%C3%A9&c=\u00e9';
    const signed = verifier.sign({ body: form });
    const formHeaders = { ...signed.headers, 'content-type': 'application/x-www-form-urlencoded' };
    expect((await post(`${bridge.url}/form-first`, signed.body, formHeaders)).status).toBe(200);
    expect(rec.webhooks.map((webhook) => webhook.text())).toEqual([BODY, form]);

    const res = await postSigned(`${bridge.url}/raw-first`);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { setupError: string }).setupError).toMatch(/before middleware that reads the body/);
    expect(rec.webhooks).toHaveLength(2);
    expect(rec.rejected).toEqual([]);
  });
});

describe('web adapter', () => {
  it('verifyWebRequest returns the verified webhook or throws the verification error', async () => {
    const signed = verifier.sign({ body: BODY });
    const webhook = await verifyWebRequest(new Request('http://x/', { method: 'POST', headers: signed.headers, body: new Uint8Array(signed.body) }), verifier);
    expect(webhook.body.equals(Buffer.from(BODY, 'utf8'))).toBe(true);
    await expect(verifyWebRequest(new Request('http://x/', { method: 'POST', body: BODY }), verifier)).rejects.toMatchObject({
      name: 'WebhookVerificationError',
      reason: 'missing_header',
    });
    const big = new Request('http://x/', { method: 'POST', headers: signed.headers, body: 'x'.repeat(CAP + 1) });
    await expect(verifyWebRequest(big, verifier)).rejects.toMatchObject({ reason: 'body_too_large' });
  });

  it('readWebBody stops at the cap on an endless stream and times out on a stalled one', async () => {
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        controller.enqueue(new Uint8Array(100));
      },
    });
    const request = { headers: new Headers(), body: endless, bodyUsed: false };
    await expect(readWebBody(request, CAP)).rejects.toMatchObject({ reason: 'body_too_large' });
    expect(pulls).toBeLessThan(20);

    const stalled = { headers: new Headers(), body: new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => {}) }), bodyUsed: false };
    await expect(readWebBody(stalled, CAP, { timeoutMs: 50 })).rejects.toMatchObject({ name: 'RequestBodyError', code: 'timeout' });
  });

  it('answers anything but POST with 405', async () => {
    const handler = createWebHandler({ verifier, onWebhook: () => {} });
    const res = await handler(new Request('http://x/', { method: 'PUT', body: BODY }));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('handle core', () => {
  it('handleWebhookRequest maps outcomes to statuses and survives a throwing logger', async () => {
    const signed = verifier.sign({ body: BODY });
    const throwingLogger = (): void => {
      throw new Error('logger broke');
    };
    const options: WebhookHandlerOptions = { verifier, onWebhook: () => {}, onRejected: throwingLogger, onError: throwingLogger };
    expect(await handleWebhookRequest(options, { body: signed.body, headers: signed.headers })).toMatchObject({
      status: 200,
      body: '{"received":true}',
    });
    expect(await handleWebhookRequest(options, { body: Buffer.from('{}'), headers: signed.headers })).toMatchObject({
      status: 401,
      body: '{"error":"unauthorized"}',
    });
    expect(await handleWebhookRequest(options, { body: Buffer.alloc(CAP + 1), headers: signed.headers })).toMatchObject({
      status: 413,
      body: '{"error":"payload_too_large"}',
    });
    const failing = { ...options, onWebhook: throwingLogger };
    expect(await handleWebhookRequest(failing, { body: signed.body, headers: signed.headers })).toMatchObject({ status: 500 });
    await expect(handleWebhookRequest({ verifier }, { body: signed.body, headers: signed.headers })).rejects.toThrow(TypeError);
  });

  it('readRawBody stops reading at the cap, honours Content-Length first, and times out', async () => {
    const stream = new PassThrough();
    const reading = readRawBody(stream, 10);
    stream.write(Buffer.alloc(6));
    stream.write(Buffer.alloc(6));
    await expect(reading).rejects.toMatchObject({ reason: 'body_too_large' });
    expect(stream.destroyed).toBe(true);

    const declared = Object.assign(new PassThrough(), { headers: { 'content-length': '11' } });
    await expect(readRawBody(declared, 10)).rejects.toMatchObject({ reason: 'body_too_large' });

    const exact = new PassThrough();
    const exactReading = readRawBody(exact, 10);
    exact.end(Buffer.from('0123456789'));
    expect((await exactReading).toString()).toBe('0123456789');

    const stalled = new PassThrough();
    await expect(readRawBody(stalled, 10, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'timeout' });
    const consumed = new PassThrough();
    consumed.resume();
    consumed.end();
    await new Promise((resolve) => consumed.on('end', resolve));
    await expect(readRawBody(consumed, 10)).rejects.toMatchObject({ code: 'already_read' });
  });
});

async function startHarness(pending: Promise<Harness>): Promise<Harness> {
  const harness = await pending;
  open.push(harness);
  return harness;
}
