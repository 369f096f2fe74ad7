// The official `svix` npm client, unmodified, in both its majors (1.99.x and 2.x), against a real
// Tapwire server: every call a sender makes, the signed delivery verified with svix's own Webhook
// class, and our errors surfacing as ApiException with the right code and body. Where the majors
// differ (method names, field names, with_content defaults) test/helpers/svix-majors.ts says how.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNo5xx, guardedFetch } from './helpers/api-guard.js';
import { startReceiver, type Receiver, type ReceivedRequest } from './helpers/receiver.js';
import { SVIX_MAJORS } from './helpers/svix-majors.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';
import { backends } from './helpers/postgres.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let receiver: Receiver;

  beforeAll(async () => {
    tw = await startTapwire();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await tw?.close();
    await receiver?.close();
  });
  afterEach(() => expectNo5xx());

  /** Poll `read` until `check` accepts its value (the worker records attempts after the receiver answers). */
  async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (check(value)) return value;
      if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const headersOf = (req: ReceivedRequest): Record<string, string> =>
    Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));

  // svix 2.x declares Node >= 22 in its package.json; Tapwire supports Node 20. Every family of it is
  // run here on this Node: a call must reach the server (resolve, or reject with the server's answer
  // as ApiException), never fail inside the client on an API this Node lacks. Families Tapwire does
  // not serve answer 404, which is still the server answering.
  describe('svix 2.x on this Node version', () => {
    const v2 = SVIX_MAJORS.find((x) => x.major === 2)!.lib;

    it(`runs on Node ${process.versions.node}: every API family reaches the server`, async () => {
      const svix = new v2.Svix(ADMIN_TOKEN, { serverUrl: tw.url, fetch: guardedFetch });
      const app = await svix.application.create({ name: 'Node version check' });
      const calls: Record<string, () => Promise<unknown>> = {
        application: () => svix.application.list(),
        authentication: () => svix.authentication.streamLogout(),
        autoconfigSubscription: () => svix.autoconfigSubscription.rotate(app.id, 'auto_none', {}),
        backgroundTask: () => svix.backgroundTask.list(),
        connector: () => svix.connector.list(),
        destination: () => svix.destination.list(app.id),
        'destination.transformation': () => svix.destination.transformation.get(app.id, 'dest_none'),
        endpoint: () => svix.endpoint.list(app.id),
        'endpoint.transformation': () => svix.endpoint.transformation.get(app.id, 'ep_none'),
        environment: () => svix.environment.export(),
        eventType: () => svix.eventType.list(),
        health: () => svix.health.get(),
        'ingest.authentication': () => svix.ingest.authentication.consumerPortalAccess('src_none', {}),
        'ingest.endpoint': () => svix.ingest.endpoint.list('src_none'),
        'ingest.endpoint.transformation': () => svix.ingest.endpoint.transformation.get('src_none', 'ep_none'),
        'ingest.source': () => svix.ingest.source.list(),
        integration: () => svix.integration.list(app.id),
        message: () => svix.message.list(app.id),
        'message.poller': () => svix.message.poller.poll(app.id, 'sink_none'),
        messageAttempt: () => svix.messageAttempt.listByEndpoint(app.id, 'ep_none'),
        'operationalWebhook.endpoint': () => svix.operationalWebhook.endpoint.list(),
        statistics: () => svix.statistics.aggregateEventTypes(),
        'streaming.eventType': () => svix.streaming.eventType.list(),
        'streaming.events': () => svix.streaming.events.get('strm_none', 'sink_none'),
        'streaming.sink': () => svix.streaming.sink.list('strm_none'),
        'streaming.sink.transformation': () => svix.streaming.sink.transformation.get('strm_none', 'sink_none'),
        'streaming.stream': () => svix.streaming.stream.list(),
        streaming: () => svix.streaming.sinkHeadersGet('strm_none', 'sink_none'),
      };
      const brokeInClient: string[] = [];
      for (const [family, call] of Object.entries(calls)) {
        try {
          await call();
        } catch (error) {
          if (!(error instanceof v2.ApiException)) brokeInClient.push(`${family}: ${String(error)}`);
        }
      }
      expect(brokeInClient).toEqual([]);

      // The helpers that never touch the network: signing, verifying, raw messages, autoconfig tokens.
      const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
      const wh = new v2.Webhook(secret) as InstanceType<typeof v2.Webhook> & { sign(id: string, at: Date, body: string): string };
      const at = new Date();
      const signature = wh.sign('msg_x', at, '{"a":1}');
      expect(() => wh.verify('{"a":1}', { 'webhook-id': 'msg_x', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature })).not.toThrow();
      const raw = (v2 as unknown as { messageInRaw(t: string, p: string, c?: string): unknown }).messageInRaw('raw.type', 'a=1', 'text/plain');
      expect(raw).toEqual({ eventType: 'raw.type', payload: {}, transformationsParams: { rawPayload: 'a=1', headers: { 'content-type': 'text/plain' } } });
      const token = `auto_v2_${Buffer.from(JSON.stringify({ aid: app.id, sid: 'auto_none', surl: tw.url, esec: secret, tok: ADMIN_TOKEN })).toString('base64')}`;
      const AutoConfig = (v2 as unknown as { AutoConfig: new (token: string, endpoint: unknown) => { verify(p: string, h: Record<string, string>): unknown } }).AutoConfig;
      expect(() => new AutoConfig(token, { url: 'https://example.com/hook' }).verify('{"a":1}', { 'webhook-id': 'msg_x', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature })).not.toThrow();
      await svix.application.delete(app.id);
    });
  });

  describe.each(SVIX_MAJORS)('$label', (m) => {
    const { Svix, Webhook, ApiException, MessageStatus, AppPortalCapability } = m.lib;

    /** The error a svix call rejects with, asserted to be this major's ApiException. */
    async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof ApiException>> {
      const error = await promise.then(
        () => {
          throw new Error('expected the call to fail');
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ApiException);
      return error as InstanceType<typeof ApiException>;
    }

    describe.each([
      ['without a trailing slash', ''],
      ['with a trailing slash', '/'],
    ])('the official svix client, serverUrl %s', (_label, suffix) => {
      let svix: any;
      const tag = randomUUID().slice(0, 8);
      const appUid = `svix-app-${tag}`;
      const eventType = `invoice.paid.${tag}`;
      let appId: string;
      let endpointId: string;
      let secret: string;
      let msgId: string;

      /** The endpoint event-type filter and the rate, under the names this major sends. */
      const filter = (types: string[]): Record<string, string[]> => ({ [m.filterField]: types });
      const rate = (perSecond: number): Record<string, number> => ({ [m.rateField]: perSecond });
      /** What comes back: 1.x reads both names, 2.x only `throttleRate`. */
      const rateOut = (perSecond: number): Record<string, number> => (m.major === 1 ? { rateLimit: perSecond, throttleRate: perSecond } : { throttleRate: perSecond });
      /** Options that make `message.get` return the payload in both majors (2.x asks for none by default). */
      const withContent = m.contentByDefault ? undefined : { withContent: true };

      beforeAll(() => {
        svix = new Svix(ADMIN_TOKEN, { serverUrl: `${tw.url}${suffix}`, fetch: guardedFetch });
      });

      it('application: create, getOrCreate, get, list, update, patch', async () => {
        const created = await svix.application.create({ name: 'Svix client app', uid: appUid, metadata: { tier: 'gold' } });
        expect(created.id).toMatch(/^app_/);
        expect(created.uid).toBe(appUid);
        expect(created.createdAt).toBeInstanceOf(Date);
        expect(Number.isNaN(created.createdAt.getTime())).toBe(false);
        appId = created.id;

        const again = await svix.application.getOrCreate({ name: 'ignored', uid: appUid });
        expect(again.id).toBe(appId);
        const fresh = await svix.application.getOrCreate({ name: 'Fresh', uid: `${appUid}-2` });
        expect(fresh.id).not.toBe(appId);

        expect((await svix.application.get(appUid)).id).toBe(appId);
        expect((await svix.application.get(appId)).metadata).toEqual({ tier: 'gold' });

        const list = await svix.application.list({ limit: 250 });
        expect(list.data.map((a: any) => a.id)).toContain(appId);
        expect(list.done).toBe(true);
        const firstPage = await svix.application.list({ limit: 1 });
        expect(firstPage.data).toHaveLength(1);
        expect(firstPage.done).toBe(false);
        const secondPage = await svix.application.list({ limit: 1, iterator: firstPage.iterator! });
        expect(secondPage.data[0]!.id).not.toBe(firstPage.data[0]!.id);

        const updated = await svix.application[m.put](appId, { name: 'Renamed', uid: appUid, ...rate(20) });
        expect(updated).toMatchObject({ id: appId, name: 'Renamed', ...rateOut(20) });
        const patched = await svix.application.patch(appId, { metadata: { tier: 'silver' } });
        expect(patched).toMatchObject({ name: 'Renamed', metadata: { tier: 'silver' } });
      });

      it('eventType: create and list', async () => {
        const created = await svix.eventType.create({ name: eventType, description: 'An invoice was paid', schemas: { '1': { type: 'object', examples: [{ amount: 1 }] } } });
        expect(created).toMatchObject({ name: eventType, archived: false });
        const listed = await svix.eventType.list({ limit: 250, withContent: true });
        const mine = listed.data.find((t: any) => t.name === eventType);
        expect(mine?.schemas).toEqual({ '1': { type: 'object', examples: [{ amount: 1 }] } });
        const withoutContent = await svix.eventType.list({ limit: 250 });
        expect(withoutContent.data.find((t: any) => t.name === eventType)?.schemas).toBeNull();
      });

      it('endpoint: create with an event-type filter and channels, get, list, update, patch', async () => {
        const created = await svix.endpoint.create(appId, {
          url: `${receiver.url}/svix/${tag}`,
          description: 'main',
          ...filter([eventType]),
          channels: ['ch1', 'ch2'],
          uid: `ep-${tag}`,
        });
        expect(created.id).toMatch(/^ep_/);
        expect(created[m.filterField]).toEqual([eventType]);
        expect(created.channels).toEqual(['ch1', 'ch2']);
        if (m.major === 1) expect(created.version).toBe(1);
        endpointId = created.id;

        expect((await svix.endpoint.get(appId, `ep-${tag}`)).id).toBe(endpointId);
        const list = await svix.endpoint.list(appUid, { limit: 10 });
        expect(list.data.map((e: any) => e.id)).toEqual([endpointId]);

        const updated = await svix.endpoint[m.put](appId, endpointId, {
          url: `${receiver.url}/svix/${tag}`,
          description: 'updated',
          ...filter([eventType]),
          channels: ['ch1'],
          uid: `ep-${tag}`,
          ...rate(50),
        });
        expect(updated).toMatchObject({ id: endpointId, description: 'updated', channels: ['ch1'], ...rateOut(50), ...filter([eventType]) });
        const patched = await svix.endpoint.patch(appId, endpointId, { description: 'patched' });
        expect(patched).toMatchObject({ description: 'patched', channels: ['ch1'], ...filter([eventType]), ...rateOut(50) });
      });

      it('endpoint: getSecret, rotateSecret, headers get/update/patch, stats', async () => {
        const first = await svix.endpoint.getSecret(appId, endpointId);
        expect(first.key).toMatch(/^whsec_/);
        await svix.endpoint.rotateSecret(appId, endpointId, {});
        const second = await svix.endpoint.getSecret(appId, endpointId);
        expect(second.key).toMatch(/^whsec_/);
        expect(second.key).not.toBe(first.key);
        secret = second.key;

        await svix.endpoint[m.setHeaders](appId, endpointId, { headers: { 'X-Tenant': tag, 'X-Remove-Me': '1', Authorization: 'Bearer hidden' } });
        const headers = await svix.endpoint.getHeaders(appId, endpointId);
        expect(headers.headers).toEqual({ 'X-Tenant': tag, 'X-Remove-Me': '1' });
        expect(headers.sensitive).toEqual(['Authorization']);
        await svix.endpoint.patchHeaders(appId, endpointId, { headers: { 'X-Added': 'yes' }, deleteHeaders: ['X-Remove-Me'] });
        expect((await svix.endpoint.getHeaders(appId, endpointId)).headers).toEqual({ 'X-Tenant': tag, 'X-Added': 'yes' });

        const stats = await svix.endpoint.getStats(appId, endpointId);
        expect(stats).toEqual({ success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });
        const windowed = await svix.endpoint.getStats(appId, endpointId, { since: new Date(Date.now() - 3600_000), until: new Date() });
        expect(windowed.success).toBe(0);
      });

      it('message: create (with an auto idempotency-key), then a signed delivery that svix Webhook verifies', async () => {
        const seen: Record<string, string>[] = [];
        const spying = new Svix(ADMIN_TOKEN, {
          serverUrl: `${tw.url}${suffix}`,
          fetch: async (input: string | URL | Request, init?: RequestInit) => {
            seen.push({ ...(init?.headers as Record<string, string>), method: init?.method ?? 'GET', url: String(input) });
            return guardedFetch(input, init);
          },
        });
        const payload = { amount: 1234, currency: 'eur', nested: { ok: true } };
        const msg = await spying.message.create(appId, { eventType, payload, channels: ['ch1'], eventId: `evt-${tag}` });
        expect(msg.id).toMatch(/^msg_/);
        expect(msg.eventId).toBe(`evt-${tag}`);
        // 1.x fills the payload in from its own input; 2.x returns what the server sent for with_content=false.
        expect(msg.payload).toEqual(m.major === 1 ? payload : {});
        msgId = msg.id;
        const post = seen.find((s) => s.method === 'POST')!;
        expect(post['idempotency-key']).toMatch(/^auto_[0-9a-f-]{36}$/);
        expect(post.url).toContain('with_content=false');

        const [delivery] = (await receiver.waitFor((reqs) => reqs.some((r) => r.headers['webhook-id'] === msgId))).filter((r) => r.headers['webhook-id'] === msgId);
        expect(delivery!.method).toBe('POST');
        expect(delivery!.path).toBe(`/svix/${tag}`);
        expect(delivery!.headers['content-type']).toBe('application/json');
        // Default TAPWIRE_SIGNATURE_HEADERS=webhook: Standard Webhooks names only.
        expect(delivery!.headers['webhook-signature']).toMatch(/^v1,/);
        expect(delivery!.headers['svix-id']).toBeUndefined();
        expect(delivery!.headers['x-tenant']).toBe(tag);
        expect(delivery!.headers['authorization']).toBe('Bearer hidden');
        const body = delivery!.body.toString('utf8');
        expect(JSON.parse(body)).toEqual(payload);
        const verified = new Webhook(secret).verify(body, headersOf(delivery!));
        expect(verified).toEqual(m.verifyReturnsPayload ? payload : undefined);
        // A wrong secret or a tampered body does not verify.
        expect(() => new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(body, headersOf(delivery!))).toThrow();
        expect(() => new Webhook(secret).verify(body.replace('1234', '9999'), headersOf(delivery!))).toThrow();
      });

      it('message: a lost response retried by the client with the same key stores one message', async () => {
        let dropped = 0;
        const lossy = new Svix(ADMIN_TOKEN, {
          serverUrl: `${tw.url}${suffix}`,
          retryScheduleInMs: [10, 20],
          fetch: async (input: string | URL | Request, init?: RequestInit) => {
            const res = await guardedFetch(input, init);
            // The server did the work, but the client never sees the answer and retries.
            if (init?.method === 'POST' && String(input).includes('/msg') && dropped === 0) {
              dropped++;
              throw new TypeError('fetch failed (simulated lost response)');
            }
            return res;
          },
        });
        const before = await svix.message.list(appId, { limit: 250 });
        const msg = await lossy.message.create(appId, { eventType, payload: { retry: true }, channels: ['ch1'] });
        expect(dropped).toBe(1);
        const after = await svix.message.list(appId, { limit: 250 });
        expect(after.data.length).toBe(before.data.length + 1);
        expect(after.data[0]!.id).toBe(msg.id);
        await receiver.waitFor((reqs) => reqs.some((r) => r.headers['webhook-id'] === msg.id));
      });

      it('message: get and list', async () => {
        const got = await svix.message.get(appId, msgId, withContent);
        expect(got).toMatchObject({ id: msgId, eventType, channels: ['ch1'], payload: { amount: 1234, currency: 'eur', nested: { ok: true } } });
        expect(got.timestamp).toBeInstanceOf(Date);
        expect((await svix.message.get(appUid, `evt-${tag}`)).id).toBe(msgId);
        expect((await svix.message.get(appId, msgId, { withContent: false })).payload).toEqual({});
        // 2.x sends with_content=false unless asked: the payload stays home.
        if (!m.contentByDefault) expect((await svix.message.get(appId, msgId)).payload).toEqual({});
        const list = await svix.message.list(appId, { eventTypes: [eventType], channel: 'ch1', limit: 50 });
        expect(list.data.map((x: any) => x.id)).toContain(msgId);
        const none = await svix.message.list(appId, { eventTypes: ['some.other.type'] });
        expect(none.data).toEqual([]);
        const windowed = await svix.message.list(appId, { after: new Date(Date.now() - 60_000), before: new Date(Date.now() + 60_000) });
        expect(windowed.data.map((x: any) => x.id)).toContain(msgId);
      });

      it('messageAttempt: listByMsg, listByEndpoint, listAttemptedMessages, listAttemptedDestinations, get, resend', async () => {
        const byMsg = await eventually(
          () => svix.messageAttempt.listByMsg(appId, msgId),
          (page: any) => page.data.length > 0,
        );
        const attempt = byMsg.data[0]!;
        expect(attempt).toMatchObject({ msgId, endpointId, responseStatusCode: 200, status: MessageStatus.Success, url: `${receiver.url}/svix/${tag}` });
        expect(attempt.id).toMatch(/^atmpt_/);

        const byEndpoint = await svix.messageAttempt.listByEndpoint(appId, endpointId, { status: MessageStatus.Success });
        expect(byEndpoint.data.map((a: any) => a.id)).toContain(attempt.id);
        const filtered = await svix.messageAttempt.listByMsg(appId, msgId, { endpointId, statusCodeClass: 200 });
        expect(filtered.data.map((a: any) => a.id)).toContain(attempt.id);

        const attempted = await svix.messageAttempt.listAttemptedMessages(appId, endpointId);
        const entry = attempted.data.find((x: any) => x.id === msgId);
        expect(entry).toMatchObject({ eventType, status: MessageStatus.Success });

        const destinations = await svix.messageAttempt.listAttemptedDestinations(appId, msgId);
        expect(destinations.data).toHaveLength(1);
        expect(destinations.data[0]).toMatchObject({ id: endpointId, status: MessageStatus.Success });

        const one = await svix.messageAttempt.get(appId, msgId, attempt.id);
        expect(one).toMatchObject({ id: attempt.id, msgId, status: MessageStatus.Success });

        const deliveredBefore = receiver.requests.filter((r) => r.headers['webhook-id'] === msgId).length;
        await svix.messageAttempt.resend(appId, msgId, endpointId);
        const resent = await receiver.waitFor((reqs) => reqs.filter((r) => r.headers['webhook-id'] === msgId).length > deliveredBefore);
        const last = resent.filter((r) => r.headers['webhook-id'] === msgId).pop()!;
        expect(new Webhook(secret).verify(last.body.toString('utf8'), headersOf(last))).toEqual(m.verifyReturnsPayload ? { amount: 1234, currency: 'eur', nested: { ok: true } } : undefined);
        await eventually(
          () => svix.messageAttempt.listByMsg(appId, msgId),
          (page: any) => page.data.length >= 2,
        );
      });

      it('endpoint: recover and getStats after deliveries', async () => {
        const stats = await eventually(
          () => svix.endpoint.getStats(appId, endpointId),
          (s: any) => s.success >= 1,
        );
        expect(stats.fail).toBe(0);
        const recovered = await svix.endpoint.recover(appId, endpointId, { since: new Date(Date.now() - 3600_000) });
        expect(recovered.id).toMatch(/^qtask_/);
        expect(recovered.updatedAt).toBeInstanceOf(Date);
      });

      it('authentication.appPortalAccess mints a token that works on its own application only', async () => {
        const access = await svix.authentication.appPortalAccess(appId, {});
        expect(access.token).toEqual(expect.any(String));
        expect(access.url).toEqual(expect.any(String));
        const scoped = new Svix(access.token, { serverUrl: `${tw.url}${suffix}`, fetch: guardedFetch });
        expect((await scoped.endpoint.list(appId)).data.map((e: any) => e.id)).toEqual([endpointId]);
        expect((await scoped.application.get(appUid)).id).toBe(appId);
        const forbidden = await apiError(scoped.application.list());
        expect(forbidden.code).toBe(403);
        expect(forbidden.body).toMatchObject({ code: 'insufficient access' });
        const other = await svix.application.create({ name: 'Someone else' });
        const hidden = await apiError(scoped.endpoint.list(other.id));
        expect(hidden.code).toBe(404);
        await svix.application.delete(other.id);
      });

      it('authentication: a read-only or capability-limited portal token is held to it; logout and expireAll end tokens', async () => {
        const client = (token: string): any => new Svix(token, { serverUrl: `${tw.url}${suffix}`, fetch: guardedFetch });
        const readOnly = client((await svix.authentication.appPortalAccess(appId, { readOnly: true, capabilities: [AppPortalCapability.ViewBase] })).token);
        expect((await readOnly.endpoint.list(appId)).data.map((e: any) => e.id)).toEqual([endpointId]);
        const denied = await apiError(readOnly.endpoint.create(appId, { url: 'https://receiver.example/denied' }));
        expect(denied.code).toBe(403);
        expect(denied.body).toMatchObject({ code: 'insufficient access' });
        expect((await apiError(readOnly.endpoint.getSecret(appId, endpointId))).code).toBe(403);
        const secrets = client((await svix.authentication.appPortalAccess(appId, { capabilities: [AppPortalCapability.ViewBase, AppPortalCapability.ViewEndpointSecret] })).token);
        expect((await secrets.endpoint.getSecret(appId, endpointId)).key).toMatch(/^whsec_/);

        await readOnly.authentication.logout();
        expect((await apiError(readOnly.endpoint.list(appId))).code).toBe(401);
        expect((await secrets.endpoint.list(appId)).data).toHaveLength(1);
        await svix.authentication.expireAll(appId, {});
        expect((await apiError(secrets.endpoint.list(appId))).code).toBe(401);
      });

      it('surfaces 409, 422 and 404 as ApiException with the right code and body', async () => {
        const conflict = await apiError(svix.application.create({ name: 'dup', uid: appUid }));
        expect(conflict.code).toBe(409);
        expect(conflict.body).toMatchObject({ code: 'conflict', detail: expect.any(String) });

        const invalid = await apiError(svix.endpoint.create(appId, { url: 'ftp://example.com/' }));
        expect(invalid.code).toBe(422);
        expect(invalid.body.detail[0]).toMatchObject({ loc: ['body', 'url'], msg: expect.any(String), type: expect.any(String) });

        const badFilter = await apiError(svix.endpoint.create(appId, { url: `${receiver.url}/x`, ...filter(['no.such.type']) }));
        expect(badFilter.code).toBe(422);

        const missing = await apiError(svix.application.get(`missing-${tag}`));
        expect(missing.code).toBe(404);
        expect(missing.body).toMatchObject({ code: 'not_found' });

        const dupEvent = await apiError(svix.message.create(appId, { eventType, payload: {}, eventId: `evt-${tag}` }));
        expect(dupEvent.code).toBe(409);
        expect(dupEvent.body).toMatchObject({ code: 'conflict' });

        const unauthenticated = await apiError(new Svix('wrong-token', { serverUrl: tw.url, fetch: guardedFetch }).application.list());
        expect(unauthenticated.code).toBe(401);
        expect(unauthenticated.body).toMatchObject({ code: 'authentication_failed' });
      });

      it('endpoint.delete and application.delete', async () => {
        await svix.endpoint.delete(appId, endpointId);
        expect((await apiError(svix.endpoint.get(appId, endpointId))).code).toBe(404);
        await svix.application.delete(appUid);
        expect((await apiError(svix.application.get(appId))).code).toBe(404);
        await svix.application.delete(`${appUid}-2`);
      });
    });
  });
});
