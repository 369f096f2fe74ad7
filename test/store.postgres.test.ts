// The Store contract on PostgreSQL (a fresh schema per test), plus what only PostgreSQL has:
// several processes on one database (migrations, claims, LISTEN/NOTIFY), connections that drop,
// schemas that keep installations apart, and retention that skips locked rows.
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { newId } from '../src/domain/ids.js';
import type { Application, Endpoint, Message } from '../src/domain/types.js';
import { openStore } from '../src/storage/open-store.js';
import { PostgresStore, type PostgresStoreOptions } from '../src/storage/postgres/postgres-store.js';
import { readMigrations } from '../src/storage/shared/migrations.js';
import type { Store } from '../src/storage/store.js';
import { backends, dropSchema, freshSchemaUrl, postgresUrl, schemaOf, withClient } from './helpers/postgres.js';
import { runStoreContract } from './store-contract/index.js';

const enabled = (await backends()).includes('postgres');

/** The migrations on disk: the tests follow new ones without listing them. */
const MIGRATIONS = readMigrations(new URL('../src/storage/postgres/migrations/', import.meta.url));
const VERSIONS = MIGRATIONS.map((m) => m.version);

if (enabled) {
  runStoreContract('postgres', async () => {
    const url = freshSchemaUrl('contract');
    const store = await PostgresStore.open({ url, poolSize: 6 });
    await store.migrate();
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(url);
      },
    };
  });
}

const T0 = Date.parse('2024-03-01T00:00:00.000Z');

function makeApp(overrides: Partial<Application> = {}): Application {
  const at = new Date(T0);
  return { id: newId('app', T0), uid: null, name: 'Acme', throttleRate: null, metadata: {}, createdAt: at, updatedAt: at, ...overrides };
}

function makeEndpoint(appId: string, overrides: Partial<Endpoint> = {}): Endpoint {
  const at = new Date(T0);
  return {
    id: newId('ep', T0), appId, uid: null, url: 'https://receiver.example/hook', description: '', disabled: false, eventTypes: null,
    channels: null, throttleRate: null, version: 1, metadata: {}, secret: 'whsec_x', oldSecrets: [], headers: {}, createdAt: at, updatedAt: at,
    ...overrides,
  };
}

function makeMessage(appId: string, overrides: Partial<Message> = {}): Message {
  const at = new Date(T0);
  return {
    id: newId('msg', T0), appId, eventId: null, eventType: 'invoice.paid', payload: '{}', channels: null, createdAt: at,
    payloadExpiresAt: new Date(T0 + 86_400_000), ...overrides,
  };
}

/** An application with `endpoints` endpoints (matching everything). */
async function seed(store: Store, endpoints = 1): Promise<{ app: Application; endpoints: Endpoint[] }> {
  const app = await store.createApplication(makeApp());
  const created: Endpoint[] = [];
  for (let i = 0; i < endpoints; i++) created.push(await store.createEndpoint(makeEndpoint(app.id)));
  return { app, endpoints: created };
}

/** Counts calls and lets a test wait for the next one without sleeping. */
function callCounter(): { listener: () => void; calls: () => number; next: () => Promise<void> } {
  let count = 0;
  let waiters: (() => void)[] = [];
  return {
    listener: () => {
      count++;
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    },
    calls: () => count,
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

describe.skipIf(!enabled)('PostgresStore (PostgreSQL only)', () => {
  const opened: Store[] = [];
  const schemas: string[] = [];

  /** A URL with a schema of its own, dropped after the test. */
  function schemaUrl(prefix: string): string {
    const url = freshSchemaUrl(prefix);
    schemas.push(url);
    return url;
  }

  async function open(url: string, options: Omit<PostgresStoreOptions, 'url'> = {}): Promise<PostgresStore> {
    const store = await PostgresStore.open({ url, poolSize: 4, ...options });
    opened.push(store);
    return store;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await Promise.all(schemas.splice(0).map((url) => dropSchema(url)));
  });

  it('applies each migration exactly once when five processes migrate at once', async () => {
    const url = schemaUrl('migrate');
    const stores = await Promise.all(Array.from({ length: 5 }, () => open(url)));
    const results = await Promise.all(stores.map((store) => store.migrate()));
    expect(results.flatMap((result) => result.applied).sort((a, b) => a - b)).toEqual(VERSIONS);
    expect(await stores[0]!.migrate()).toEqual({ applied: [] });
    const rows = await withClient(url, (client) => client.query<{ version: number; applied_at: Date }>('SELECT version, applied_at FROM schema_migrations'));
    expect(rows.rows.map((r) => r.version).sort((a, b) => a - b)).toEqual(VERSIONS);
    expect(rows.rows[0]!.applied_at).toBeInstanceOf(Date);
    const tables = await withClient(url, (client) =>
      client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schemaOf(url)]),
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['applications', 'deliveries', 'attempts', 'schema_migrations']));
  });

  it('logs each applied migration', async () => {
    const lines: { obj: object; msg: string }[] = [];
    const store = await open(schemaUrl('logged'), { logger: { info: (obj, msg) => lines.push({ obj, msg }), warn: () => undefined } });
    await store.migrate();
    expect(lines).toEqual(MIGRATIONS.map((m) => ({ obj: { version: m.version, file: m.file }, msg: 'migration applied' })));
  });

  it('refuses a database migrated by a newer Tapwire, naming both versions', async () => {
    const url = schemaUrl('too_new');
    const store = await open(url);
    await store.migrate();
    await withClient(url, (client) => client.query('INSERT INTO schema_migrations (version) VALUES (9999)'));
    await expect(store.migrate()).rejects.toMatchObject({ code: 'schema_too_new', status: 503, detail: expect.stringMatching(new RegExp(`9999.*\\b${VERSIONS.at(-1)}\\b`)) });
    await expect(openStore(url, { migrate: true })).rejects.toMatchObject({ code: 'schema_too_new' });
  });

  it('wakes listeners in other processes when deliveries are queued, for their own schema only', async () => {
    const url = schemaUrl('listen');
    const otherUrl = schemaUrl('listen_other');
    const worker = await open(url);
    await worker.migrate();
    const api = await open(url);
    const otherApi = await open(otherUrl);
    await otherApi.migrate();
    const wake = callCounter();
    const stop = await worker.onDeliveriesQueued(wake.listener);

    // Notifications reach one connection in commit order: the other schema's comes first, so by
    // the time ours has arrived, the other one has been seen (and must have been ignored).
    const other = await seed(otherApi);
    await otherApi.createMessage(makeMessage(other.app.id), new Date(T0));
    const { app, endpoints } = await seed(api);
    let woken = wake.next();
    const { message, deliveries } = await api.createMessage(makeMessage(app.id), new Date(T0));
    await woken;
    expect(wake.calls()).toBe(1);

    // A message that queues nothing notifies nobody; the resend after it does.
    await api.createMessage(makeMessage(app.id, { eventType: 'x' }), new Date(T0), { endpointIds: [] });
    woken = wake.next();
    await api.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: message.id, endpointId: endpoints[0]!.id, now: new Date(T0) });
    await woken;
    expect(wake.calls()).toBe(2);

    // Recover queues again and notifies.
    const [job] = await api.claimDueDeliveries({ now: new Date(T0 + 1), limit: 1, leaseMs: 1000 });
    expect(job!.delivery.id).toBe(deliveries[0]!.id);
    await api.completeAttempt({
      attempt: { id: newId('atmpt'), deliveryId: job!.delivery.id, msgId: message.id, appId: app.id, endpointId: endpoints[0]!.id, url: 'u', responseStatusCode: 500,
        response: '', responseDurationMs: 1, status: 'fail', triggerType: 'scheduled', timestamp: new Date(T0 + 2) },
      outcome: { status: 'fail' },
      disableEndpoint: false,
      now: new Date(T0 + 2),
    });
    woken = wake.next();
    await api.createMessage(makeMessage(app.id), new Date(T0 + 3));
    await woken;
    expect(wake.calls()).toBe(3);
    await stop();
  });

  it('never hands a delivery to two of four stores claiming at once (200 deliveries)', async () => {
    const url = schemaUrl('claims');
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(url)));
    await stores[0]!.migrate();
    const { app } = await seed(stores[0]!, 4);
    for (let i = 0; i < 50; i++) await stores[0]!.createMessage(makeMessage(app.id), new Date(T0));
    const now = new Date(T0 + 1000);
    const claimed = await Promise.all(
      stores.map(async (store) => {
        const mine: string[] = [];
        for (;;) {
          const jobs = await store.claimDueDeliveries({ now, limit: 7, leaseMs: 60_000 });
          if (jobs.length === 0) return mine;
          for (const job of jobs) expect(job.delivery.lockedUntil).toEqual(new Date(now.getTime() + 60_000));
          mine.push(...jobs.map((job) => job.delivery.id));
        }
      }),
    );
    const all = claimed.flat();
    expect(all).toHaveLength(200);
    expect(new Set(all).size).toBe(200);
    expect(await stores[1]!.nextDueAt()).toEqual(new Date(now.getTime() + 60_000));
  });

  it('reports store_unavailable at once, naming the server but not the password, when nothing listens there', async () => {
    const started = Date.now();
    const error = await PostgresStore.open({ url: 'postgres://tapwire:s3cret@127.0.0.1:1/tapwire' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'store_unavailable', status: 503, detail: expect.stringContaining('127.0.0.1:1/tapwire') });
    expect((error as Error).message).not.toContain('s3cret');
    await expect(openStore('postgresql://tapwire:s3cret@127.0.0.1:1/tapwire')).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('opens postgres:// and postgresql:// URLs through openStore', async () => {
    const url = schemaUrl('open');
    const store = await openStore(url, { migrate: true, poolSize: 2 });
    opened.push(store);
    expect(store.kind).toBe('postgres');
    expect(await store.ping()).toEqual({ ok: true });
    const again = await openStore(url.replace(/^postgres:/, 'postgresql:'));
    opened.push(again);
    expect(await again.migrate()).toEqual({ applied: [] });
  });

  it('keeps the data of two schemas in one database apart', async () => {
    const [a, b] = await Promise.all([open(schemaUrl('tenant_a')), open(schemaUrl('tenant_b'))]);
    await a.migrate();
    await b.migrate();
    const appA = await a.createApplication(makeApp({ uid: 'same-uid' }));
    const appB = await b.createApplication(makeApp({ uid: 'same-uid' }));
    expect((await a.listApplications({ limit: 10 })).data.map((x) => x.id)).toEqual([appA.id]);
    expect((await b.listApplications({ limit: 10 })).data.map((x) => x.id)).toEqual([appB.id]);
    expect(await a.getApplication(appB.id)).toBeNull();
    expect(await b.getApplication('same-uid')).toEqual(appB);
  });

  it('refuses a schema name it cannot pass to PostgreSQL safely', async () => {
    for (const schema of ['Tenant', 'a-b', 'x;drop', '1abc', '']) {
      const url = new URL(postgresUrl());
      url.searchParams.set('schema', schema);
      await expect(PostgresStore.open({ url: url.toString() })).rejects.toMatchObject({ code: 'generic_error' });
    }
  });

  it('carries on after its connections are killed: calls fail with store_unavailable, then reconnect by themselves', async () => {
    const url = schemaUrl('restart');
    const applicationName = `tapwire_t_${randomBytes(4).toString('hex')}`;
    const warnings: string[] = [];
    const store = await open(url, { applicationName, logger: { info: () => undefined, warn: (_obj, msg) => warnings.push(msg) } });
    await store.migrate();
    const wake = callCounter();
    await store.onDeliveriesQueued(wake.listener);
    await Promise.all([store.ping(), store.ping(), store.ping()]);

    // What a PostgreSQL restart does to every connection, without restarting the shared server.
    const reconnected = wake.next();
    const killed = await withClient(postgresUrl(), (client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ($1, $2)', [applicationName, `${applicationName}-listener`]),
    );
    expect(killed.rowCount).toBeGreaterThanOrEqual(2);

    // Until the pool has noticed, a call may fail, but only ever as store_unavailable.
    let app: Application | null = null;
    for (let i = 0; i < 100 && !app; i++) {
      try {
        app = await store.createApplication(makeApp());
      } catch (error) {
        expect(error).toMatchObject({ code: 'store_unavailable' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    expect(await store.getApplication(app!.id)).toEqual(app);

    // The LISTEN connection came back and said so once (it may have missed notifications) ...
    await reconnected;
    expect(warnings).toContain('postgres listen connection lost; reconnecting');
    // ... and hears new ones again.
    const calls = wake.calls();
    const woken = wake.next();
    await store.createEndpoint(makeEndpoint(app!.id));
    await store.createMessage(makeMessage(app!.id), new Date(T0));
    await woken;
    expect(wake.calls()).toBeGreaterThan(calls);
  });

  it('answers store_unavailable while the server is gone and recovers by itself when it is back', async () => {
    const url = schemaUrl('outage');
    const proxy = await startProxy(new URL(url));
    try {
      const store = await open(proxy.url);
      await store.migrate();
      const wake = callCounter();
      await store.onDeliveriesQueued(wake.listener);
      const app = await store.createApplication(makeApp());

      await proxy.stop();
      const started = Date.now();
      await expect(store.getApplication(app.id)).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
      await expect(store.createMessage(makeMessage(app.id), new Date(T0))).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(store.claimDueDeliveries({ now: new Date(T0), limit: 10, leaseMs: 1000 })).rejects.toMatchObject({ code: 'store_unavailable' });
      expect(await store.ping()).toMatchObject({ ok: false });
      expect(Date.now() - started).toBeLessThan(3_000);

      const reconnected = wake.next();
      await proxy.start();
      expect(await store.getApplication(app.id)).toEqual(app);
      // The listener reconnects with backoff and reports once, since it may have missed notifications.
      await reconnected;
    } finally {
      await proxy.stop();
    }
  });

  it('reports store_unavailable after close and a failing ping', async () => {
    const store = await open(schemaUrl('closed'));
    await store.close();
    expect(await store.ping()).toMatchObject({ ok: false });
    await expect(store.getApplication('x')).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(store.onDeliveriesQueued(() => undefined)).rejects.toMatchObject({ code: 'store_unavailable' });
    await store.close(); // closing twice is harmless
  });

  it('retention skips rows another transaction holds instead of waiting for them', async () => {
    const url = schemaUrl('retention');
    const store = await open(url);
    await store.migrate();
    const { app } = await seed(store);
    const expiring = [makeMessage(app.id, { payloadExpiresAt: new Date(T0 + 1) }), makeMessage(app.id, { payloadExpiresAt: new Date(T0 + 2) })];
    for (const message of expiring) await store.createMessage(message, new Date(T0));
    for (const job of await store.claimDueDeliveries({ now: new Date(T0), limit: 10, leaseMs: 1000 })) {
      await store.completeAttempt({
        attempt: { id: newId('atmpt'), deliveryId: job.delivery.id, msgId: job.message.id, appId: app.id, endpointId: job.delivery.endpointId, url: 'u',
          responseStatusCode: 200, response: '', responseDurationMs: 1, status: 'success', triggerType: 'scheduled', timestamp: new Date(T0) },
        outcome: { status: 'success' },
        disableEndpoint: false,
        now: new Date(T0),
      });
    }
    const [held] = (await store.listAttempts(app.id, { limit: 10 })).data;

    await withClient(url, async (client) => {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM messages WHERE id = $1 FOR UPDATE', [expiring[0]!.id]);
      await client.query('SELECT 1 FROM attempts WHERE id = $1 FOR UPDATE', [held!.id]);
      // With a lock wait these would hang until the statement timeout; SKIP LOCKED answers at once.
      expect(await store.expireMessagePayloads(new Date(T0 + 10), 10)).toBe(1);
      expect(await store.pruneAttempts(new Date(T0 + 10), 10)).toBe(1);
      await client.query('ROLLBACK');
    });
    expect(await store.expireMessagePayloads(new Date(T0 + 10), 10)).toBe(1);
    expect(await store.pruneAttempts(new Date(T0 + 10), 10)).toBe(1);
  });

  it('sorts keys in byte order like SQLite, whatever the database collation', async () => {
    const store = await open(schemaUrl('collation'));
    await store.migrate();
    for (const name of ['a.y', 'B.x', '_z', 'Z.a']) {
      const at = new Date(T0);
      await store.createEventType({ name, description: '', archived: false, deprecated: false, schemas: null, featureFlags: null, groupName: null, createdAt: at, updatedAt: at });
    }
    const page = await store.listEventTypes({ limit: 10, includeArchived: true });
    expect(page.data.map((t) => t.name)).toEqual(['B.x', 'Z.a', '_z', 'a.y']);
  });

  it('keeps times to the millisecond and JSON documents as written', async () => {
    const store = await open(schemaUrl('roundtrip'));
    await store.migrate();
    const at = new Date(T0 + 123);
    const app = await store.createApplication(makeApp({ createdAt: at, updatedAt: new Date(T0 + 999), metadata: { z: '1', a: '\\u0000' } }));
    expect(await store.getApplication(app.id)).toEqual(app);
    const endpoint = await store.createEndpoint(
      makeEndpoint(app.id, { headers: { 'X-Zeta': '1', 'X-Alpha': '2' }, eventTypes: [], channels: ['b', 'a'], oldSecrets: [{ secret: 's', expiresAt: new Date(T0 + 7) }] }),
    );
    const read = await store.getEndpoint(app.id, endpoint.id);
    expect(read).toEqual(endpoint);
    expect(Object.keys(read!.headers)).toEqual(['X-Zeta', 'X-Alpha']);
    // An empty event-type list is not "every event type".
    expect((await store.createMessage(makeMessage(app.id), new Date(T0))).deliveries).toEqual([]);
  });

  it('refuses text PostgreSQL cannot store (NUL) with generic_error, not a server error', async () => {
    const store = await open(schemaUrl('nul'));
    await store.migrate();
    await expect(store.createApplication(makeApp({ name: 'a\u0000b' }))).rejects.toMatchObject({ code: 'generic_error', status: 400 });
  });

  it('reports store_unavailable, not a server error, when the server takes no writes (a hot standby, read-only)', async () => {
    // Regression (chaos disk-trouble suite): SQLSTATE 25006 became a 500 server_error.
    const url = schemaUrl('read_only');
    const writable = await open(url);
    await writable.migrate();
    const { app } = await seed(writable);
    const readOnlyUrl = new URL(url);
    readOnlyUrl.searchParams.set('options', '-c default_transaction_read_only=on');
    const store = await open(readOnlyUrl.toString());
    expect(await store.getApplication(app.id)).toMatchObject({ id: app.id });
    await expect(store.createApplication(makeApp())).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
    await expect(store.createMessage(makeMessage(app.id), new Date(T0))).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
  });
});

/**
 * A TCP relay to the test server that can be switched off (listener closed, every connection cut)
 * and on again at the same port: PostgreSQL going away and coming back, without restarting the
 * server other test files share.
 */
async function startProxy(target: URL): Promise<{ url: string; stop: () => Promise<void>; start: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const start = async (): Promise<void> => {
    const listening = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', () => resolve());
    });
    port = (listening.address() as { port: number }).port;
    server = listening;
  };
  const stop = async (): Promise<void> => {
    const closing = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await start();
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return { url: url.toString(), stop, start };
}
