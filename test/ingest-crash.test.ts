// The ingest durability promise with real processes: once a provider has its 2xx, the event is
// committed. Killing `tapwire serve` with kill -9 between that answer and the forward (the worker not
// running, or the ingest endpoint holding the forward open) and starting it again on the same database
// forwards the event exactly as accepted, and the provider's retry of it is still recognised.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import * as svix2 from 'svix2';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backends, dropSchema, freshSchemaUrl } from './helpers/postgres.js';
import { startReceiver, type Receiver, type ReceivedRequest } from './helpers/receiver.js';
import { assertCliBuilt, killAllProcesses, startServe, type ServeProcess } from './helpers/tapwire-process.js';

const ADMIN_TOKEN = 'tw_admin_ingest_crash_0123456789';
/** Short, so a forward cut off by the kill is claimed again soon: the lease is 2 × this + 5 s (delivery-worker.ts). */
const REQUEST_TIMEOUT = '1s';
const stripeLib = new Stripe('sk_test_unused_by_these_tests');

const headersOf = (req: ReceivedRequest): Record<string, string> =>
  Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));

function stripeEvent(id: string): string {
  return `{\n  "id": "${id}",\n  "object": "event",\n  "type": "invoice.paid",\n  "data": { "object": { "id": "in_1", "total": 12.50, "memo": "\u00fcber \u2615" } }\n}`;
}

async function postToIngest(url: string, payload: string, secret: string, timestamp?: number): Promise<{ status: number; text: string }> {
  const signature = stripeLib.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp !== undefined ? { timestamp } : {}) });
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
  return { status: res.status, text: await res.text() };
}

describe.each(await backends())('%s', (backend) => {
  let dir: string;
  let databaseUrl: string;
  let receiver: Receiver | null = null;

  beforeAll(() => assertCliBuilt());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-ingest-crash-'));
    databaseUrl = backend === 'postgres' ? freshSchemaUrl('ingest_crash') : join(dir, 'tapwire.db');
  });
  afterEach(async () => {
    await killAllProcesses();
    await receiver?.close();
    receiver = null;
    rmSync(dir, { recursive: true, force: true });
    if (backend === 'postgres') await dropSchema(databaseUrl);
  });

  const serve = (role: 'api' | 'all'): Promise<ServeProcess> =>
    startServe({
      cwd: dir,
      args: ['--role', role],
      env: {
        TAPWIRE_DATABASE_URL: databaseUrl,
        TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
        TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
        TAPWIRE_HTTPS_ONLY: 'false',
        TAPWIRE_RETRY_SCHEDULE: '100ms,200ms,400ms,1s',
        TAPWIRE_REQUEST_TIMEOUT: REQUEST_TIMEOUT,
      },
    });
  const client = (server: ServeProcess): any => new svix2.Svix(ADMIN_TOKEN, { serverUrl: server.url });

  /** A Stripe source and its ingest endpoint on the receiver, made with the svix client. */
  async function setUp(server: ServeProcess): Promise<{ sourceId: string; ingestUrl: string; stripeSecret: string; endpointSecret: string }> {
    const svix = client(server);
    const stripeSecret = `whsec_${randomBytes(24).toString('hex')}`;
    const source = await svix.ingest.source.create({ name: 'Stripe', type: 'stripe', config: { secret: stripeSecret } });
    const endpoint = await svix.ingest.endpoint.create(source.id, { url: `${receiver!.url}/stripe` });
    const { key } = await svix.ingest.endpoint.getSecret(source.id, endpoint.id);
    return { sourceId: source.id, ingestUrl: source.ingestUrl, stripeSecret, endpointSecret: key };
  }

  async function killHard(server: ServeProcess): Promise<void> {
    server.child.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
  }

  it('forwards an event accepted just before kill -9 (no worker had run yet) once the server is back', async () => {
    receiver = await startReceiver();
    // An API-only process accepts the event; nothing forwards it before the kill.
    const first = await serve('api');
    const { sourceId, ingestUrl, stripeSecret, endpointSecret } = await setUp(first);
    const payload = stripeEvent('evt_1QcrashNoWorker');
    const accepted = await postToIngest(ingestUrl, payload, stripeSecret);
    expect(accepted.status, accepted.text).toBeGreaterThanOrEqual(200);
    expect(accepted.status, accepted.text).toBeLessThan(300);
    await killHard(first);
    expect(receiver.requests).toHaveLength(0);

    const second = await serve('all');
    const [req] = await receiver.waitFor((r) => r.length >= 1, 20_000);
    expect(req!.body.toString('utf8')).toBe(payload);
    expect(() => new svix2.Webhook(endpointSecret).verify(req!.body.toString('utf8'), headersOf(req!))).not.toThrow();

    // The provider retries (it may not have seen the 2xx): still recognised after the restart.
    const again = await client(second).ingest.source.get(sourceId);
    const retry = await postToIngest(again.ingestUrl, payload, stripeSecret, Math.floor(Date.now() / 1000) + 30);
    expect(retry.status, retry.text).toBeGreaterThanOrEqual(200);
    expect(retry.status, retry.text).toBeLessThan(300);
    // A later event is forwarded; by then a duplicate of the first would have been too.
    const marker = stripeEvent('evt_1QcrashMarker');
    expect((await postToIngest(again.ingestUrl, marker, stripeSecret)).status).toBeLessThan(300);
    await receiver.waitFor((r) => r.some((x) => x.body.toString('utf8') === marker), 20_000);
    expect(receiver.requests.filter((x) => x.body.toString('utf8') === payload)).toHaveLength(1);
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('forwards again, unchanged and with the same webhook-id, an event whose forward was in flight at kill -9', async () => {
    receiver = await startReceiver();
    // The endpoint takes the first forward and never answers it: the kill lands mid-forward.
    receiver.respond((_req, index) => (index === 0 ? 'hang' : { status: 200, body: 'ok' }));
    const first = await serve('all');
    const { ingestUrl, stripeSecret, endpointSecret } = await setUp(first);
    const payload = stripeEvent('evt_1QcrashInFlight');
    const accepted = await postToIngest(ingestUrl, payload, stripeSecret);
    expect(accepted.status, accepted.text).toBeLessThan(300);
    await receiver.waitFor((r) => r.length >= 1);
    await killHard(first);

    const second = await serve('all');
    // The killed process's lease runs out (2 × 1 s + 5 s), then the forward is made again.
    await receiver.waitFor((r) => r.length >= 2, 30_000);
    const [cut, redone] = receiver.requests;
    for (const req of [cut!, redone!]) {
      expect(req.body.toString('utf8')).toBe(payload);
      expect(() => new svix2.Webhook(endpointSecret).verify(req.body.toString('utf8'), headersOf(req))).not.toThrow();
    }
    expect(redone!.headers['webhook-id']).toBe(cut!.headers['webhook-id']);
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);
});
