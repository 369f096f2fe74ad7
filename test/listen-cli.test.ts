// `tapwire listen` with real processes on loopback: a `tapwire serve`, the `tapwire listen` CLI and
// a local receiver. The CLI forwards a message with the signature a real endpoint gets, its local
// answer is recorded as the attempt, it survives the server being killed and started again on the
// same port mid-session (a push it never reported is pushed again, once), --since replays what
// arrived while nobody listened, the secret stays the same for the same token and application, a
// CLI that vanishes loses its temporary endpoint after the session timeout, and refusals exit 1.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from './helpers/delivery.js';
import { backends, dropSchema, freshSchemaUrl } from './helpers/postgres.js';
import { startReceiver, type Receiver, type ReceivedRequest } from './helpers/receiver.js';
import { assertCliBuilt, callApi, killAllProcesses, runCli, startCli, startServe, type CliProcess, type ServeProcess } from './helpers/tapwire-process.js';

const ADMIN_TOKEN = 'tw_admin_listen_cli_0123456789';
/** Short, so a push cut off by a kill is claimed again soon: the lease is 2 × this + 5 s. */
const REQUEST_TIMEOUT = '1s';

/** A port free now, so the server can be started again on the same one (the CLI's URL stays right). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const headersOf = (req: ReceivedRequest): Record<string, string> =>
  Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));

describe.each(await backends())('tapwire listen (%s)', (backend) => {
  let dir: string;
  let databaseUrl: string;
  let port: number;
  let receiver: Receiver;

  beforeAll(() => assertCliBuilt());
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-listen-'));
    databaseUrl = backend === 'postgres' ? freshSchemaUrl('listen_cli') : join(dir, 'tapwire.db');
    port = await freePort();
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await killAllProcesses();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
    if (backend === 'postgres') await dropSchema(databaseUrl);
  });

  const serve = (env: Record<string, string> = {}): Promise<ServeProcess> =>
    startServe({
      cwd: dir,
      args: ['--port', String(port)],
      env: {
        TAPWIRE_DATABASE_URL: databaseUrl,
        TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
        TAPWIRE_RETRY_SCHEDULE: '100ms,200ms,400ms,1s',
        TAPWIRE_REQUEST_TIMEOUT: REQUEST_TIMEOUT,
        ...env,
      },
    });

  const listen = (args: string[], token = ADMIN_TOKEN): CliProcess =>
    startCli(['listen', '--forward-to', `${receiver.url}/hooks`, ...args], {
      cwd: dir,
      env: { TAPWIRE_SERVER_URL: `http://127.0.0.1:${port}`, TAPWIRE_TOKEN: token },
    });

  async function ready(cli: CliProcess): Promise<string> {
    const secretLine = await cli.waitForLine(/^Signing secret: /);
    await cli.waitForLine(/^Ready: forwarding events of /);
    return secretLine.replace('Signing secret: ', '').trim();
  }

  async function createApp(server: ServeProcess, uid: string): Promise<string> {
    const res = await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: uid, uid } });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function send(server: ServeProcess, app: string, eventType: string, payload: unknown): Promise<string> {
    const res = await callApi(server.url, 'POST', `/api/v1/app/${app}/msg`, { token: ADMIN_TOKEN, body: { eventType, payload } });
    expect(res.status).toBe(202);
    return res.body.id;
  }

  async function listenSessions(server: ServeProcess, app?: string): Promise<any[]> {
    const res = await callApi(server.url, 'GET', `/api/v1/listen-session${app ? `?app_id=${app}` : ''}`, { token: ADMIN_TOKEN });
    expect(res.status).toBe(200);
    return res.body.data;
  }

  async function attemptsOf(server: ServeProcess, app: string, endpointId: string): Promise<any[]> {
    const res = await callApi(server.url, 'GET', `/api/v1/app/${app}/attempt/endpoint/${endpointId}?order=ascending`, { token: ADMIN_TOKEN });
    expect(res.status).toBe(200);
    return res.body.data;
  }

  it('forwards a message signed with the printed secret, records the local answer as the attempt, and ends on Ctrl-C', async () => {
    const server = await serve();
    await createApp(server, 'shop');
    const cli = listen(['--app', 'shop']);
    const secret = await ready(cli);
    expect(secret).toMatch(/^whsec_/);
    const [session] = await listenSessions(server, 'shop');
    expect(session).toMatchObject({ appUid: 'shop', connected: true, forwardTo: `${receiver.url}/hooks`, eventTypes: null });
    const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await metrics.text()).toMatch(/^tapwire_listen_sessions 1$/m);

    // The first answer fails (recorded, retried on the schedule), the second succeeds.
    receiver.respond((_req, i) => (i === 0 ? { status: 500, body: 'not yet' } : { status: 201, body: 'made' }));
    const payload = { order: 42, note: 'über ☕' };
    const msgId = await send(server, 'shop', 'order.created', payload);
    const [first, second] = await receiver.waitFor((r) => r.length >= 2);
    for (const req of [first!, second!]) {
      expect(req.path).toBe('/hooks');
      expect(headersOf(req)['webhook-id']).toBe(msgId);
      expect(headersOf(req)['content-type']).toBe('application/json');
      // Verifiable with the printed secret, over the bytes received.
      expect(new Webhook(secret).verify(req.body.toString('utf8'), headersOf(req))).toEqual(payload);
    }
    const attempts = await eventually(
      () => attemptsOf(server, 'shop', session.endpointId),
      (a) => a.length === 2,
      { what: 'two attempts recorded' },
    );
    expect(attempts.map((a) => [a.responseStatusCode, a.response, a.status])).toEqual([
      [500, 'not yet', 2],
      [201, 'made', 0],
    ]);
    expect(attempts[1].responseDurationMs).toBeGreaterThanOrEqual(0);
    // One line per attempt: time, event type, message id, local status, duration.
    await cli.waitForLine(new RegExp(`order\\.created  ${msgId}  → 201  \\d+ ms \\(attempt 2\\)`));
    expect(cli.lines(new RegExp(`order\\.created  ${msgId}  → 500`))).toHaveLength(1);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout).toMatch(/Forwarded 2 events: 1 succeeded, 1 failed/);
    // The temporary destination is gone with the session.
    expect(await listenSessions(server)).toEqual([]);
    expect((await callApi(server.url, 'GET', `/api/v1/app/shop/endpoint/${session.endpointId}`, { token: ADMIN_TOKEN })).status).toBe(404);
  });

  it('survives the server being killed mid-session: the unreported push is delivered once after the restart, and new messages flow', async () => {
    let server = await serve();
    await createApp(server, 'shop');
    const cli = listen(['--app', 'shop']);
    await ready(cli);
    const [session] = await listenSessions(server);
    // The receiver holds the first request open: the CLI has it, but has not reported it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver.respond((_req, i) => (i === 0 ? { status: 200, body: 'late', after: held } : { status: 200, body: 'ok' }));
    const msgId = await send(server, 'shop', 'order.created', { n: 1 });
    await receiver.waitFor((r) => r.length === 1);

    server.child.kill('SIGKILL');
    await server.exited;
    await cli.waitForLine(/^Disconnected/);
    release();
    server = await serve();
    await cli.waitForLine(/^Reconnected/);

    // Pushed again once its lease (from the killed process) runs out; the local answer is recorded.
    const msg2 = await send(server, 'shop', 'order.created', { n: 2 });
    const attempts = await eventually(
      () => attemptsOf(server, 'shop', session.endpointId),
      (a) => a.filter((x: any) => x.status === 0).length === 2,
      { what: 'both messages delivered after the restart', timeoutMs: 20_000 },
    );
    // The push cut off by the kill was never reported: no attempt of it was recorded before.
    expect(attempts.map((a: any) => a.msgId).sort()).toEqual([msgId, msg2].sort());
    expect(receiver.requests.filter((r) => headersOf(r)['webhook-id'] === msgId).length).toBe(2);
    // The session (and its endpoint) is the same one: the CLI reattached with its session id.
    const sessions = await listenSessions(server);
    expect(sessions.map((s) => [s.id, s.endpointId, s.connected])).toEqual([[session.id, session.endpointId, true]]);
  });

  it('--since replays what arrived while nobody listened; --events filters; the secret is the same for the same token and application', async () => {
    const server = await serve();
    await createApp(server, 'shop');
    const early = await send(server, 'shop', 'order.created', { early: true });
    await send(server, 'shop', 'order.deleted', { filtered: true });

    const cli = listen(['--app', 'shop', '--since', '1h', '--events', 'order.created']);
    const secret = await ready(cli);
    const [replayed] = await receiver.waitFor((r) => r.length >= 1);
    expect(headersOf(replayed!)['webhook-id']).toBe(early);
    const live = await send(server, 'shop', 'order.created', { live: true });
    await send(server, 'shop', 'order.deleted', { filtered: true });
    await receiver.waitFor((r) => r.some((x) => headersOf(x)['webhook-id'] === live));
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    // Only order.created was forwarded, once each.
    expect(receiver.requests.map((r) => headersOf(r)['webhook-id'])).toEqual([early, live]);

    // A new CLI run with the same token and application prints the same secret.
    const again = listen(['--app', 'shop']);
    expect(await ready(again)).toBe(secret);
    again.child.kill('SIGINT');
    await again.exited;
    // Another token (one of the application) gets another.
    const token = await runCli(['token', 'create', '--app', 'shop'], { cwd: dir, env: { TAPWIRE_DATABASE_URL: databaseUrl } });
    expect(token.code).toBe(0);
    const other = listen(['--app', 'shop'], token.stdout.trim());
    const otherSecret = await ready(other);
    expect(otherSecret).toMatch(/^whsec_/);
    expect(otherSecret).not.toBe(secret);
  });

  it('a CLI that vanishes (kill -9) loses its temporary endpoint after TAPWIRE_LISTEN_SESSION_TIMEOUT', async () => {
    const server = await serve({ TAPWIRE_LISTEN_SESSION_TIMEOUT: '1s' });
    await createApp(server, 'shop');
    const cli = listen(['--app', 'shop']);
    await ready(cli);
    const [session] = await listenSessions(server);
    cli.child.kill('SIGKILL');
    await cli.exited;
    await eventually(() => listenSessions(server), (s) => s.length === 0, { what: 'the vanished session removed', timeoutMs: 15_000 });
    expect((await callApi(server.url, 'GET', `/api/v1/app/shop/endpoint/${session.endpointId}`, { token: ADMIN_TOKEN })).status).toBe(404);
  });

  it('forwards the events of an ingest source, body unchanged', async () => {
    const server = await serve();
    const created = await callApi(server.url, 'POST', '/ingest/api/v1/source', { token: ADMIN_TOKEN, body: { name: 'Generic', type: 'generic-webhook', config: {} } });
    expect(created.status).toBe(201);
    const cli = listen(['--source', created.body.id]);
    await ready(cli);
    const body = '{"id": "evt_1",  "kind": "ping"}';
    const res = await fetch(created.body.ingestUrl.replace(/^http:\/\/[^/]+/, server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBeLessThan(300);
    const [req] = await receiver.waitFor((r) => r.length === 1);
    expect(req!.body.toString('utf8')).toBe(body);
    expect(await listenSessions(server)).toEqual([expect.objectContaining({ sourceId: created.body.id })]);
  });

  it.runIf(backend === 'postgres')('with two server processes, deliveries another process claims reach the session through the one holding it, once each', async () => {
    const holder = await serve();
    const other = await startServe({
      cwd: dir,
      env: { TAPWIRE_DATABASE_URL: databaseUrl, TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN, TAPWIRE_RETRY_SCHEDULE: '100ms,200ms,400ms,1s', TAPWIRE_REQUEST_TIMEOUT: REQUEST_TIMEOUT },
    });
    await createApp(holder, 'shop');
    const cli = listen(['--app', 'shop']);
    await ready(cli);
    const [session] = await listenSessions(other);
    // Accepted by the process that does not hold the socket, whose worker is offered them first.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await send(other, 'shop', 'order.created', { i }));
    await receiver.waitFor((r) => new Set(r.map((x) => headersOf(x)['webhook-id'])).size === 10, 20_000);
    const attempts = await eventually(
      () => attemptsOf(holder, 'shop', session.endpointId),
      (a) => a.length >= 10,
      { what: 'ten attempts recorded', timeoutMs: 20_000 },
    );
    // Nothing was recorded for the pushes the other process could not make.
    expect(attempts.map((a: any) => [a.msgId, a.status]).sort()).toEqual(ids.map((id) => [id, 0]).sort());
    expect(receiver.requests).toHaveLength(10);
  });

  it('refusals exit 1 with the reason; usage errors exit 2', async () => {
    const server = await serve();
    await createApp(server, 'shop');
    const badToken = listen(['--app', 'shop'], 'tw_not_a_real_token_0000000000');
    expect(await badToken.exited).toEqual({ code: 1, signal: null });
    expect(badToken.stderr).toMatch(/refused the session \(401\)/);
    const unknownApp = listen(['--app', 'nope']);
    expect(await unknownApp.exited).toEqual({ code: 1, signal: null });
    expect(unknownApp.stderr).toMatch(/\(404\): Application not found/);
    const both = listen(['--app', 'shop', '--source', 'x']);
    expect(await both.exited).toEqual({ code: 2, signal: null });
    expect(both.stderr).toMatch(/exactly one of --app and --source/);
    const badSince = listen(['--app', 'shop', '--since', 'yesterday']);
    expect(await badSince.exited).toEqual({ code: 2, signal: null });
    await server.stop();
    const down = listen(['--app', 'shop']);
    expect(await down.exited).toEqual({ code: 1, signal: null });
    expect(down.stderr).toMatch(/cannot reach the Tapwire server/);
  });
});
