// Fuzzing suite (issue 8): property-based requests (fast-check) to every operation of the OpenAPI
// document with random and adversarial path parameters, query strings, headers and bodies: huge
// strings, deep nesting, unicode, NUL bytes, numbers at the limits, duplicate keys, wrong content
// types. Invariants: never a 5xx, the process stays up, every error is JSON of the documented shape
// (docs/errors.md), and a rejected request changes nothing that was stored. Unauthenticated garbage
// to every route that needs a token answers 401, whatever the body (it is never read). Fixed seed by default
// (TAPWIRE_CHAOS_SEED replays another); short run 250 cases per backend, full run 4000.
import fc from 'fast-check';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, createEndpoint, eventually, expectStatus, sendMessage } from '../helpers/delivery.js';
import { backends } from '../helpers/postgres.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from '../helpers/tapwire.js';
import { contractViolation, documentedRoutes, encodeSegment, fillPath, rawRequest, type DocumentedRoute } from './api-routes.js';
import { chaosSeed, chaosSize, reportFigures } from './chaos.js';

const NUM_RUNS = Number(process.env.TAPWIRE_CHAOS_FUZZ_RUNS ?? chaosSize(250, 4_000));
/** Small, so bodies past the limit (payload + 64 KiB, server.ts bodyLimit) stay cheap to send. */
const MAX_PAYLOAD_BYTES = 4_096;
const BODY_LIMIT = MAX_PAYLOAD_BYTES + 64 * 1024;

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let dispatcher: Agent;
  let routes: DocumentedRoute[];
  const ids: Record<string, string[]> = {};
  let appToken = '';

  beforeAll(async () => {
    // The full run sends thousands of cases with one app token within a minute: no per-token rate
    // limit (test/api-rate-limit.test.ts), or late cases would get 429 instead of the answer under test.
    tw = await startTapwire({ TAPWIRE_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES), TAPWIRE_RETRY_SCHEDULE: 'none', TAPWIRE_REQUEST_TIMEOUT: '200ms', TAPWIRE_APP_RATE_LIMIT: 'off' });
    dispatcher = new Agent({ connections: 4 });
    // Fixtures whose ids and uids the path parameters draw from, among junk.
    expectStatus(await tw.api('POST', '/api/v1/event-type', { name: 'fuzz.type', description: 'd', schemas: { '1': { examples: [{ a: 1 }] } } }), 201, 'event type');
    const appId = await createApp(tw, 'Fuzz');
    expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}`, { uid: 'fuzz-app' }), 200, 'app uid');
    const other = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Other', uid: 'fuzz-other' }), 201, 'other app').body.id as string;
    const endpoint = await createEndpoint(tw, appId, { url: 'http://127.0.0.1:9/closed', uid: 'fuzz-ep' });
    const msgId = await sendMessage(tw, appId, { raw: JSON.stringify({ eventType: 'fuzz.type', payload: { a: 1 }, eventId: 'fuzz-evt' }) });
    const attempts = await eventually(
      async () => expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/msg/${msgId}`), 200, 'attempts').body.data as any[],
      (data) => data.length > 0,
      { what: 'a first attempt' },
    );
    const task = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint/${endpoint.id}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() }), 202, 'recover').body.id as string;
    appToken = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, {}), 200, 'app token').body.token as string;
    Object.assign(ids, {
      app_id: [appId, 'fuzz-app', other, 'fuzz-other'],
      endpoint_id: [endpoint.id, 'fuzz-ep'],
      msg_id: [msgId, 'fuzz-evt'],
      attempt_id: [attempts[0].id],
      event_type_name: ['fuzz.type'],
      task_id: [task],
    });
    routes = (await documentedRoutes(tw.url))
      // Keep the fixtures alive: deleting the application or the endpoint would turn the rest into 404s.
      .filter((r) => !(r.method === 'DELETE' && (r.template === '/api/v1/app/{app_id}' || r.template.endsWith('/endpoint/{endpoint_id}'))));
  });
  afterAll(async () => {
    await dispatcher?.close();
    await tw?.close();
  });

  /** Everything a request could change, read through the API (attempts left out: the worker adds those). */
  async function snapshot(): Promise<string> {
    const [appId] = ids.app_id!;
    const paths = [
      '/api/v1/app?limit=250',
      `/api/v1/app/${appId}/endpoint?limit=250`,
      `/api/v1/app/${ids.app_id![2]}/endpoint?limit=250`,
      `/api/v1/app/${appId}/endpoint/${ids.endpoint_id![0]}/secret`,
      `/api/v1/app/${appId}/endpoint/${ids.endpoint_id![0]}/headers`,
      `/api/v1/app/${appId}/msg?limit=250`,
      '/api/v1/event-type?include_archived=true&with_content=true&limit=250',
      '/api/v1/background-task?limit=250',
    ];
    const parts = await Promise.all(paths.map(async (path) => {
      const res = await tw.api('GET', path);
      return `${path} ${res.status} ${res.text}`;
    }));
    return parts.join('\n');
  }

  it(`answers ${NUM_RUNS} adversarial requests over every documented route without a 5xx, in the documented error shape, changing nothing it refused`, async () => {
    const seed = chaosSeed(`fuzz/${backend}`, backend === 'sqlite' ? 8301 : 8302);
    const HUGE = '<a body of BODY_LIMIT + 1 bytes>';
    const hugeText = `{"name":"${'x'.repeat(BODY_LIMIT)}"}`;

    // Strings a stranger might send: unicode of every plane, NUL and control bytes, look-alikes of our ids.
    const nasty = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '%00', '..', '../..', '💥', '\uD800', 'ǅ', 'Ω'.repeat(300), 'x'.repeat(2_000), '__proto__', 'constructor',
        'app_2NqXn3JYzg6M0A1l8d6h7nZf3Qp', 'msg_', '-', '-msg_0', 'http://127.0.0.1:9/', 'http://169.254.169.254/', 'whsec_AAAA', 'null', 'true', '1e999', '-0',
        '2024-02-30T25:61:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', 'fuzz.type', 'a\r\nb: c'),
    );
    // Numbers at the limits, as JSON text (1e400 parses to Infinity; 2^53+1 loses precision).
    const numberText = fc.constantFrom('0', '-0', '1', '-1', '1.5', '1e400', '-1e400', '9007199254740993', '1e-400', '2147483648', '65536', '250', '251', '0.0', '1E2', '123456789012345678901234567890');
    const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        numberText,
        nasty.map((s) => JSON.stringify(s)),
        fc.constantFrom('true', 'false', 'null'),
        fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
        fc.array(fc.tuple(fc.oneof(nasty, fc.constantFrom('name', 'uid', 'url', 'payload', 'eventType', 'headers', 'since', 'key')), tie('value')), { maxLength: 4 })
          .map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
      ),
    })).value;

    /** A body for `route`: its own fields filled adversarially, or something else entirely. */
    const bodyFor = (route: DocumentedRoute): fc.Arbitrary<{ text: string | undefined; kind: string }> => {
      const fields = Object.keys(route.bodyFields);
      const schemaShaped = fc
        .array(fc.tuple(fc.constantFrom(...(fields.length > 0 ? fields : ['x'])), jsonText), { maxLength: Math.max(1, fields.length + 2) })
        .map((pairs) => ({ text: `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`, kind: 'schema-shaped' }));
      return fc.oneof(
        { weight: 5, arbitrary: schemaShaped },
        { weight: 2, arbitrary: jsonText.map((text) => ({ text, kind: 'any json' })) },
        { weight: 1, arbitrary: fc.constant({ text: undefined, kind: 'none' }) },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            { text: '{', kind: 'invalid json' },
            { text: '{"name":"a","name":1,"uid":"d","uid":"d"}', kind: 'duplicate keys' },
            { text: '{"eventType":"fuzz.type","payload":{"a":1},"payload":"s"}', kind: 'duplicate keys' },
            { text: '{"eventType":"fuzz.type","payload":"s","payload":{"a":1},"eventId":"dup-key"}', kind: 'duplicate keys' },
            { text: `${'['.repeat(5_000)}${']'.repeat(5_000)}`, kind: 'deep nesting' },
            { text: `{"payload":${'{"a":'.repeat(200)}1${'}'.repeat(200)},"eventType":"fuzz.type"}`, kind: 'deep nesting' },
            { text: '{"name":"a\u0000b","description":"\u0000"}', kind: 'nul' },
            { text: '{"name":"a\\u0000b","url":"http://127.0.0.1:9/\\u0000"}', kind: 'nul' },
            { text: '\uFEFF{"name":"bom"}', kind: 'bom' },
            { text: HUGE, kind: 'huge' }, // expanded when sent, so a failure report stays short
            { text: JSON.stringify({ eventType: 'fuzz.type', payload: { big: 'y'.repeat(MAX_PAYLOAD_BYTES) } }), kind: 'payload over the limit' },
            { text: 'name=a&uid=b', kind: 'form' },
            { text: '<xml/>', kind: 'xml' },
            { text: '\u00ff\u00fe', kind: 'latin1' },
          ),
        },
      );
    };

    const contentType = fc.constantFrom<string[]>(
      ['content-type', 'application/json'],
      ['content-type', 'application/json'],
      [],
      ['content-type', 'text/plain'],
      ['content-type', 'application/x-www-form-urlencoded'],
      ['content-type', 'multipart/form-data; boundary=x'],
      ['content-type', 'application/json; charset=utf-16'],
      ['content-type', 'application/json', 'content-type', 'text/html'],
      ['content-type', ''],
      ['content-type', 'application/json;;;;=='],
    );
    const auth = fc.oneof(
      { weight: 12, arbitrary: fc.constant([`authorization`, `Bearer ${ADMIN_TOKEN}`]) },
      {
        weight: 4,
        arbitrary: fc.constantFrom<string[]>(
          [],
          ['authorization', 'Bearer'],
          ['authorization', 'Bearer x.y.z'],
          ['authorization', `Basic ${Buffer.from('a:b').toString('base64')}`],
          ['authorization', `Bearer ${ADMIN_TOKEN}`, 'authorization', 'Bearer other'],
          ['authorization', `bearer   ${ADMIN_TOKEN}   `],
          ['authorization', `Bearer ${'t'.repeat(5_000)}`],
        ),
      },
    );
    const extraHeaders = fc.array(
      fc.oneof(
        fc.constantFrom<string[]>(['idempotency-key', 'k'.repeat(300)], ['idempotency-key', ''], ['accept', 'text/html'], ['x-forwarded-for', '127.0.0.1'], ['origin', 'http://evil.example']),
        fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 30 }).map((key) => ['idempotency-key', key.replace(/[^\x21-\x7e]/g, 'k')]),
      ),
      { maxLength: 2 },
    );
    const pathValue = (name: string): fc.Arbitrary<string> =>
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...(ids[name] ?? ['x'])).map(encodeSegment) },
        { weight: 3, arbitrary: nasty.map(encodeSegment) },
        { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%c0%af', '..%2F..', 'a%2Fb', '%2e%2e', 'x'.repeat(1_100)) },
      );
    const queryFor = (route: DocumentedRoute): fc.Arbitrary<string> =>
      fc
        .array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...(route.query.length > 0 ? route.query : ['limit'])), fc.constantFrom('limit', 'iterator', 'x', '__proto__', 'a[b]')),
            fc.oneof(numberText, nasty, fc.constantFrom('true', 'false', 'ascending', 'descending', '2024-01-01T00:00:00Z', 'fuzz.type,x', ids.endpoint_id![0]!)),
          ),
          { maxLength: 4 },
        )
        .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&')}`));

    const caseArb = fc.constantFrom(...routes).chain((route) =>
      fc.record({
        route: fc.constant(route),
        method: fc.oneof({ weight: 19, arbitrary: fc.constant<string>(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') }),
        path: fc.record(Object.fromEntries(route.params.map((p) => [p, pathValue(p)]))).map((values) => fillPath(route.template, values as Record<string, string>)),
        query: queryFor(route),
        body: bodyFor(route),
        headers: fc.tuple(contentType, auth, extraHeaders).map(([ct, au, extra]) => [...ct, ...au, ...extra.flat()]),
        asAppToken: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      }),
    );

    let cases = 0;
    let rejected = 0;
    let rejectedChecked = 0;
    const statuses: Record<string, number> = {};
    const kinds: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        cases++;
        const headers = c.asAppToken ? c.headers.map((h) => (h.startsWith(`Bearer ${ADMIN_TOKEN}`) ? `Bearer ${appToken}` : h)) : c.headers;
        const sendsBody = c.body.text !== undefined && c.method !== 'GET' && c.method !== 'HEAD';
        const mutating = c.method !== 'GET' && c.method !== 'HEAD' && c.method !== 'OPTIONS';
        // Background tasks an earlier accepted case started (a replay, the statistics) go on changing
        // their rows after the 202: let them end first, so the snapshots see only this request.
        if (mutating) await tw.server.backgroundTasks.idle();
        const before = mutating ? await snapshot() : null;
        const bodyText = c.body.text === HUGE ? hugeText : c.body.text;
        const answer = await rawRequest(dispatcher, tw.url, c.method, c.path + c.query, headers, sendsBody ? bodyText : undefined);
        // Logout and expire-all may end the application token the other cases use: mint another.
        if (['authentication.logout', 'authentication.expire_all'].includes(c.route.operationId) && answer.status < 300) {
          appToken = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${ids.app_id![0]}`, {}), 200, 'app token').body.token as string;
        }
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        kinds[c.body.kind] = (kinds[c.body.kind] ?? 0) + 1;
        const where = `${c.method} ${c.path}${c.query} [${headers.map((h) => h.slice(0, 60)).join(' ')}] body(${c.body.kind}) ${String(c.body.text).slice(0, 200)}`;
        const violation = contractViolation(c.method === c.route.method ? c.route : null, answer, c.method);
        if (violation) throw new Error(`${violation}\n  request: ${where}`);
        // A body past the limit is refused with 413 once the URL, the route and the token are known
        // good (a malformed URL is refused first with 400, a malformed Content-Type with 415).
        if (c.body.kind === 'huge' && sendsBody && ![400, 401, 403, 404, 413, 415].includes(answer.status)) {
          throw new Error(`a body past the limit answered ${answer.status}, not 413\n  request: ${where}`);
        }
        if (answer.status >= 400) {
          rejected++;
          if (before !== null) {
            rejectedChecked++;
            const after = await snapshot();
            if (after !== before) throw new Error(`a rejected request (${answer.status} ${answer.text.slice(0, 200)}) changed stored data\n  request: ${where}`);
          }
        }
      }),
      { seed, numRuns: NUM_RUNS, endOnFailure: true },
    );

    // Still up and healthy.
    expect((await tw.api('GET', '/api/v1/health', undefined, { token: null })).status).toBe(200);
    expect((await tw.api('GET', '/api/v1/health/ping', undefined, { token: null })).status).toBe(204);
    reportFigures('fuzz', backend, {
      seed,
      routes: routes.length,
      cases,
      fiveXX: 0,
      rejected,
      rejectedMutationsCheckedUnchanged: rejectedChecked,
      statuses,
      bodyKinds: kinds,
    });
  }, chaosSize(120_000, 1_200_000));

  it('answers unauthenticated garbage on every route that needs a token with 401, whatever the body', async () => {
    const seed = chaosSeed(`fuzz-unauthenticated/${backend}`, backend === 'sqlite' ? 8303 : 8304);
    const guarded = routes.filter((r) => r.access !== 'public' && r.template !== '/metrics');
    const garbage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('{', '{"name":', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, `{"a":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_001)}`, '\u0000\u0001', 'x'.repeat(50_000), 'null', '[]'),
    );
    const badAuth = fc.constantFrom<string[]>(
      [],
      ['authorization', 'Bearer'],
      ['authorization', 'Bearer tw_admin_guess_0123456789abcdef'],
      ['authorization', `Bearer ${ADMIN_TOKEN}x`],
      ['authorization', `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`],
      ['authorization', `Token ${ADMIN_TOKEN}`],
      ['authorization', `Bearer ${'t'.repeat(5_000)}`],
    );
    const caseArb = fc.record({
      route: fc.constantFrom(...guarded),
      body: garbage,
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''),
      auth: badAuth,
    });
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        cases++;
        const path = fillPath(c.route.template, Object.fromEntries(c.route.params.map((p) => [p, encodeSegment(ids[p]?.[0] ?? 'x')])));
        const sendsBody = c.route.method !== 'GET';
        const headers = [...(sendsBody && c.contentType ? ['content-type', c.contentType] : []), ...c.auth];
        const answer = await rawRequest(dispatcher, tw.url, c.route.method, path, headers, sendsBody ? c.body : undefined);
        const where = `${c.route.method} ${path} [${headers.map((h) => h.slice(0, 40)).join(' ')}] body ${JSON.stringify(c.body.slice(0, 80))}`;
        const violation = contractViolation(c.route, answer, c.route.method);
        if (violation) throw new Error(`${violation}\n  request: ${where}`);
        if (answer.status !== 401) throw new Error(`answered ${answer.status}, not 401: ${answer.text.slice(0, 200)}\n  request: ${where}`);
      }),
      { seed, numRuns: Math.max(50, Math.floor(NUM_RUNS / 2)), endOnFailure: true },
    );
    reportFigures('fuzz (unauthenticated)', backend, { seed, routes: guarded.length, cases });
  }, chaosSize(60_000, 600_000));
});
