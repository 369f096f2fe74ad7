// Endpoint transformations end to end, on both backends: the official svix client (both majors)
// sets one, a real receiver gets exactly the reshaped request, signed over the body it received;
// handlers that spin, allocate 100 MB, throw or return garbage make failed attempts with a clear
// reason while an endpoint without one keeps receiving; cancel ends the delivery canceled; the API
// refuses what it cannot keep; simulate shows a result without sending. The sandbox threads run
// from the build (npm run build first).
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { attemptsToEndpoint, createEndpoint, createEventTypes, expectStatus, flatHeaders, sendMessage, useDeliveryFixtures, waitForDestinationStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import type { ReceivedRequest } from './helpers/receiver.js';
import { SVIX_MAJORS } from './helpers/svix-majors.js';
import { ADMIN_TOKEN, useBackend, type TestTapwire } from './helpers/tapwire.js';

const fixtures = useDeliveryFixtures();

/** Reshapes the payload into a chat message, adds a header, and moves the request to /chat. */
const RESHAPE = `
function handler(webhook) {
  webhook.payload = { text: webhook.eventType + ': invoice ' + webhook.payload.invoice + ' for ' + webhook.payload.amount };
  webhook.headers['X-Chat-Kind'] = 'invoice';
  webhook.url = webhook.url.replace('/hook', '/chat');
  return webhook;
}`;

function transformationPath(appId: string, endpointId: string): string {
  return `/api/v1/app/${appId}/endpoint/${endpointId}/transformation`;
}

async function setTransformation(tw: TestTapwire, appId: string, endpointId: string, body: Record<string, unknown>): Promise<void> {
  expectStatus(await tw.api('PATCH', transformationPath(appId, endpointId), body), 204, 'set transformation');
}

/** Checks the Standard Webhooks signature over the exact bytes received. */
function verify(req: ReceivedRequest, secret: string): void {
  new StandardWebhook(secret).verify(req.body.toString('utf8'), flatHeaders(req.headers));
}

describe.each(await backends())('endpoint transformations (%s)', (backend) => {
  useBackend(backend);

  it.each(SVIX_MAJORS)('$label sets a transformation that reshapes the payload and adds a header; the receiver gets exactly that, signed', async (m) => {
    const { tw, appId } = await fixtures.setup();
    const receiver = await fixtures.receiver();
    const ep = await createEndpoint(tw, appId, { url: `${receiver.url}/hook` });
    const svix = new m.lib.Svix(ADMIN_TOKEN, { serverUrl: tw.url });
    const empty = m.major === 1 ? await svix.endpoint.transformationGet(appId, ep.id) : await svix.endpoint.transformation.get(appId, ep.id);
    expect(empty).toMatchObject({ code: null, enabled: false });
    if (m.major === 1) await svix.endpoint.transformationPartialUpdate(appId, ep.id, { code: RESHAPE, enabled: true });
    else await svix.endpoint.transformation.patch(appId, ep.id, { code: RESHAPE, enabled: true });
    const got = m.major === 1 ? await svix.endpoint.transformationGet(appId, ep.id) : await svix.endpoint.transformation.get(appId, ep.id);
    expect(got).toMatchObject({ code: RESHAPE, enabled: true });
    expect(got.updatedAt).toBeInstanceOf(Date);

    const msgId = await sendMessage(tw, appId, { eventType: 'invoice.paid', payload: { invoice: 'in_42', amount: 1250 } });
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/chat');
    expect(JSON.parse(req.body.toString('utf8'))).toEqual({ text: 'invoice.paid: invoice in_42 for 1250' });
    expect(req.headers['x-chat-kind']).toBe('invoice');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['webhook-id']).toBe(msgId);
    verify(req, ep.secret);
    // The attempt records where the request really went.
    const [attempt] = await attemptsToEndpoint(tw, appId, ep.id);
    expect(attempt).toMatchObject({ url: `${receiver.url}/chat`, status: 0, responseStatusCode: 200 });

    // Switched off, the code stays and deliveries go out untouched.
    if (m.major === 1) await svix.endpoint.patchTransformation(appId, ep.id, { enabled: false });
    else await svix.endpoint.transformation.patch(appId, ep.id, { enabled: false });
    expect(m.major === 1 ? await svix.endpoint.transformationGet(appId, ep.id) : await svix.endpoint.transformation.get(appId, ep.id)).toMatchObject({ code: RESHAPE, enabled: false });
    const raw = '{"invoice":"in_43","amount":12345678901234567890}';
    const plainId = await sendMessage(tw, appId, { raw: `{"eventType":"invoice.paid","payload":${raw}}` });
    await waitForDestinationStatus(tw, appId, plainId, ep.id, 0);
    expect(receiver.requests[1]!.path).toBe('/hook');
    verify(receiver.requests[1]!, ep.secret);
  });

  it('sends with the method the handler chose, and an unchanged payload byte for byte', async () => {
    const { tw, appId } = await fixtures.setup();
    const receiver = await fixtures.receiver();
    const ep = await createEndpoint(tw, appId, { url: `${receiver.url}/hook`, headers: { 'X-Endpoint': 'kept' } });
    await setTransformation(tw, appId, ep.id, { code: 'function handler(webhook) { webhook.method = "PUT"; webhook.headers["X-Seen"] = String(webhook.payload.big > 0); return webhook; }', enabled: true });
    // A number beyond 2^53 would change if the payload were parsed and written again.
    const msgId = await sendMessage(tw, appId, { raw: '{"eventType":"big.number","payload":{"big":12345678901234567890}}' });
    await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.body.toString('utf8')).toBe('{"big":12345678901234567890}');
    expect(req.headers['x-seen']).toBe('true');
    expect(req.headers['x-endpoint']).toBe('kept');
    verify(req, ep.secret);
  });

  it('cancel skips the endpoint for the message: the delivery ends canceled, with an attempt saying so, and nothing is sent', async () => {
    const { tw, appId } = await fixtures.setup();
    const receiver = await fixtures.receiver();
    const ep = await createEndpoint(tw, appId, { url: `${receiver.url}/hook` });
    await setTransformation(tw, appId, ep.id, { code: 'function handler(webhook) { if (webhook.eventType === "noise") webhook.cancel = true; return webhook; }', enabled: true });
    const skippedId = await sendMessage(tw, appId, { eventType: 'noise', payload: { n: 1 } });
    const keptId = await sendMessage(tw, appId, { eventType: 'signal', payload: { n: 2 } });
    await waitForDestinationStatus(tw, appId, skippedId, ep.id, 4);
    await waitForDestinationStatus(tw, appId, keptId, ep.id, 0);
    expect(receiver.requests.map((r) => JSON.parse(r.body.toString('utf8')))).toEqual([{ n: 2 }]);
    const attempts = (await attemptsToEndpoint(tw, appId, ep.id)).filter((a) => a.msgId === skippedId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ status: 4, responseStatusCode: 0, response: expect.stringContaining('Canceled by the transformation') });
  });

  it('a handler that spins, allocates 100 MB, throws or returns garbage makes failed attempts with a clear reason, retried, while an endpoint without one keeps receiving', async () => {
    // A long deadline makes the spinning handler hold a sandbox thread far longer than the healthy
    // endpoint needs for all its deliveries: they must all arrive before its first run is stopped.
    const { tw, appId } = await fixtures.setup({ TAPWIRE_TRANSFORMATION_TIMEOUT: '1500ms', TAPWIRE_RETRY_SCHEDULE: '20ms,20ms' });
    const healthy = await fixtures.receiver();
    const bad = await fixtures.receiver();
    await createEventTypes(tw, 'tick', 'bad');
    const good = await createEndpoint(tw, appId, { url: `${healthy.url}/ok`, filterTypes: ['tick'] });
    const cases = [
      { name: 'spin', code: 'function handler(webhook) { while (true) {} }', reason: 'Transformation failed: it ran past its time limit' },
      { name: 'alloc', code: 'function handler(webhook) { webhook.payload = "x".repeat(100 * 1024 * 1024); return webhook; }', reason: 'Transformation failed: it ran out of memory' },
      { name: 'throw', code: 'function handler(webhook) {\n  throw new Error("no mapping for " + webhook.eventType);\n}', reason: 'Transformation failed: Error: no mapping for bad (line 2)' },
      { name: 'garbage', code: 'function handler(webhook) { return 42; }', reason: 'Transformation failed: invalid result: the handler must return the webhook object, got a number (42)' },
    ];
    const endpoints = [];
    for (const c of cases) {
      const ep = await createEndpoint(tw, appId, { url: `${bad.url}/${c.name}`, filterTypes: ['bad'] });
      await setTransformation(tw, appId, ep.id, { code: c.code, enabled: true });
      endpoints.push({ ...c, id: ep.id });
    }
    const badId = await sendMessage(tw, appId, { eventType: 'bad', payload: { n: 0 } });
    const ticks: string[] = [];
    for (let i = 0; i < 20; i++) ticks.push(await sendMessage(tw, appId, { eventType: 'tick', payload: { i } }));
    const spin = endpoints[0]!;
    await healthy.waitFor((requests) => requests.length === 20);
    const healthyDoneAt = Date.now();
    // The spinning handler has not been stopped yet: its first attempt is still to be recorded.
    expect(await attemptsToEndpoint(tw, appId, spin.id)).toEqual([]);
    for (const ep of endpoints) {
      // Three attempts (the first and two retries), each failed with the reason, then failed for good.
      await waitForDestinationStatus(tw, appId, badId, ep.id, 2);
      const attempts = await attemptsToEndpoint(tw, appId, ep.id);
      expect(attempts, ep.name).toHaveLength(3);
      for (const attempt of attempts) {
        expect(attempt, ep.name).toMatchObject({ status: 2, responseStatusCode: 0 });
        expect(attempt.response, ep.name).toContain(ep.reason);
      }
    }
    const firstSpinAttempt = (await attemptsToEndpoint(tw, appId, spin.id))[0];
    expect(new Date(firstSpinAttempt.timestamp).getTime()).toBeGreaterThan(healthyDoneAt);
    expect(bad.requests).toHaveLength(0);
    for (const id of ticks) await waitForDestinationStatus(tw, appId, id, good.id, 0);
    const metrics = (await (await fetch(`${tw.url}/metrics`)).text()).split('\n');
    const runs = (outcome: string): number => Number(metrics.find((l) => l.startsWith(`tapwire_transformation_runs_total{outcome="${outcome}"}`))?.split(' ')[1]);
    expect(runs('timeout')).toBe(3);
    expect(runs('memory')).toBe(3);
    expect(runs('error')).toBe(3);
    expect(runs('invalid')).toBe(3);
    expect(runs('ok')).toBe(0);
  });

  it('refuses bad transformation requests with clear 4xx errors', async () => {
    const { tw, appId } = await fixtures.setup();
    const ep = await createEndpoint(tw, appId, { url: 'http://127.0.0.1:9/hook' });
    const path = transformationPath(appId, ep.id);
    const refused = async (body: unknown, status: number, text: string): Promise<void> => {
      const res = await tw.api('PATCH', path, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(res.text).toContain(text);
    };
    await refused({ enabled: true }, 422, 'cannot be enabled without code');
    await refused({ code: 'x'.repeat(65_537) }, 422, 'at most 65536 (64 KiB)');
    await refused({ code: '   ' }, 422, 'the code is empty');
    await refused({ code: 'function handler(w) { return w; }', variables: { a: 'b' } }, 422, 'variables are not supported');
    await refused({ code: 5 }, 422, 'code');
    // Code that cannot load is refused when saved, not on every delivery: a syntax error (with its
    // line), no handler, a top level that never ends or allocates without bound.
    await refused({ code: 'function handler(w) {\n  return w;\n' }, 422, 'the code cannot be used: SyntaxError');
    await refused({ code: 'function handle(w) { return w; }' }, 422, 'the code must define function handler(webhook)');
    await refused({ code: 'while (true) {}\nfunction handler(w) { return w; }' }, 422, 'its top level ran past the time limit');
    await refused({ code: 'const a = []; for (;;) a.push(new Array(1e6).fill(1));\nfunction handler(w) { return w; }' }, 422, 'the code cannot be used');
    expect(expectStatus(await tw.api('GET', path), 200, 'get after refusals').body).toMatchObject({ code: null, enabled: false });
    expect((await tw.api('PATCH', transformationPath(appId, 'ep_missing'), { code: 'x' })).status).toBe(404);
    expect((await tw.api('GET', transformationPath(appId, 'ep_missing'))).status).toBe(404);

    // Removing the code switches it off.
    await setTransformation(tw, appId, ep.id, { code: 'function handler(w) { return w; }', enabled: true });
    await setTransformation(tw, appId, ep.id, { code: null });
    expect(expectStatus(await tw.api('GET', path), 200, 'get').body).toMatchObject({ code: null, enabled: false });

    // A portal token needs ManageTransformations.
    const mint = async (capabilities: string[]): Promise<string> =>
      expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, { capabilities }), 200, 'mint').body.token as string;
    const viewer = await mint(['ViewBase', 'ManageEndpoint']);
    expect((await tw.api('GET', path, undefined, { token: viewer })).status).toBe(403);
    expect((await tw.api('PATCH', path, { code: 'function handler(w) { return w; }' }, { token: viewer })).status).toBe(403);
    const editor = await mint(['ViewBase', 'ManageTransformations']);
    expect((await tw.api('PATCH', path, { code: 'function handler(w) { return w; }' }, { token: editor })).status).toBe(204);
    expect((await tw.api('GET', path, undefined, { token: editor })).body).toMatchObject({ code: 'function handler(w) { return w; }', enabled: false });
  });

  it('simulate shows what would be sent, or why the attempt would fail, without sending', async () => {
    const { tw, appId } = await fixtures.setup();
    const receiver = await fixtures.receiver();
    await createEventTypes(tw, 'other');
    const ep = await createEndpoint(tw, appId, { url: `${receiver.url}/hook`, filterTypes: ['other'] });
    const msgId = await sendMessage(tw, appId, { eventType: 'invoice.paid', payload: { invoice: 'in_7', amount: 3 } });
    const simulate = (body: unknown) => tw.api('POST', `${transformationPath(appId, ep.id)}/simulate`, body);
    const ok = expectStatus(await simulate({ code: RESHAPE, msgId }), 200, 'simulate').body;
    expect(ok).toMatchObject({
      outcome: 'ok',
      method: 'POST',
      url: `${receiver.url}/chat`,
      headers: { 'X-Chat-Kind': 'invoice' },
      payload: { text: 'invoice.paid: invoice in_7 for 3' },
      body: '{"text":"invoice.paid: invoice in_7 for 3"}',
    });
    expect(expectStatus(await simulate({ code: 'function handler(w) { w.cancel = true; return w; }', payload: { a: 1 } }), 200, 'simulate').body).toMatchObject({ outcome: 'cancel' });
    expect(expectStatus(await simulate({ code: 'function handler(w) { return w.nope.x; }', payload: { a: 1 } }), 200, 'simulate').body).toMatchObject({
      outcome: 'error',
      error: expect.stringContaining('TypeError'),
    });
    expect((await simulate({ code: RESHAPE })).status).toBe(422);
    expect((await simulate({ payload: { a: 1 } })).status).toBe(422);
    expect((await simulate({ code: RESHAPE, msgId: 'msg_missing' })).status).toBe(404);
    // The saved code is used when none is given.
    await setTransformation(tw, appId, ep.id, { code: RESHAPE });
    expect(expectStatus(await simulate({ msgId }), 200, 'simulate').body).toMatchObject({ outcome: 'ok', url: `${receiver.url}/chat` });
    expect(receiver.requests).toHaveLength(0);
  });
});
