// Bad input over real HTTP: every refusal has the right status and a JSON body of the Svix shape
// (`{code, detail}`, or 422 `{detail: [{loc, msg, type}]}`), nothing is stored by a refused
// request, and no request anywhere in this file answers 5xx.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectNo5xx, expectValidation, guardApi, type ApiFn, type ApiResult } from './helpers/api-guard.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';
import { backends } from './helpers/postgres.js';

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let app: any;
  let endpoint: any;
  let message: any;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
    app = (await api('POST', '/api/v1/app', { name: 'Main', uid: 'main-app' })).body;
    await api('POST', '/api/v1/event-type', { name: 'invoice.paid', description: 'paid' });
    endpoint = (await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/hook', uid: 'main-ep' })).body;
    message = (await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'invoice.paid', payload: { n: 1 }, eventId: 'evt-1' })).body;
    expect(app.id && endpoint.id && message.id).toBeTruthy();
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  /** Everything a refused request could have changed, read through the API. */
  async function snapshot(client: ApiFn = api): Promise<unknown> {
    const read = async (path: string) => {
      const res = await client('GET', path);
      expect(res.status, `${path}: ${res.text}`).toBe(200);
      return res.body;
    };
    return {
      apps: await read('/api/v1/app?limit=250'),
      endpoints: await read(`/api/v1/app/${app.id}/endpoint?limit=250`),
      endpoint: await read(`/api/v1/app/${app.id}/endpoint/${endpoint.id}`),
      secret: await read(`/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`),
      headers: await read(`/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`),
      messages: await read(`/api/v1/app/${app.id}/msg?limit=250`),
      eventTypes: await read('/api/v1/event-type?include_archived=true&with_content=true&limit=250'),
    };
  }

  /** Run `fn` and assert that the stored state is the same afterwards. */
  async function unchanged(fn: () => Promise<void>): Promise<void> {
    const before = await snapshot();
    await fn();
    expect(await snapshot()).toEqual(before);
  }

  async function rawFetch(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<ApiResult> {
    const res = await fetch(`${tw.url}${path}`, init);
    const text = await res.text();
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.status >= 500) throw new Error(`server error ${res.status}: ${text}`);
    return { status: res.status, body, text, headers: res.headers };
  }

  describe('malformed bodies', () => {
    it('malformed JSON → 422 value_error.jsondecode', async () => {
      await unchanged(async () => {
        for (const raw of ['{"name":', '{name: "x"}', "{'name':'x'}", '{"name":"x",}', 'nul', '{"name":"x"} trailing']) {
          expectValidation(await api('POST', '/api/v1/app', undefined, { raw }), ['body'], 'value_error.jsondecode');
        }
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, undefined, { raw: '{"eventType":"e","payload":{' }), ['body'], 'value_error.jsondecode');
        expectValidation(await api('PATCH', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, undefined, { raw: '[' }), ['body'], 'value_error.jsondecode');
      });
    });

    it('a body that is not UTF-8 → 422', async () => {
      await unchanged(async () => {
        const res = await rawFetch('/api/v1/app', {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
        });
        expectValidation(res, ['body'], 'value_error.jsondecode');
      });
    });

    it('an empty body on a POST that needs one → 422', async () => {
      await unchanged(async () => {
        expectValidation(await api('POST', '/api/v1/app', undefined, { raw: '' }), ['body']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`), ['body']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`), ['body']);
        expectValidation(await api('POST', '/api/v1/event-type'), ['body']);
        expectValidation(await api('PUT', `/api/v1/app/${app.id}`), ['body']);
      });
    });

    it('a body that is JSON but not an object → 422', async () => {
      await unchanged(async () => {
        for (const body of [[1], 'text', 42, null, true]) {
          expectValidation(await api('POST', '/api/v1/app', body), ['body']);
        }
      });
    });

    it('wrong types → 422 naming the field', async () => {
      await unchanged(async () => {
        expectValidation(await api('POST', '/api/v1/app', { name: 123 }), ['body', 'name'], 'type_error.string');
        expectValidation(await api('POST', '/api/v1/app', { name: 'x', metadata: { a: 1 } }), ['body', 'metadata', 'a']);
        expectValidation(await api('POST', '/api/v1/app', { name: 'x', throttleRate: 'fast' }), ['body', 'throttleRate']);
        expectValidation(await api('POST', '/api/v1/app', { name: 'x', throttleRate: 1.5 }), ['body', 'throttleRate']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 42 }), ['body', 'url']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/', filterTypes: 'invoice.paid' }), ['body', 'filterTypes']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/', disabled: 'yes' }), ['body', 'disabled']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 5, payload: {} }), ['body', 'eventType']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'e', payload: {}, channels: 'eu' }), ['body', 'channels']);
        expectValidation(await api('PUT', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`, { headers: { 'X-A': 1 } }), ['body', 'headers', 'X-A']);
        expectValidation(await api('POST', '/api/v1/event-type', { name: 'x.y', description: 'd', schemas: 'nope' }), ['body', 'schemas']);
      });
    });

    it('missing required fields → 422 value_error.missing', async () => {
      await unchanged(async () => {
        expectValidation(await api('POST', '/api/v1/app', {}), ['body', 'name'], 'value_error.missing');
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { description: 'no url' }), ['body', 'url'], 'value_error.missing');
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { payload: {} }), ['body', 'eventType'], 'value_error.missing');
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'e' }), ['body', 'payload'], 'value_error.missing');
        expectValidation(await api('POST', '/api/v1/event-type', { name: 'x.y' }), ['body', 'description'], 'value_error.missing');
        expectValidation(await api('PUT', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`, {}), ['body', 'headers'], 'value_error.missing');
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/recover`, {}), ['body', 'since'], 'value_error.missing');
      });
    });

    it('JSON nested absurdly deep → 422, and the application stays readable', async () => {
      await unchanged(async () => {
        const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, undefined, { raw: `{"eventType":"e","payload":${deep}}` }), ['body'], 'value_error.jsondecode');
        expectValidation(await api('POST', '/api/v1/event-type', undefined, { raw: `{"name":"deep","description":"d","schemas":{"1":${deep}}}` }), ['body']);
      });
      // Moderate nesting is fine.
      const ok = await api('POST', `/api/v1/app/${app.id}/msg`, undefined, { raw: `{"eventType":"e","payload":{"a":${'['.repeat(60)}${']'.repeat(60)}}}` });
      expect(ok.status).toBe(202);
    });

    it('a rawPayload that is deeply nested JSON text does not break reads', async () => {
      const text = `${'['.repeat(20000)}${']'.repeat(20000)}`;
      const res = await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'raw.deep', payload: {}, transformationsParams: { rawPayload: text } });
      expect(res.status).toBe(202);
      expect((await api('GET', `/api/v1/app/${app.id}/msg/${res.body.id}`)).status).toBe(200);
      expect((await api('GET', `/api/v1/app/${app.id}/msg?limit=250`)).status).toBe(200);
    });
  });

  describe('unknown ids and collisions', () => {
    it('unknown ids → 404 not_found everywhere', async () => {
      await unchanged(async () => {
        const paths: [string, string, unknown?][] = [
          ['GET', '/api/v1/app/app_2NqXn3JYzg6M0A1l8d6h7nZf3Qp'],
          ['GET', '/api/v1/app/no-such-uid'],
          ['PATCH', '/api/v1/app/no-such-uid', { name: 'x' }],
          ['DELETE', '/api/v1/app/no-such-uid'],
          ['GET', '/api/v1/app/no-such-uid/endpoint'],
          ['POST', '/api/v1/app/no-such-uid/endpoint', { url: 'http://127.0.0.1:9/' }],
          ['GET', `/api/v1/app/${app.id}/endpoint/ep_2NqXn3JYzg6M0A1l8d6h7nZf3Qp`],
          ['GET', `/api/v1/app/${app.id}/endpoint/nope/secret`],
          ['POST', `/api/v1/app/${app.id}/endpoint/nope/secret/rotate`, {}],
          ['GET', `/api/v1/app/${app.id}/endpoint/nope/headers`],
          ['PUT', `/api/v1/app/${app.id}/endpoint/nope/headers`, { headers: {} }],
          ['GET', `/api/v1/app/${app.id}/endpoint/nope/stats`],
          ['POST', `/api/v1/app/${app.id}/endpoint/nope/recover`, { since: new Date(Date.now() - 60_000).toISOString() }],
          ['GET', `/api/v1/app/${app.id}/msg/msg_2NqXn3JYzg6M0A1l8d6h7nZf3Qp`],
          ['GET', `/api/v1/app/${app.id}/msg/no-such-event`],
          ['DELETE', `/api/v1/app/${app.id}/msg/nope/content`],
          ['GET', `/api/v1/app/${app.id}/msg/nope/endpoint`],
          ['POST', `/api/v1/app/${app.id}/msg/${message.id}/endpoint/nope/resend`],
          ['POST', `/api/v1/app/${app.id}/msg/nope/endpoint/${endpoint.id}/resend`],
          ['GET', `/api/v1/app/${app.id}/attempt/msg/nope`],
          ['GET', `/api/v1/app/${app.id}/attempt/endpoint/nope`],
          ['GET', `/api/v1/app/${app.id}/msg/${message.id}/attempt/atmpt_2NqXn3JYzg6M0A1l8d6h7nZf3Qp`],
          ['GET', '/api/v1/event-type/no.such.type'],
          ['PATCH', '/api/v1/event-type/no.such.type', { description: 'x' }],
          ['DELETE', '/api/v1/event-type/no.such.type'],
          ['POST', '/api/v1/auth/app-portal-access/no-such-uid', {}],
        ];
        for (const [method, path, body] of paths) {
          const res = await api(method, path, body);
          expect(res.status, `${method} ${path}: ${res.text}`).toBe(404);
          expectError(res, 404, 'not_found');
        }
      });
    });

    it('an id or uid longer than any we accept → 404 JSON, not a router error', async () => {
      const long = 'u'.repeat(5000);
      expectError(await api('GET', `/api/v1/app/${long}`), 404, 'not_found');
      expectError(await api('GET', `/api/v1/app/${app.id}/endpoint/${long}`), 404, 'not_found');
    });

    it('a uid of the maximum length (256) works in paths', async () => {
      const uid = `u${'x'.repeat(255)}`;
      const created = await api('POST', '/api/v1/app', { name: 'Long uid', uid });
      expect(created.status).toBe(201);
      const got = await api('GET', `/api/v1/app/${uid}`);
      expect(got.status, got.text).toBe(200);
      expect(got.body.id).toBe(created.body.id);
      expect((await api('DELETE', `/api/v1/app/${uid}`)).status).toBe(204);
      expectValidation(await api('POST', '/api/v1/app', { name: 'Too long', uid: 'x'.repeat(257) }), ['body', 'uid']);
    });

    it('malformed percent-encoding in the path → 400 JSON', async () => {
      const res = await api('GET', '/api/v1/app/%E0%A4%A');
      expectError(res, 400, 'generic_error');
    });

    it('uid collisions → 409 conflict (apps, endpoints, PATCH onto a taken uid)', async () => {
      const other = (await api('POST', '/api/v1/app', { name: 'Other', uid: 'other-app' })).body;
      const otherEp = (await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/o', uid: 'other-ep' })).body;
      await unchanged(async () => {
        expectError(await api('POST', '/api/v1/app', { name: 'Dup', uid: 'main-app' }), 409, 'conflict');
        expectError(await api('PATCH', `/api/v1/app/${other.id}`, { uid: 'main-app' }), 409, 'conflict');
        expectError(await api('PUT', `/api/v1/app/${other.id}`, { name: 'Other', uid: 'main-app' }), 409, 'conflict');
        expectError(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/', uid: 'main-ep' }), 409, 'conflict');
        expectError(await api('PATCH', `/api/v1/app/${app.id}/endpoint/${otherEp.id}`, { uid: 'main-ep' }), 409, 'conflict');
        expectError(await api('POST', '/api/v1/event-type', { name: 'invoice.paid', description: 'again' }), 409, 'conflict');
      });
    });

    it('a uid shaped like one of our ids → 422', async () => {
      await unchanged(async () => {
        expectValidation(await api('POST', '/api/v1/app', { name: 'x', uid: 'app_mine' }), ['body', 'uid']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/', uid: 'ep_mine' }), ['body', 'uid']);
        expectValidation(await api('POST', '/api/v1/app', { name: 'x', uid: 'has space' }), ['body', 'uid']);
      });
    });

    it('a reused eventId → 409 conflict and no second message', async () => {
      await unchanged(async () => {
        expectError(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'invoice.paid', payload: { n: 2 }, eventId: 'evt-1' }), 409, 'conflict');
      });
    });
  });

  describe('message payloads', () => {
    it('a payload that is not an object → 422', async () => {
      await unchanged(async () => {
        for (const payload of [[1], 'x', 1, null, false]) {
          expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'e', payload }), ['body', 'payload']);
        }
      });
    });

    describe('with TAPWIRE_MAX_PAYLOAD_BYTES=1000', () => {
      let small: TestTapwire;
      let sapi: ApiFn;
      let smallApp: any;
      beforeAll(async () => {
        small = await startTapwire({ TAPWIRE_MAX_PAYLOAD_BYTES: '1000' });
        sapi = guardApi(small);
        smallApp = (await sapi('POST', '/api/v1/app', { name: 'Small' })).body;
      });
      afterAll(async () => {
        await small?.close();
      });
      const count = async () => (await sapi('GET', `/api/v1/app/${smallApp.id}/msg?limit=250`)).body.data.length;

      it('accepts a payload at the limit and refuses one over it with 413 payload_too_large', async () => {
        const atLimit = `{"x":"${'a'.repeat(1000 - 8)}"}`;
        expect(Buffer.byteLength(atLimit)).toBe(1000);
        const ok = await sapi('POST', `/api/v1/app/${smallApp.id}/msg`, undefined, { raw: `{"eventType":"e","payload":${atLimit}}` });
        expect(ok.status).toBe(202);
        const before = await count();
        const over = await sapi('POST', `/api/v1/app/${smallApp.id}/msg`, { eventType: 'e', payload: { x: 'a'.repeat(1000) } });
        expectError(over, 413, 'payload_too_large');
        expect(over.body.detail).toContain('TAPWIRE_MAX_PAYLOAD_BYTES');
        // Multi-byte characters count as bytes, not characters.
        const wide = await sapi('POST', `/api/v1/app/${smallApp.id}/msg`, { eventType: 'e', payload: { x: 'é'.repeat(600) } });
        expectError(wide, 413, 'payload_too_large');
        expect(await count()).toBe(before);
      });

      it('answers a body far bigger than the limit with 413 JSON too', async () => {
        const before = await count();
        const huge = await sapi('POST', `/api/v1/app/${smallApp.id}/msg`, { eventType: 'e', payload: { x: 'a'.repeat(4 * 1024 * 1024) } });
        expectError(huge, 413, 'payload_too_large');
        expect(await count()).toBe(before);
      });
    });
  });

  describe('endpoint URLs and secrets', () => {
    it('refuses invalid URLs, non-http schemes and private addresses (422 naming TAPWIRE_ALLOWED_NETWORKS)', async () => {
      await unchanged(async () => {
        for (const url of ['not a url', '', 'ftp://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'http://user:pw@example.com/']) {
          expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url }), ['body', 'url']);
        }
        for (const url of ['http://10.0.0.1/', 'http://192.168.1.1/', 'http://[fc00::1]/', 'http://169.254.169.254/latest/meta-data']) {
          const res = await api('POST', `/api/v1/app/${app.id}/endpoint`, { url });
          const [issue] = expectValidation(res, ['body', 'url']);
          if (!url.includes('169.254')) expect(issue!.msg).toContain('TAPWIRE_ALLOWED_NETWORKS');
        }
        // The same checks guard PATCH and PUT.
        expectValidation(await api('PATCH', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { url: 'http://10.0.0.1/' }), ['body', 'url']);
        expectValidation(await api('PUT', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { url: 'ftp://example.com/' }), ['body', 'url']);
      });
    });

    it('refuses http:// when TAPWIRE_HTTPS_ONLY=true', async () => {
      const strict = await startTapwire({ TAPWIRE_HTTPS_ONLY: 'true' });
      const sapi = guardApi(strict);
      try {
        const own = (await sapi('POST', '/api/v1/app', { name: 'Strict' })).body;
        const [issue] = expectValidation(await sapi('POST', `/api/v1/app/${own.id}/endpoint`, { url: 'http://127.0.0.1:9/' }), ['body', 'url']);
        expect(issue!.msg).toMatch(/https/);
        expect((await sapi('GET', `/api/v1/app/${own.id}/endpoint`)).body.data).toEqual([]);
        expect((await sapi('POST', `/api/v1/app/${own.id}/endpoint`, { url: 'https://127.0.0.1:9/' })).status).toBe(201);
      } finally {
        await strict.close();
      }
    });

    it('refuses a malformed whsec_ secret (422) on create, patch and rotate', async () => {
      await unchanged(async () => {
        for (const secret of ['whsec_', 'whsec_%%%%', 'nope', `whsec_${Buffer.alloc(10).toString('base64')}`, `whsec_${Buffer.alloc(100).toString('base64')}`]) {
          expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/', secret }), ['body', 'secret']);
          expectValidation(await api('PATCH', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { secret }), ['body', 'secret']);
          expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret/rotate`, { key: secret }), ['body', 'key']);
        }
      });
    });

    it('refuses an event type name with illegal characters', async () => {
      await unchanged(async () => {
        for (const name of ['a b', 'a/b', 'a:b', 'ünï', 'a*']) {
          expectValidation(await api('POST', '/api/v1/event-type', { name, description: 'x' }), ['body', 'name']);
          expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: name, payload: {} }), ['body', 'eventType']);
        }
      });
    });
  });

  describe('text no database can hold', () => {
    it('refuses the NUL character (PostgreSQL text cannot store it) in descriptions, URLs and rawPayload with 422', async () => {
      await api('POST', '/api/v1/event-type', { name: 'nul.check', description: 'before' });
      await unchanged(async () => {
        const nul = 'a\u0000b';
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/', description: nul }), ['body', 'description']);
        expectValidation(await api('PATCH', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { description: nul }), ['body', 'description']);
        expectValidation(await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: `http://127.0.0.1:9/${nul}` }), ['body', 'url']);
        expectValidation(await api('PUT', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { url: `http://127.0.0.1:9/?q=${nul}` }), ['body', 'url']);
        expectValidation(await api('POST', '/api/v1/event-type', { name: 'nul.type', description: nul }), ['body', 'description']);
        expectValidation(await api('PUT', '/api/v1/event-type/nul.check', { description: nul }), ['body', 'description']);
        expectValidation(await api('PATCH', '/api/v1/event-type/nul.check', { description: nul }), ['body', 'description']);
        const raw = { eventType: 'e', payload: {}, transformationsParams: { rawPayload: nul } };
        expectValidation(await api('POST', `/api/v1/app/${app.id}/msg`, raw), ['body', 'transformationsParams', 'rawPayload']);
      });
      // An escaped \u0000 inside a JSON payload or metadata is just six characters of JSON text: kept as sent.
      const msg = await api('POST', `/api/v1/app/${app.id}/msg`, undefined, { raw: '{"eventType":"e","payload":{"a":"\\u0000"}}' });
      expect(msg.status, msg.text).toBe(202);
      expect((await api('GET', `/api/v1/app/${app.id}/msg/${msg.body.id}`)).body.payload).toEqual({ a: '\u0000' });
      const meta = await api('PATCH', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { metadata: { k: '\u0000' } });
      expect(meta.status, meta.text).toBe(200);
      expect(meta.body.metadata).toEqual({ k: '\u0000' });
      expect((await api('PATCH', `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { metadata: {} })).status).toBe(200);
    });
  });

  describe('query strings', () => {
    it('limit over 250 → 422 at ["query","limit"]; malformed iterator → 422', async () => {
      for (const path of ['/api/v1/app', `/api/v1/app/${app.id}/endpoint`, `/api/v1/app/${app.id}/msg`, '/api/v1/event-type', `/api/v1/app/${app.id}/attempt/endpoint/${endpoint.id}`]) {
        expectValidation(await api('GET', `${path}?limit=251`), ['query', 'limit']);
        expectValidation(await api('GET', `${path}?limit=-1`), ['query', 'limit']);
        expectValidation(await api('GET', `${path}?limit=99999999999999999999999`), ['query', 'limit']);
        expectValidation(await api('GET', `${path}?iterator=${encodeURIComponent('bad iterator!')}`), ['query', 'iterator']);
      }
      expectValidation(await api('GET', `/api/v1/app?iterator=-`), ['query', 'iterator']);
      expectValidation(await api('GET', `/api/v1/app/${app.id}/msg?iterator=app_2NqXn3JYzg6M0A1l8d6h7nZf3Qp`), ['query', 'iterator']);
      expectValidation(await api('GET', `/api/v1/app/${app.id}/msg?with_content=maybe`), ['query', 'with_content']);
      expectValidation(await api('GET', `/api/v1/app/${app.id}/attempt/endpoint/${endpoint.id}?status=9`), ['query', 'status']);
      expectValidation(await api('GET', `/api/v1/app/${app.id}/attempt/endpoint/${endpoint.id}?status_code_class=250`), ['query', 'status_code_class']);
    });
  });

  describe('authentication and access', () => {
    it('a missing, wrong or malformed token → 401 authentication_failed', async () => {
      expectError(await api('GET', '/api/v1/app', undefined, { token: null }), 401, 'authentication_failed');
      expectError(await api('GET', '/api/v1/app', undefined, { token: 'tw_admin_wrong' }), 401, 'authentication_failed');
      expectError(await api('GET', '/api/v1/app', undefined, { token: `${ADMIN_TOKEN}x` }), 401, 'authentication_failed');
      for (const authorization of ['Basic dXNlcjpwdw==', 'Bearer', 'Bearer ', `Token ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN} extra`, ADMIN_TOKEN]) {
        expectError(await api('GET', '/api/v1/app', undefined, { token: null, headers: { authorization } }), 401, 'authentication_failed');
      }
      // Writes are refused before anything is stored.
      await unchanged(async () => {
        expectError(await api('POST', '/api/v1/app', { name: 'Sneaky' }, { token: null }), 401, 'authentication_failed');
        expectError(await api('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'e', payload: {} }, { token: 'nope' }), 401, 'authentication_failed');
        expectError(await api('DELETE', `/api/v1/app/${app.id}`, undefined, { token: 'nope' }), 401, 'authentication_failed');
      });
    });

    describe('app-scoped tokens', () => {
      let token: string;
      let other: any;
      beforeAll(async () => {
        other = (await api('POST', '/api/v1/app', { name: 'Another tenant', uid: 'tenant-b' })).body;
        await api('POST', `/api/v1/app/${other.id}/endpoint`, { url: 'http://127.0.0.1:9/b' });
        const minted = await api('POST', `/api/v1/auth/app-portal-access/${app.id}`, {});
        expect(minted.status).toBe(200);
        expect(minted.body).toEqual({ url: expect.any(String), token: expect.any(String) });
        expect(minted.body.token).not.toContain('.');
        token = minted.body.token;
        // The body is optional (every field of AppPortalAccessIn is).
        const bare = await api('POST', `/api/v1/auth/app-portal-access/${app.uid}`);
        expect(bare.status).toBe(200);
        expect(bare.body.token).not.toBe(token);
      });

      it('work on their own application and its endpoints', async () => {
        const as = { token };
        expect((await api('GET', `/api/v1/app/${app.id}`, undefined, as)).status).toBe(200);
        expect((await api('GET', `/api/v1/app/main-app/endpoint`, undefined, as)).status).toBe(200);
        const created = await api('POST', `/api/v1/app/${app.id}/endpoint`, { url: 'http://127.0.0.1:9/mine' }, as);
        expect(created.status).toBe(201);
        expect((await api('GET', `/api/v1/app/${app.id}/endpoint/${created.body.id}/secret`, undefined, as)).status).toBe(200);
        expect((await api('PUT', `/api/v1/app/${app.id}/endpoint/${created.body.id}/headers`, { headers: { 'X-A': '1' } }, as)).status).toBe(204);
        expect((await api('GET', `/api/v1/app/${app.id}/msg`, undefined, as)).status).toBe(200);
        expect((await api('GET', `/api/v1/app/${app.id}/attempt/msg/${message.id}`, undefined, as)).status).toBe(200);
        expect((await api('DELETE', `/api/v1/app/${app.id}/endpoint/${created.body.id}`, undefined, as)).status).toBe(204);
      });

      it('see another application as missing (404)', async () => {
        const as = { token };
        const before = await snapshotOther();
        for (const [method, path, body] of [
          ['GET', `/api/v1/app/${other.id}`],
          ['GET', `/api/v1/app/tenant-b`],
          ['GET', `/api/v1/app/${other.id}/endpoint`],
          ['POST', `/api/v1/app/${other.id}/endpoint`, { url: 'http://127.0.0.1:9/x' }],
          ['GET', `/api/v1/app/${other.id}/msg`],
          ['GET', `/api/v1/app/no-such-app/endpoint`],
        ] as [string, string, unknown?][]) {
          expectError(await api(method, path, body, as), 404, 'not_found');
        }
        expect(await snapshotOther()).toEqual(before);
      });

      it('are refused org-level routes with 403 insufficient access', async () => {
        const as = { token };
        await unchanged(async () => {
          for (const [method, path, body] of [
            ['POST', '/api/v1/app', { name: 'x' }],
            ['GET', '/api/v1/app'],
            ['POST', `/api/v1/app/${app.id}/msg`, { eventType: 'e', payload: {} }],
            ['POST', '/api/v1/event-type', { name: 'from.app', description: 'x' }],
            ['PUT', `/api/v1/app/${app.id}`, { name: 'x' }],
            ['DELETE', `/api/v1/app/${app.id}`],
            ['POST', `/api/v1/auth/app-portal-access/${app.id}`, {}],
          ] as [string, string, unknown?][]) {
            expectError(await api(method, path, body, as), 403, 'insufficient access');
          }
        });
      });

      async function snapshotOther(): Promise<unknown> {
        return {
          app: (await api('GET', `/api/v1/app/${other.id}`)).body,
          endpoints: (await api('GET', `/api/v1/app/${other.id}/endpoint`)).body,
        };
      }
    });
  });

  describe('routing', () => {
    it('an unknown route or method → 404 JSON', async () => {
      expectError(await api('GET', '/api/v1/nope'), 404, 'not_found');
      // GET / is the dashboard now; other methods on it, and paths outside the API, are not routes.
      expectError(await api('POST', '/', {}), 404, 'not_found');
      expectError(await api('GET', '/nope'), 404, 'not_found');
      expectError(await api('POST', '/api/v1/app/x/y/z', {}), 404, 'not_found');
      expectError(await api('DELETE', '/api/v1/app'), 404, 'not_found');
      expectError(await api('GET', '/api/v2/app'), 404, 'not_found');
    });

    it('tolerates a trailing slash and a leading double slash', async () => {
      const list = await api('GET', '/api/v1/app');
      const trailing = await api('GET', '/api/v1/app/');
      const dbl = await api('GET', '//api/v1/app');
      expect(trailing.status).toBe(200);
      expect(dbl.status).toBe(200);
      expect(trailing.body).toEqual(list.body);
      expect(dbl.body).toEqual(list.body);
      expect((await api('GET', `//api/v1/app/${app.id}/`)).body.id).toBe(app.id);
      const created = await api('POST', '//api/v1/app/', { name: 'Slashes' });
      expect(created.status).toBe(201);
      expect((await api('DELETE', `//api/v1/app/${created.body.id}`)).status).toBe(204);
    });
  });

  describe('seeded fuzz over every documented operation', () => {
    it('never answers 5xx, and every answer with a body is JSON of the Svix shape', async () => {
      const fz = await startTapwire();
      const fapi = guardApi(fz);
      try {
        const fapp = (await fapi('POST', '/api/v1/app', { name: 'Fuzz', uid: 'fuzz-app' })).body;
        await fapi('POST', '/api/v1/event-type', { name: 'fuzz.type', description: 'd', schemas: { '1': { examples: [{ a: 1 }] } } });
        const fep = (await fapi('POST', `/api/v1/app/${fapp.id}/endpoint`, { url: 'http://127.0.0.1:9/', uid: 'fuzz-ep' })).body;
        const fmsg = (await fapi('POST', `/api/v1/app/${fapp.id}/msg`, { eventType: 'fuzz.type', payload: {}, eventId: 'fuzz-evt' })).body;
        const fdoc = (await fapi('GET', '/api/v1/openapi.json')).body;

        // A small deterministic PRNG, so a failure reproduces.
        let seed = 20240601;
        const rnd = (): number => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed / 0x7fffffff;
        };
        const pick = <T,>(items: T[]): T => items[Math.floor(rnd() * items.length)]!;
        const strings = ['', ' ', 'a', 'x'.repeat(300), '\u0000', '💥', 'http://127.0.0.1:9/', 'ftp://x/', 'whsec_abc', '-1', 'null', '../..', '%', '{}',
          'app_2NqXn3JYzg6M0A1l8d6h7nZf3Qp', '2024-01-01T00:00:00Z', 'fuzz.type', '__proto__', 'constructor', 'content-length', 'a\r\nb'];
        const keys = ['name', 'uid', 'url', 'payload', 'data', 'eventType', 'eventId', 'headers', 'deleteHeaders', 'filterTypes', 'eventTypes', 'channels',
          'secret', 'key', 'since', 'until', 'metadata', 'throttleRate', 'rateLimit', 'description', 'schemas', 'application', 'gracePeriodSeconds', 'expiry',
          'transformationsParams', 'rawPayload', 'version', 'disabled', 'archived', 'featureFlag', 'payloadRetentionPeriod', 'X-A'];
        const value = (depth: number): unknown => {
          const r = rnd();
          if (depth > 3 || r < 0.3) return pick(strings);
          if (r < 0.4) return pick([0, -1, 1.5, 1e308, 2 ** 53 + 1, 65536, 7]);
          if (r < 0.5) return pick([true, false, null]);
          if (r < 0.65) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
          const o: Record<string, unknown> = {};
          for (let i = 0; i < rnd() * 4; i++) o[pick(keys)] = value(depth + 1);
          return o;
        };
        const bodyFor = (schema: any): unknown => {
          if (rnd() < 0.1) return value(0);
          const o: Record<string, unknown> = {};
          for (const key of Object.keys(schema?.properties ?? {})) if (rnd() < 0.7) o[key] = rnd() < 0.5 ? pick(strings) : value(1);
          return o;
        };
        const params: Record<string, string[]> = {
          app_id: [fapp.id, 'fuzz-app', 'nope', 'x'.repeat(300)],
          endpoint_id: [fep.id, 'fuzz-ep', 'nope'],
          msg_id: [fmsg.id, 'fuzz-evt', 'nope'],
          attempt_id: ['atmpt_x', 'nope'],
          event_type_name: ['fuzz.type', 'nope', 'a b'],
        };
        const queries = ['', '?limit=0', '?limit=1&iterator=-', '?with_content=false', '?before=2024-01-01T00:00:00Z&after=2030-01-01T00:00:00Z',
          '?event_types=a,b&channel=c', '?status=4', '?status_code_class=0', '?since=2020-01-01T00:00:00Z', '?until=2020-01-01T00:00:00Z',
          '?get_if_exists=true', '?include_archived=true&with_content=true', '?iterator=msg_0000000000000000000000000000', '?endpoint_id=nope', '?order=x'];

        let sent = 0;
        for (let round = 0; round < 15; round++) {
          for (const [path, item] of Object.entries<any>(fdoc.paths)) {
            for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
              const op = item[method];
              if (!op) continue;
              // Keep the fixtures alive: fuzz everything but deleting the app or the endpoint.
              if (method === 'delete' && (path === '/api/v1/app/{app_id}' || path.endsWith('/endpoint/{endpoint_id}'))) continue;
              const real = path.replace(/\{(\w+)\}/g, (_m: string, name: string) => encodeURIComponent(pick(params[name] ?? ['x'])));
              const ref: string | undefined = op.requestBody?.content['application/json'].schema.$ref;
              const body = method === 'get' ? undefined : ref ? bodyFor(fdoc.components.schemas[ref.split('/').pop()!]) : rnd() < 0.3 ? value(0) : undefined;
              const res = await fapi(method.toUpperCase(), real + pick(queries), body); // throws on 5xx
              sent++;
              if (res.status === 204) continue;
              // Routes documented as text (GET /metrics) answer text on success, JSON errors otherwise.
              if (res.status < 300 && !op.responses?.[String(res.status)]?.content?.['application/json']) continue;
              expect(res.headers.get('content-type'), `${method} ${real}`).toMatch(/^application\/json/);
              if (res.status >= 400 && res.status !== 422) expect(res.body, `${method} ${real}`).toEqual({ code: expect.any(String), detail: expect.any(String) });
              if (res.status === 422) expect(Array.isArray(res.body.detail), `${method} ${real}`).toBe(true);
            }
          }
        }
        expect(sent).toBeGreaterThan(400);
        // The server is still healthy afterwards.
        expect((await fapi('GET', '/api/v1/health', undefined, { token: null })).status).toBe(200);
      } finally {
        await fz.close();
      }
    });
  });
});
