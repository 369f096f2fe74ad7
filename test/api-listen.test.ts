// `tapwire listen`, server side, driven over the wire: the test plays the CLI with a raw WebSocket
// (GET /api/v1/listen, upgraded) and answers each pushed `event` frame with a `result` frame, as the
// CLI does after POSTing to its local receiver. Refusals happen before the upgrade, as plain HTTP
// answers; a session is a temporary endpoint whose attempts are the CLI's reports; a reconnect
// resumes the session and is pushed again whatever it never answered; ending, deleting or
// abandoning a session removes its endpoint; a process without a worker refuses to hold one.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { loadConfig } from '../src/config/config.js';
import { verifySignature } from '../src/signing/standard-webhooks.js';
import { TapwireServer } from '../src/tapwire-server.js';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { attemptsToEndpoint, destinationState, eventually, expectStatus, sendMessage } from './helpers/delivery.js';
import { backends, dropSchema, freshSchemaUrl, TEST_ENCRYPTION_KEY } from './helpers/postgres.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

/** A JSON frame from the server. */
type Frame = { type: string; [field: string]: any };

/** One connected CLI, as the test plays it. */
interface Listener {
  ws: WebSocket;
  /** The ready frame the session started with. */
  ready: Frame;
  /** The next frame `accept` takes (already received or still to come), removed from the buffer. */
  next(accept?: (frame: Frame) => boolean, what?: string): Promise<Frame>;
  /** The next event frame of message `msgId`. */
  event(msgId: string): Promise<Frame>;
  send(frame: object): void;
  /** Answer a pushed event as the CLI does after its local request. */
  answer(event: Frame, statusCode: number, body: string, extra?: object): void;
  /** Resolves when the socket has closed, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

/** A session id as the CLI makes one: random, URL-safe, 16 characters. */
const newSessionId = (): string => randomBytes(12).toString('base64url');

/** Frames can take a worker claim or two to come; the default `eventually` deadline, as a frame wait. */
const FRAME_TIMEOUT_MS = 10_000;

function listenUrl(tw: { url: string }, query: Record<string, string>, path = '/api/v1/listen'): string {
  const url = new URL(path, tw.url.replace(/^http/, 'ws'));
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.toString();
}

/** Every socket a test opened, terminated after it (a failing test leaves none behind). */
const sockets = new Set<WebSocket>();

async function connect(tw: { url: string }, query: Record<string, string>, token: string = ADMIN_TOKEN): Promise<Listener> {
  const ws = new WebSocket(listenUrl(tw, query), { headers: { authorization: `Bearer ${token}` } });
  sockets.add(ws);
  const buffered: Frame[] = [];
  const waiters: { accept: (frame: Frame) => boolean; take: (frame: Frame) => void }[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    const index = waiters.findIndex((w) => w.accept(frame));
    if (index >= 0) waiters.splice(index, 1)[0]!.take(frame);
    else buffered.push(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const next = (accept: (frame: Frame) => boolean = () => true, what = 'a frame'): Promise<Frame> => {
    const index = buffered.findIndex(accept);
    if (index >= 0) return Promise.resolve(buffered.splice(index, 1)[0]!);
    return new Promise<Frame>((resolve, reject) => {
      const waiter = {
        accept,
        take: (frame: Frame) => {
          clearTimeout(deadline);
          resolve(frame);
        },
      };
      const deadline = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`${what} not received within ${FRAME_TIMEOUT_MS} ms; unclaimed frames: ${JSON.stringify(buffered).slice(0, 2000)}`));
      }, FRAME_TIMEOUT_MS);
      waiters.push(waiter);
    });
  };
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`listen refused with ${res.statusCode}`)));
    ws.once('error', reject);
  });
  const ready = await next((f) => f.type === 'ready', 'the ready frame');
  const send = (frame: object): void => ws.send(JSON.stringify(frame));
  return {
    ws,
    ready,
    next,
    event: (msgId) => next((f) => f.type === 'event' && f.msgId === msgId, `an event frame of ${msgId}`),
    send,
    answer: (event, statusCode, body, extra = {}) => send({ type: 'result', deliveryId: event.deliveryId, statusCode, body, durationMs: 3, ...extra }),
    closed,
  };
}

/** Open a listen WebSocket that must be refused; the HTTP answer it got instead. */
function refused(tw: { url: string }, query: Record<string, string>, headers: Record<string, string>, path?: string): Promise<{ status: number; contentType: string; body: any }> {
  const ws = new WebSocket(listenUrl(tw, query, path), { headers });
  sockets.add(ws);
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), body: JSON.parse(text) }));
    });
  });
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
    for (const name of ['order.created', 'a.b', 'c.d']) {
      expectStatus(await api('POST', '/api/v1/event-type', { name, description: name }), 201, `create event type ${name}`);
    }
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  /** A fresh application (with a uid) per test, so sessions and attempts of other tests never show. */
  async function newApp(): Promise<{ id: string; uid: string }> {
    const res = expectStatus(await api('POST', '/api/v1/app', { name: 'Listener', uid: unique('app') }), 201, 'create application');
    return { id: res.body.id, uid: res.body.uid };
  }

  /** An application's portal token, with `capabilities` (all when omitted). */
  async function appToken(appId: string, body: Record<string, unknown> = {}): Promise<string> {
    return expectStatus(await api('POST', `/api/v1/auth/app-portal-access/${appId}`, body), 200, 'mint app token').body.token as string;
  }

  async function sessions(query = '', token?: string): Promise<any[]> {
    return expectStatus(await api('GET', `/api/v1/listen-session${query}`, undefined, token ? { token } : {}), 200, 'list listen sessions').body.data;
  }

  /** Attempts to the endpoint once `accept` holds for them. */
  function attemptsWhen(appId: string, endpointId: string, accept: (attempts: any[]) => boolean, what: string): Promise<any[]> {
    return eventually(() => attemptsToEndpoint(tw, appId, endpointId), accept, { what });
  }

  describe('refusals before the upgrade', () => {
    const notFound = { code: 'not_found', detail: expect.any(String) };
    const validation = (loc: string[]): unknown => ({ detail: [{ loc, msg: expect.any(String), type: 'value_error' }] });

    it('a missing, malformed or unknown token is 401', async () => {
      const app = await newApp();
      const query = { app: app.id, session: newSessionId() };
      const unauthorized = { status: 401, contentType: 'application/json', body: { code: 'authentication_failed', detail: expect.any(String) } };
      expect(await refused(tw, query, {})).toEqual(unauthorized);
      expect(await refused(tw, query, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` })).toEqual(unauthorized);
      expect(await refused(tw, query, { authorization: 'Bearer' })).toEqual(unauthorized);
      expect(await refused(tw, query, bearer('tw_admin_no_such_token_0123456789'))).toEqual(unauthorized);
      expect(await sessions(`?app_id=${app.id}`)).toEqual([]);
    });

    it('a malformed query is 422 naming the parameter', async () => {
      const app = await newApp();
      const session = newSessionId();
      expect(await refused(tw, { app: app.id, source: 'src_whatever', session }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 422, body: validation(['query', 'app']) });
      expect(await refused(tw, { session }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 422, body: validation(['query', 'app']) });
      expect(await refused(tw, { app: app.id }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 422, body: validation(['query', 'session']) });
      expect(await refused(tw, { app: app.id, session: 'short' }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 422, body: validation(['query', 'session']) });
      expect(await refused(tw, { app: app.id, session: `${'x'.repeat(15)}/` }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 422, body: validation(['query', 'session']) });
      expect(await refused(tw, { app: app.id, session, events: 'a.b,not a type!' }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 422, body: validation(['query', 'events']) });
      expect(await refused(tw, { app: app.id, session, since: 'yesterday-ish' }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 422, body: validation(['query', 'since']) });
      // Nothing was made for any of them.
      expect(await sessions(`?app_id=${app.id}`)).toEqual([]);
      expect(expectStatus(await api('GET', `/api/v1/app/${app.id}/endpoint`), 200, 'list endpoints').body.data).toEqual([]);
    });

    it("an unknown application, another tenant's, a source for an app token and an unknown source are refused", async () => {
      const a = await newApp();
      const b = await newApp();
      const session = newSessionId();
      const tokenA = await appToken(a.id);
      expect(await refused(tw, { app: 'app_nosuchapplication000000000', session }, bearer(ADMIN_TOKEN))).toEqual({ status: 404, contentType: 'application/json', body: notFound });
      // Another tenant's application is indistinguishable from a missing one.
      expect(await refused(tw, { app: b.id, session }, bearer(tokenA))).toEqual({ status: 404, contentType: 'application/json', body: notFound });
      expect(await refused(tw, { app: b.uid, session }, bearer(tokenA))).toEqual({ status: 404, contentType: 'application/json', body: notFound });
      const readOnly = await appToken(a.id, { capabilities: ['ViewBase'] });
      expect(await refused(tw, { app: a.id, session }, bearer(readOnly))).toEqual({ status: 403, contentType: 'application/json', body: { code: 'insufficient access', detail: expect.stringContaining('ManageEndpoint') } });
      expect(await refused(tw, { source: 'src_anything', session }, bearer(tokenA))).toEqual({ status: 403, contentType: 'application/json', body: { code: 'insufficient access', detail: expect.any(String) } });
      expect(await refused(tw, { source: 'src_nosuchsource0000000000000', session }, bearer(ADMIN_TOKEN))).toEqual({ status: 404, contentType: 'application/json', body: notFound });
      expect(await sessions()).not.toContainEqual(expect.objectContaining({ id: session }));
    });

    it('a WebSocket on any other path is 404', async () => {
      const app = await newApp();
      expect(await refused(tw, { app: app.id, session: newSessionId() }, bearer(ADMIN_TOKEN), '/api/v1/listenx')).toEqual({ status: 404, contentType: 'application/json', body: notFound });
    });

    it("another token's session id is 409, and the session it names goes on", async () => {
      const app = await newApp();
      const session = newSessionId();
      const first = await connect(tw, { app: app.id, session });
      expect(await refused(tw, { app: app.id, session }, bearer(await appToken(app.id)))).toEqual({ status: 409, contentType: 'application/json', body: { code: 'conflict', detail: expect.any(String) } });
      // The same token naming another application is refused as well.
      const other = await newApp();
      expect(await refused(tw, { app: other.id, session }, bearer(ADMIN_TOKEN))).toMatchObject({ status: 409, body: { code: 'conflict' } });
      expect(first.ws.readyState).toBe(WebSocket.OPEN);
      expect(await sessions(`?app_id=${app.id}`)).toEqual([expect.objectContaining({ id: session, endpointId: first.ready.endpointId, connected: true })]);
    });
  });

  it("a session's endpoint keeps its URL: other settings may change through the endpoint API", async () => {
    const app = await newApp();
    const session = newSessionId();
    const listener = await connect(tw, { app: app.id, session });
    const path = `/api/v1/app/${app.id}/endpoint/${listener.ready.endpointId}`;
    const moved = await api('PATCH', path, { url: 'https://example.com/hook' });
    expect(moved.status).toBe(422);
    expect(moved.body.detail[0]).toMatchObject({ loc: ['body', 'url'], msg: expect.stringContaining('tapwire listen session') });
    expect(expectStatus(await api('PATCH', path, { description: 'my laptop' }), 200, 'patch the description').body).toMatchObject({ url: `tapwire-listen://${session}`, description: 'my laptop' });
    expect(expectStatus(await api('PUT', path, { url: `tapwire-listen://${session}`, description: 'again' }), 200, 'put with its own URL').body).toMatchObject({ description: 'again' });
    expect(expectStatus(await api('GET', path), 200, 'get').body.url).toBe(`tapwire-listen://${session}`);
  });

  it('the ready frame names the session endpoint and a secret stable per token and application', async () => {
    const app = await newApp();
    const other = await newApp();
    const session = newSessionId();
    const listener = await connect(tw, { app: app.uid, session });
    expect(listener.ready).toEqual({
      type: 'ready',
      sessionId: session,
      appId: app.id,
      appUid: app.uid,
      endpointId: expect.stringMatching(/^ep_/),
      sourceId: null,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
      timeoutMs: 2_000,
    });
    const endpoint = expectStatus(await api('GET', `/api/v1/app/${app.id}/endpoint/${listener.ready.endpointId}`), 200, 'get the session endpoint').body;
    expect(endpoint).toMatchObject({ id: listener.ready.endpointId, uid: `listen-${session}`, url: `tapwire-listen://${session}`, disabled: false });
    expect(expectStatus(await api('GET', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`), 200, 'get the secret').body.key).toBe(listener.ready.secret);

    // The same token on the same application: the same secret, on a new endpoint.
    const again = await connect(tw, { app: app.id, session: newSessionId() });
    expect(again.ready.endpointId).not.toBe(listener.ready.endpointId);
    expect(again.ready.secret).toBe(listener.ready.secret);
    // Another token, or another application: another secret.
    const byAppToken = await connect(tw, { app: app.id, session: newSessionId() }, await appToken(app.id));
    expect(byAppToken.ready.secret).toMatch(/^whsec_/);
    expect(byAppToken.ready.secret).not.toBe(listener.ready.secret);
    const otherApp = await connect(tw, { app: other.id, session: newSessionId() });
    expect(otherApp.ready.secret).not.toBe(listener.ready.secret);
  });

  describe('deliveries pushed down the socket', () => {
    it('an event frame carries the signed request; a 201 report is the successful attempt', async () => {
      const app = await newApp();
      const listener = await connect(tw, { app: app.id, session: newSessionId() });
      const { endpointId, secret } = listener.ready;
      const payload = { order: 42, items: ['a', 'b'], note: 'snowman ☃' };
      const msgId = await sendMessage(tw, app.id, { eventType: 'order.created', payload });
      const event = await listener.event(msgId);
      expect(event).toEqual({
        type: 'event',
        deliveryId: expect.any(String),
        msgId,
        eventType: 'order.created',
        attempt: 1,
        headers: expect.objectContaining({ 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': expect.stringMatching(/^\d+$/), 'webhook-signature': expect.stringMatching(/^v1,/) }),
        body: expect.any(String),
      });
      expect(JSON.parse(event.body)).toEqual(payload);
      const signed = (secrets: string[]): boolean =>
        verifySignature({ msgId: event.headers['webhook-id'], timestampSeconds: event.headers['webhook-timestamp'], body: event.body, signatureHeader: event.headers['webhook-signature'], secrets });
      expect(signed([secret])).toBe(true);
      expect(signed(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'])).toBe(false);

      listener.answer(event, 201, 'made');
      const [attempt] = await attemptsWhen(app.id, endpointId, (a) => a.length === 1, 'the attempt being recorded');
      expect(attempt).toMatchObject({ msgId, endpointId, responseStatusCode: 201, response: 'made', status: 0 });
      expect(await destinationState(tw, app.id, msgId, endpointId)).toMatchObject({ status: 0 });
    });

    it('a 500 report is a failed attempt, and the retry is pushed as attempt 2', async () => {
      const app = await newApp();
      const listener = await connect(tw, { app: app.id, session: newSessionId() });
      const { endpointId } = listener.ready;
      const msgId = await sendMessage(tw, app.id, { eventType: 'order.created', payload: { n: 1 } });
      const first = await listener.event(msgId);
      expect(first.attempt).toBe(1);
      listener.answer(first, 500, 'boom');
      const retry = await listener.event(msgId);
      expect(retry).toMatchObject({ deliveryId: first.deliveryId, attempt: 2 });
      // The failure was recorded before the retry was pushed.
      expect(await attemptsToEndpoint(tw, app.id, endpointId)).toEqual([expect.objectContaining({ msgId, responseStatusCode: 500, response: 'boom', status: 2 })]);
      listener.answer(retry, 200, 'ok');
      const attempts = await attemptsWhen(app.id, endpointId, (a) => a.length === 2, 'the retry being recorded');
      expect(attempts.map((a) => [a.responseStatusCode, a.response, a.status])).toEqual([[500, 'boom', 2], [200, 'ok', 0]]);
      expect(await destinationState(tw, app.id, msgId, endpointId)).toMatchObject({ status: 0 });
    });

    it('a connection error report is recorded as status code 0 with its text', async () => {
      const app = await newApp();
      const listener = await connect(tw, { app: app.id, session: newSessionId() });
      const { endpointId } = listener.ready;
      const msgId = await sendMessage(tw, app.id, { eventType: 'order.created', payload: { n: 2 } });
      const first = await listener.event(msgId);
      listener.answer(first, 0, 'connect ECONNREFUSED 127.0.0.1:3000', { error: 'connection' });
      const retry = await listener.event(msgId);
      expect(retry.attempt).toBe(2);
      expect(await attemptsToEndpoint(tw, app.id, endpointId)).toEqual([
        expect.objectContaining({ msgId, responseStatusCode: 0, response: 'connect ECONNREFUSED 127.0.0.1:3000', status: 2 }),
      ]);
      listener.answer(retry, 204, '');
      await attemptsWhen(app.id, endpointId, (a) => a.length === 2 && a[1].status === 0, 'the retry succeeding');
    });

    it('events=a.b: a message of another type is not delivered to the session at all', async () => {
      const app = await newApp();
      const listener = await connect(tw, { app: app.id, session: newSessionId(), events: 'a.b' });
      const { endpointId } = listener.ready;
      const skipped = await sendMessage(tw, app.id, { eventType: 'c.d', payload: { n: 'c' } });
      const wanted = await sendMessage(tw, app.id, { eventType: 'a.b', payload: { n: 'a' } });
      const event = await listener.event(wanted);
      expect(event.eventType).toBe('a.b');
      listener.answer(event, 200, 'ok');
      const attempts = await attemptsWhen(app.id, endpointId, (a) => a.length === 1, 'the a.b attempt');
      expect(attempts.map((a) => a.msgId)).toEqual([wanted]);
      // The c.d message, sent first, has no delivery to the session's endpoint.
      expect(await destinationState(tw, app.id, skipped, endpointId)).toBeUndefined();
      expect(await destinationState(tw, app.id, wanted, endpointId)).toMatchObject({ status: 0 });
      expect(expectStatus(await api('GET', `/api/v1/app/${app.id}/endpoint/${endpointId}`), 200, 'get endpoint').body.filterTypes).toEqual(['a.b']);
    });
  });

  it('a reconnect resumes the session: an unanswered push comes again, and only the answer is recorded', async () => {
    const app = await newApp();
    const session = newSessionId();
    const first = await connect(tw, { app: app.id, session });
    const { endpointId } = first.ready;
    const msgId = await sendMessage(tw, app.id, { eventType: 'order.created', payload: { n: 3 } });
    const unanswered = await first.event(msgId);
    first.ws.close();
    await first.closed;
    await eventually(() => sessions(`?app_id=${app.id}`), (s) => s.length === 1 && s[0].connected === false, { what: 'the session being detached' });
    expect(await attemptsToEndpoint(tw, app.id, endpointId)).toEqual([]);

    const second = await connect(tw, { app: app.id, session });
    expect(second.ready).toMatchObject({ sessionId: session, endpointId, secret: first.ready.secret });
    const again = await second.event(msgId);
    expect(again).toMatchObject({ deliveryId: unanswered.deliveryId, attempt: 1, body: unanswered.body });
    second.answer(again, 200, 'second time');
    const attempts = await attemptsWhen(app.id, endpointId, (a) => a.length > 0, 'the answer being recorded');
    expect(attempts).toEqual([expect.objectContaining({ msgId, responseStatusCode: 200, response: 'second time', status: 0 })]);
    expect(await destinationState(tw, app.id, msgId, endpointId)).toMatchObject({ status: 0 });
    expect(await sessions(`?app_id=${app.id}`)).toEqual([expect.objectContaining({ id: session, endpointId, connected: true, detachedAt: null })]);
  });

  it('a push the client never reports is a timed-out attempt after the request deadline, retried like any failure', async () => {
    const app = await newApp();
    const listener = await connect(tw, { app: app.id, session: newSessionId() });
    const { endpointId, timeoutMs } = listener.ready;
    const msgId = await sendMessage(tw, app.id, { eventType: 'order.created', payload: { n: 4 } });
    const silent = await listener.event(msgId);
    const [attempt] = await attemptsWhen(app.id, endpointId, (a) => a.length === 1, 'the timed-out attempt');
    expect(attempt).toMatchObject({ msgId, responseStatusCode: 0, status: 2, response: `tapwire listen did not report an answer within ${timeoutMs + 1000} ms` });
    // The retry is pushed on the same socket and can still succeed.
    const retry = await listener.next((f) => f.type === 'event' && f.msgId === msgId && f.attempt === 2, 'the retry');
    expect(retry.deliveryId).toBe(silent.deliveryId);
    listener.answer(retry, 200, 'ok');
    await attemptsWhen(app.id, endpointId, (a) => a.length === 2 && a.some((x: any) => x.status === 0), 'the retry recorded');
  });

  it('a second connection of the same session takes it over; the first is closed with 4000', async () => {
    const app = await newApp();
    const session = newSessionId();
    const first = await connect(tw, { app: app.id, session });
    const second = await connect(tw, { app: app.id, session });
    expect(second.ready).toMatchObject({ sessionId: session, endpointId: first.ready.endpointId });
    expect((await first.closed).code).toBe(4000);
    const msgId = await sendMessage(tw, app.id, { eventType: 'order.created', payload: { n: 4 } });
    second.answer(await second.event(msgId), 200, 'taken over');
    await attemptsWhen(app.id, first.ready.endpointId, (a) => a.length === 1 && a[0].response === 'taken over', 'the answer being recorded');
    // The replaced socket's close does not mark the session detached.
    expect(await sessions(`?app_id=${app.id}`)).toEqual([expect.objectContaining({ id: session, connected: true, detachedAt: null })]);
  });

  it("the admin token may listen to an ingest source: its application's session", async () => {
    const source = expectStatus(
      await api('POST', '/ingest/api/v1/source', { name: 'Stripe', uid: unique('stripe'), type: 'stripe', config: { secret: 'whsec_test_stripe_0123456789abcdef' } }),
      201,
      'create ingest source',
    ).body;
    const listener = await connect(tw, { source: source.uid, session: newSessionId() });
    expect(listener.ready).toMatchObject({ sourceId: source.id, appId: expect.stringMatching(/^app_/), endpointId: expect.stringMatching(/^ep_/) });
    expect(await sessions(`?app_id=${listener.ready.appId}`)).toEqual([expect.objectContaining({ id: listener.ready.sessionId, sourceId: source.id })]);
  });

  it('since: a new session is sent the messages accepted since then', async () => {
    const app = await newApp();
    const before = [
      await sendMessage(tw, app.id, { eventType: 'order.created', payload: { n: 'old-1' } }),
      await sendMessage(tw, app.id, { eventType: 'a.b', payload: { n: 'old-2' } }),
    ];
    const listener = await connect(tw, { app: app.id, session: newSessionId(), since: new Date(Date.now() - 3_600_000).toISOString() });
    for (const msgId of before) listener.answer(await listener.event(msgId), 200, 'ok');
    const attempts = await attemptsWhen(app.id, listener.ready.endpointId, (a) => a.length === 2, 'both replayed messages being recorded');
    expect(attempts.map((a) => a.msgId).sort()).toEqual([...before].sort());
    expect(attempts.every((a) => a.responseStatusCode === 200 && a.status === 0)).toBe(true);
  });

  it('an end frame ends the session: ended, closed, endpoint and session gone', async () => {
    const app = await newApp();
    const listener = await connect(tw, { app: app.id, session: newSessionId() });
    listener.send({ type: 'end' });
    expect(await listener.next()).toEqual({ type: 'ended', reason: expect.any(String) });
    expect((await listener.closed).code).toBe(4001);
    const gone = await eventually(() => api('GET', `/api/v1/app/${app.id}/endpoint/${listener.ready.endpointId}`), (r) => r.status !== 200, { what: 'the endpoint being deleted' });
    expect(gone.status).toBe(404);
    expect(await sessions(`?app_id=${app.id}`)).toEqual([]);
    expect(await sessions()).not.toContainEqual(expect.objectContaining({ id: listener.ready.sessionId }));
  });

  it('GET and DELETE /api/v1/listen-session', async () => {
    const a = await newApp();
    const b = await newApp();
    const sa = newSessionId();
    const sb = newSessionId();
    const la = await connect(tw, { app: a.id, session: sa, events: 'a.b,c.d', forward_to: 'http://localhost:3000/webhooks', client: 'laptop (tapwire 1.2.3)' });
    const lb = await connect(tw, { app: b.uid, session: sb });
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const viewA = {
      id: sa,
      appId: a.id,
      appUid: a.uid,
      endpointId: la.ready.endpointId,
      sourceId: null,
      forwardTo: 'http://localhost:3000/webhooks',
      eventTypes: ['a.b', 'c.d'],
      client: 'laptop (tapwire 1.2.3)',
      createdAt: iso,
      lastSeenAt: iso,
      detachedAt: null,
      connected: true,
    };
    const all = await sessions();
    expect(all).toContainEqual(viewA);
    expect(all).toContainEqual(expect.objectContaining({ id: sb, appId: b.id, appUid: b.uid, endpointId: lb.ready.endpointId, forwardTo: '', eventTypes: null, client: '', connected: true }));
    const created = all.map((s) => Date.parse(s.createdAt));
    expect(created).toEqual([...created].sort((x, y) => y - x));
    expect(await sessions(`?app_id=${a.id}`)).toEqual([viewA]);
    expect(await sessions(`?app_id=${b.uid}`)).toEqual([expect.objectContaining({ id: sb })]);

    const tokenA = await appToken(a.id);
    expect(await sessions('', tokenA)).toEqual([viewA]);
    expect(await sessions(`?app_id=${a.id}`, tokenA)).toEqual([viewA]);
    expect((await api('GET', `/api/v1/listen-session?app_id=${b.id}`, undefined, { token: tokenA })).status).toBe(404);

    // Closed without an end frame: detached, not connected, still listed.
    la.ws.close();
    await la.closed;
    const [detached] = await eventually(() => sessions(`?app_id=${a.id}`), (s) => s[0]?.connected === false, { what: 'the session being detached' });
    expect(detached).toEqual({ ...viewA, detachedAt: iso, connected: false });

    // Another tenant cannot end it (nor learn it exists); the admin can.
    const del = await api('DELETE', `/api/v1/listen-session/${sb}`, undefined, { token: tokenA });
    expect(del.status).toBe(404);
    expect(del.body).toEqual({ code: 'not_found', detail: expect.any(String) });
    expect(lb.ws.readyState).toBe(WebSocket.OPEN);
    expect((await api('DELETE', `/api/v1/listen-session/${sb}`)).status).toBe(204);
    expect(await lb.next()).toEqual({ type: 'ended', reason: expect.any(String) });
    expect((await lb.closed).code).toBe(4001);
    expect((await api('GET', `/api/v1/app/${b.id}/endpoint/${lb.ready.endpointId}`)).status).toBe(404);
    expect(await sessions(`?app_id=${b.id}`)).toEqual([]);
    expect((await api('DELETE', `/api/v1/listen-session/${sb}`)).status).toBe(404);

    // A detached session (no socket held) is ended by deleting its endpoint.
    expect((await api('DELETE', `/api/v1/listen-session/${sa}`, undefined, { token: tokenA })).status).toBe(204);
    expect((await api('GET', `/api/v1/app/${a.id}/endpoint/${la.ready.endpointId}`)).status).toBe(404);
    expect(await sessions(`?app_id=${a.id}`)).toEqual([]);
  });

  it('a session whose socket vanished loses its endpoint after the session timeout', async () => {
    const short = await startTapwire({ TAPWIRE_LISTEN_SESSION_TIMEOUT: '300ms' });
    try {
      const app = expectStatus(await short.api('POST', '/api/v1/app', { name: 'Vanishing' }), 201, 'create application').body.id as string;
      const list = async (): Promise<any[]> => expectStatus(await short.api('GET', `/api/v1/listen-session?app_id=${app}`), 200, 'list sessions').body.data;
      const listener = await connect(short, { app, session: newSessionId() });
      // Attached sessions are kept alive by the heartbeat, however long they last: several periods pass here.
      const firstSeen = (await list())[0].lastSeenAt;
      await eventually(list, (s) => s[0].lastSeenAt !== firstSeen && Date.now() - Date.parse(firstSeen) > 600, { what: 'two session timeouts of heartbeats', intervalMs: 50 });
      expect((await short.api('GET', `/api/v1/app/${app}/endpoint/${listener.ready.endpointId}`)).status).toBe(200);
      expect(await list()).toEqual([expect.objectContaining({ connected: true, detachedAt: null })]);

      listener.ws.terminate();
      await listener.closed;
      await eventually(() => short.api('GET', `/api/v1/app/${app}/endpoint/${listener.ready.endpointId}`), (r) => r.status === 404, { what: 'the endpoint being removed' });
      expect(await list()).toEqual([]);
    } finally {
      await short.close();
    }
  });

  it("a process without a worker refuses listen with 503 and still lists sessions", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-listen-api-'));
    const schemaUrl = backend === 'postgres' ? freshSchemaUrl('listen_api') : null;
    const config = loadConfig({
      env: {
        TAPWIRE_DATABASE_URL: schemaUrl ?? join(dir, 'tapwire.db'),
        TAPWIRE_PORT: '0',
        TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
        TAPWIRE_SQLITE_THREAD: 'false',
        ...(schemaUrl ? { TAPWIRE_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY } : {}),
      },
      flags: { role: 'api' },
    });
    const server = await TapwireServer.create({ config, logger: pino({ level: 'silent' }) });
    try {
      const url = (await server.start())!;
      const created = await fetch(`${url}/api/v1/app`, { method: 'POST', headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'API only' }) });
      expect(created.status).toBe(201);
      const app = ((await created.json()) as { id: string }).id;
      expect(await refused({ url }, { app, session: newSessionId() }, bearer(ADMIN_TOKEN))).toEqual({
        status: 503,
        contentType: 'application/json',
        body: { code: 'store_unavailable', detail: expect.stringContaining('no delivery worker') },
      });
      const listed = await fetch(`${url}/api/v1/listen-session`, { headers: bearer(ADMIN_TOKEN) });
      expect(listed.status).toBe(200);
      expect(await listed.json()).toEqual({ data: [] });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      if (schemaUrl) await dropSchema(schemaUrl);
    }
  });
});
