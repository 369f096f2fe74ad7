// Tenant isolation suite (issue 8): several applications, each with endpoints, custom headers,
// messages, attempts and a background task, and an application-scoped token each (from
// POST /auth/app-portal-access). Every route of the OpenAPI document is probed with one tenant's token
// and every mix of its own ids and another tenant's ids (and uids) in the path, and with the other
// tenant's ids in the query. A probe that names the other tenant's data must be refused (401, 403 or
// 404, JSON); no answer may contain anything of the other tenant that the probe did not itself send;
// and the other tenant's data must be unchanged afterwards. A second case walks every route with one
// tenant's read-only, capability-limited, revoked and expired tokens.
import { Agent } from 'undici';
import { newId } from '../../src/domain/ids.js';
import { hashToken } from '../../src/services/auth.js';
import { describe, expect, it } from 'vitest';
import { startCountingReceiver } from '../helpers/counting-receiver.js';
import { createEndpoint, eventually, expectStatus, sendMessage } from '../helpers/delivery.js';
import { backends } from '../helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from '../helpers/tapwire.js';
import { contractViolation, documentedRoutes, encodeSegment, fillPath, rawRequest, type DocumentedRoute } from './api-routes.js';
import { chaosSize, reportFigures } from './chaos.js';

/** Tenants; each probes the next (short run) or every other one (full run). */
const TENANTS = ['alpha', 'bravo', 'charlie'];
const PAIRS: [number, number][] = chaosSize(
  [[0, 1], [1, 2], [2, 0]],
  TENANTS.flatMap((_, a) => TENANTS.map((__, b) => [a, b] as [number, number]).filter(([x, y]) => x !== y)),
);

interface Tenant {
  name: string;
  token: string;
  /** Path values per parameter: the id and, where there is one, the uid. */
  values: Record<string, string[]>;
  /** Everything of this tenant that must never show up in another tenant's answers. */
  secrets: string[];
}

/** A body each route accepts, so a probe is judged on access rather than refused by validation. */
function bodyFor(route: DocumentedRoute, marker: string): unknown {
  const since = new Date(Date.now() - 3_600_000).toISOString();
  const bodies: Record<string, unknown> = {
    'application.create': { name: `probe ${marker}` },
    'application.update': { name: `probe ${marker}` },
    'application.patch': { name: `probe ${marker}` },
    'endpoint.create': { url: 'http://127.0.0.1:9/probe' },
    'endpoint.update': { url: 'http://127.0.0.1:9/probe' },
    'endpoint.patch': { description: `probe ${marker}` },
    'endpoint.rotate_secret': {},
    'endpoint.update_headers': { headers: { 'X-Probe': marker } },
    'endpoint.patch_headers': { headers: { 'X-Probe': marker } },
    'endpoint.recover': { since },
    'endpoint.replay_missing': { since },
    'endpoint.bulk_replay': { since },
    'message.bulk_expunge_content': { ids: [`probe-${marker}`] },
    'endpoint.send_example': { eventType: 'svix.ping' },
    'message.create': { eventType: 'tenant.event', payload: { probe: marker } },
    'event_type.create': { name: `probe.${marker}`, description: 'probe' },
    'event_type.update': { description: 'probe' },
    'event_type.patch': { description: 'probe' },
    'authentication.app_portal_access': {},
  };
  return route.hasBody ? (bodies[route.operationId] ?? {}) : undefined;
}

/** Every way to fill the route's path parameters from `own` and `other`, with at least one of `other`'s. */
function pathMixes(route: DocumentedRoute, own: Tenant, other: Tenant): Record<string, string>[] {
  let mixes: { values: Record<string, string>; foreign: boolean }[] = [{ values: {}, foreign: false }];
  for (const param of route.params) {
    const next: typeof mixes = [];
    for (const mix of mixes) {
      for (const value of own.values[param] ?? ['x']) next.push({ values: { ...mix.values, [param]: value }, foreign: mix.foreign });
      for (const value of other.values[param] ?? []) next.push({ values: { ...mix.values, [param]: value }, foreign: true });
    }
    mixes = next;
  }
  return mixes.filter((m) => m.foreign).map((m) => m.values);
}

/** A fresh portal token for the application, minted with `body` (its scope). */
async function mintToken(tw: TestTapwire, appId: string, body: Record<string, unknown> = {}): Promise<string> {
  return expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, body), 200, 'token').body.token as string;
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  it('holds read-only, capability-limited, revoked and expired tokens to what they may do, on every route', async () => {
    // Thousands of probes per token within seconds: the per-token rate limit (test/api-rate-limit.test.ts)
    // would answer 429 before the rules under test are reached.
    const tw: TestTapwire = await startTapwire({ TAPWIRE_RETRY_SCHEDULE: 'none', TAPWIRE_APP_RATE_LIMIT: 'off' });
    const dispatcher = new Agent({ connections: 4 });
    try {
      expectStatus(await tw.api('POST', '/api/v1/event-type', { name: 'tenant.event', description: 'shared catalogue' }), 201, 'event type');
      const app = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Scoped', uid: 'scoped-app' }), 201, 'app').body;
      const endpoint = await createEndpoint(tw, app.id, { url: 'http://127.0.0.1:9/scoped', uid: 'scoped-ep', filterTypes: ['tenant.event'] });
      const msgId = await sendMessage(tw, app.id, { raw: JSON.stringify({ eventType: 'tenant.event', eventId: 'scoped-evt', payload: { a: 1 } }) });
      const values: Record<string, string> = { app_id: app.id, endpoint_id: endpoint.id, msg_id: msgId, attempt_id: 'atmpt_missing', task_id: 'qtask_missing', event_type_name: 'tenant.event' };
      const revoked = await mintToken(tw, app.id);
      expectStatus(await tw.api('POST', '/api/v1/auth/logout', undefined, { token: revoked }), 204, 'logout');
      const ended = await mintToken(tw, app.id, { sessionId: 'gone' });
      expectStatus(await tw.api('POST', `/api/v1/auth/app/${app.id}/expire-all`, { sessionIds: ['gone'] }), 204, 'expire-all');
      // Past its lifetime (tokens live 7 days at most, so it is stored already expired).
      const expired = `tw_app_expired_${Math.random().toString(36).slice(2)}`;
      const past = new Date(Date.now() - 60_000);
      await tw.server.store.createToken({ id: newId('tok', past.getTime()), tokenHash: hashToken(expired), appId: app.id, createdAt: past, expiresAt: past });
      const tokens = {
        readOnly: await mintToken(tw, app.id, { readOnly: true }),
        viewSecret: await mintToken(tw, app.id, { capabilities: ['ViewBase', 'ViewEndpointSecret'] }),
        revoked,
        ended,
        expired,
      };
      const snapshot = async (): Promise<string> => {
        const paths = [`/api/v1/app/${app.id}`, `/api/v1/app/${app.id}/endpoint?limit=250`, `/api/v1/app/${app.id}/endpoint/${endpoint.id}/secret`,
          `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`, `/api/v1/app/${app.id}/msg?limit=250&with_content=true`];
        return (await Promise.all(paths.map(async (p) => `${p} ${(await tw.api('GET', p)).text}`))).join('\n');
      };
      const before = await snapshot();
      // /metrics answers to TAPWIRE_METRICS_TOKEN, not to API tokens.
      const routes = (await documentedRoutes(tw.url)).filter((r) => r.access !== 'public' && r.template !== '/metrics');
      const scopes: Record<string, Record<string, unknown>> = { readOnly: { readOnly: true }, viewSecret: { capabilities: ['ViewBase', 'ViewEndpointSecret'] } };
      const problems: string[] = [];
      let probes = 0;
      for (const [kind, kindToken] of Object.entries(tokens)) {
        for (const route of routes) {
          // Logging out ends the token presented: a live token of that scope gets one of its own.
          const token = route.operationId === 'authentication.logout' && scopes[kind] ? await mintToken(tw, app.id, scopes[kind]) : kindToken;
          const path = fillPath(route.template, Object.fromEntries(route.params.map((p) => [p, encodeSegment(values[p] ?? 'x')])));
          const body = bodyFor(route, 'scoped');
          const bodyText = body === undefined ? undefined : JSON.stringify(body);
          const answer = await rawRequest(dispatcher, tw.url, route.method, path, ['authorization', `Bearer ${token}`, ...(bodyText ? ['content-type', 'application/json'] : [])], bodyText);
          probes++;
          const where = `${kind} → ${route.method} ${path}: ${answer.status} ${answer.text.slice(0, 200)}`;
          const violation = contractViolation(route, answer, route.method);
          if (violation) problems.push(`${violation} (${where})`);
          // Reads every scoped token may make: not the signing secret (ViewEndpointSecret), nor the
          // transformation code, which may hold credentials (ManageTransformations).
          const guardedRead = route.operationId === 'endpoint.get_secret' || route.operationId === 'endpoint.transformation_get';
          const reads = (route.method === 'GET' && !guardedRead) || route.operationId === 'authentication.logout';
          const secretRead = route.operationId === 'endpoint.get_secret';
          if (answer.text.includes(endpoint.secret) && !(kind === 'viewSecret' && secretRead)) problems.push(`secret shown (${where})`);
          const expected =
            kind === 'revoked' || kind === 'ended' || kind === 'expired' ? [401]
              : route.access === 'admin' ? [403]
                : reads || (kind === 'viewSecret' && secretRead) ? null
                  : [403];
          if (expected && !expected.includes(answer.status)) problems.push(`expected ${expected.join('/')} (${where})`);
          if (!expected && [401, 403].includes(answer.status)) problems.push(`refused a read (${where})`);
        }
      }
      expect(problems.slice(0, 20)).toEqual([]);
      expect(await snapshot(), 'the application after probes with restricted tokens').toBe(before);
      reportFigures('tenant-isolation (token scopes)', backend, { routes: routes.length, probes });
    } finally {
      await dispatcher.close();
      await tw.close();
    }
  }, chaosSize(60_000, 120_000));

  it('never lets one application token see or change another application', async () => {
    // Thousands of probes per token within seconds: the per-token rate limit (test/api-rate-limit.test.ts)
    // would answer 429 before the rules under test are reached.
    const tw: TestTapwire = await startTapwire({ TAPWIRE_RETRY_SCHEDULE: 'none', TAPWIRE_APP_RATE_LIMIT: 'off' });
    const receiver = await startCountingReceiver();
    const dispatcher = new Agent({ connections: 4 });
    try {
      expectStatus(await tw.api('POST', '/api/v1/event-type', { name: 'tenant.event', description: 'shared catalogue' }), 201, 'event type');
      const tenants: Tenant[] = [];
      for (const name of TENANTS) {
        const marker = `${name}-private-${Math.random().toString(36).slice(2, 10)}`;
        const app = expectStatus(await tw.api('POST', '/api/v1/app', { name: `${name} ${marker}`, uid: `${name}-app`, metadata: { m: marker } }), 201, 'app').body;
        const endpoint = await createEndpoint(tw, app.id, { url: `${receiver.url}/${marker}`, uid: `${name}-ep`, description: marker, filterTypes: ['tenant.event'] });
        expectStatus(await tw.api('PUT', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`, { headers: { 'X-Tenant-Secret': `${marker}-header` } }), 204, 'headers');
        const msgId = await sendMessage(tw, app.id, { raw: JSON.stringify({ eventType: 'tenant.event', eventId: `${name}-evt`, payload: { secret: `${marker}-payload` } }) });
        const attempts = await eventually(
          async () => expectStatus(await tw.api('GET', `/api/v1/app/${app.id}/attempt/msg/${msgId}`), 200, 'attempts').body.data as any[],
          (data) => data.length > 0 && data.every((a) => a.statusText === 'success'),
          { what: `${name}'s delivery` },
        );
        const task = expectStatus(await tw.api('POST', `/api/v1/app/${app.id}/endpoint/${endpoint.id}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() }), 202, 'task').body.id as string;
        const token = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${app.id}`, {}), 200, 'token').body.token as string;
        tenants.push({
          name,
          token,
          values: {
            app_id: [app.id, `${name}-app`],
            endpoint_id: [endpoint.id, `${name}-ep`],
            msg_id: [msgId, `${name}-evt`],
            attempt_id: [attempts[0].id],
            task_id: [task],
          },
          secrets: [app.id, `${name}-app`, endpoint.id, `${name}-ep`, endpoint.secret, msgId, `${name}-evt`, attempts[0].id, task, marker, token],
        });
      }

      /** What an admin sees of a tenant: what no other tenant's probe may change. */
      const snapshot = async (t: Tenant): Promise<string> => {
        const [app, ep, msg] = [t.values.app_id![0], t.values.endpoint_id![0], t.values.msg_id![0]];
        const paths = [
          `/api/v1/app/${app}`,
          `/api/v1/app/${app}/endpoint?limit=250`,
          `/api/v1/app/${app}/endpoint/${ep}/secret`,
          `/api/v1/app/${app}/endpoint/${ep}/headers`,
          `/api/v1/app/${app}/msg?limit=250`,
          `/api/v1/app/${app}/attempt/msg/${msg}?limit=250`,
          `/api/v1/background-task/${t.values.task_id![0]}`,
        ];
        return (await Promise.all(paths.map(async (p) => `${p} ${(await tw.api('GET', p)).text}`))).join('\n');
      };
      // /metrics is the operator's, not a tenant's: it lists endpoint and application ids by design
      // (docs/security.md) and is closed with TAPWIRE_METRICS_TOKEN, which API tokens do not open.
      const routes = (await documentedRoutes(tw.url)).filter((r) => r.access !== 'public' && r.template !== '/metrics');
      // Each token works on its own application (so refusals below are about the other tenant).
      for (const t of tenants) {
        const own = await rawRequest(dispatcher, tw.url, 'GET', `/api/v1/app/${t.values.app_id![0]}/endpoint/${t.values.endpoint_id![0]}`, ['authorization', `Bearer ${t.token}`]);
        expect(own.status, own.text).toBe(200);
      }

      // The leak detector sees a leak when there is one: a tenant's own token reading its own secret.
      {
        const t = tenants[0]!;
        const path = `/api/v1/app/${t.values.app_id![1]}/endpoint/${t.values.endpoint_id![1]}/secret`;
        const own = await rawRequest(dispatcher, tw.url, 'GET', path, ['authorization', `Bearer ${t.token}`]);
        expect(t.secrets.filter((s) => own.text.includes(s) && !path.includes(s)).length).toBeGreaterThan(0);
      }

      let probes = 0;
      let leaks = 0;
      const problems: string[] = [];
      const statuses: Record<string, number> = {};
      const send = async (route: DocumentedRoute, own: Tenant, other: Tenant, path: string, targetsOther: boolean): Promise<void> => {
        const body = bodyFor(route, `${own.name}-probe`);
        const bodyText = body === undefined ? undefined : JSON.stringify(body);
        // Logging out ends the token presented: that probe gets a token of its own.
        const token = route.operationId === 'authentication.logout' ? await mintToken(tw, own.values.app_id![0]!) : own.token;
        const answer = await rawRequest(
          dispatcher,
          tw.url,
          route.method,
          path,
          ['authorization', `Bearer ${token}`, ...(bodyText !== undefined ? ['content-type', 'application/json'] : [])],
          bodyText,
        );
        probes++;
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        const where = `${own.name} → ${route.method} ${path}: ${answer.status} ${answer.text.slice(0, 300)}`;
        const violation = contractViolation(route, answer, route.method);
        if (violation) problems.push(`${violation} (${where})`);
        // Anything of the other tenant in the answer that the probe did not send itself is a leak.
        const sent = `${decodeURIComponent(path)} ${bodyText ?? ''}`;
        const leaked = other.secrets.filter((s) => answer.text.includes(s) && !sent.includes(s));
        if (leaked.length > 0) {
          leaks++;
          problems.push(`leaked ${leaked.join(', ')} (${where})`);
        }
        if (targetsOther && ![401, 403, 404].includes(answer.status)) {
          // An upsert under a uid creates the caller's own resource of that name: allowed, if nothing leaked.
          // Removed again at once, so later probes naming that uid are not answered by it.
          const ownApp = own.values.app_id!.find((v) => path.startsWith(`/api/v1/app/${encodeSegment(v)}/`));
          const ownUpsert = route.method === 'PUT' && answer.status === 201 && ownApp !== undefined;
          if (ownUpsert) expectStatus(await tw.api('DELETE', `${path.replace(/\/[^/]+$/, '')}/${answer.body.id}`), 204, 'remove the upserted endpoint');
          else problems.push(`not refused (${where})`);
        }
      };

      for (const [a, b] of PAIRS) {
        const own = tenants[a]!;
        const other = tenants[b]!;
        const before = await snapshot(other);
        for (const route of routes) {
          if (route.params.length === 0) {
            await send(route, own, other, route.template, false);
            continue;
          }
          for (const values of pathMixes(route, own, other)) {
            const encoded = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, encodeSegment(v)]));
            await send(route, own, other, fillPath(route.template, encoded), true);
          }
          // Own path, the other tenant's ids in every documented query parameter.
          const ownPath = fillPath(route.template, Object.fromEntries(route.params.map((p) => [p, encodeSegment(own.values[p]?.[0] ?? 'x')])));
          for (const q of route.query) {
            for (const value of [other.values.endpoint_id![0]!, other.values.msg_id![0]!, other.values.app_id![0]!]) {
              await send(route, own, other, `${ownPath}?${q}=${encodeSegment(value)}`, false);
            }
          }
        }
        // Nothing of the other tenant changed (an upsert under its uid made the caller's own resource).
        expect(await snapshot(other), `${other.name}'s data after ${own.name}'s probes`).toBe(before);
      }

      expect(problems.slice(0, 20)).toEqual([]);
      reportFigures('tenant-isolation', backend, { tenants: tenants.length, pairs: PAIRS.length, routes: routes.length, probes, leaks, statuses });
    } finally {
      await dispatcher.close();
      await receiver.close();
      await tw.close();
    }
  }, chaosSize(90_000, 300_000));
});
