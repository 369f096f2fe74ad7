// The Store contract: one suite every backend runs unchanged (test/store.<backend>.test.ts), so
// SQLite and PostgreSQL cannot drift apart. It speaks only the Store interface and uses fixed times.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { newId } from '../src/domain/ids.js';
import type { Application, Attempt, Delivery, Endpoint, EventType, Message } from '../src/domain/types.js';
import type { ClaimDeliveriesInput, DeliveryJob, DeliveryOutcome, Page, Store } from '../src/storage/store.js';

/** What a backend hands the suite: a migrated, empty store and a way to throw it away. */
export interface StoreFixture {
  store: Store;
  cleanup: () => Promise<void>;
}

/** Fixed origin of every time in the suite; nothing reads the real clock. */
const T0 = Date.parse('2024-03-01T00:00:00.000Z');
/** T0 plus `seconds`. */
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);
const DAY = 86_400;

function makeApp(overrides: Partial<Application> = {}): Application {
  const createdAt = overrides.createdAt ?? at(0);
  return {
    id: newId('app', createdAt.getTime()),
    uid: null,
    name: 'Acme',
    throttleRate: null,
    metadata: {},
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

function makeEndpoint(appId: string, overrides: Partial<Endpoint> = {}): Endpoint {
  const createdAt = overrides.createdAt ?? at(0);
  return {
    id: newId('ep', createdAt.getTime()),
    appId,
    uid: null,
    url: 'https://receiver.example/hook',
    description: '',
    disabled: false,
    eventTypes: null,
    channels: null,
    throttleRate: null,
    version: 1,
    metadata: {},
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    oldSecrets: [],
    headers: {},
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

function makeMessage(appId: string, overrides: Partial<Message> = {}): Message {
  const createdAt = overrides.createdAt ?? at(0);
  return {
    id: newId('msg', createdAt.getTime()),
    appId,
    eventId: null,
    eventType: 'invoice.paid',
    payload: '{"amount":100}',
    channels: null,
    createdAt,
    payloadExpiresAt: new Date(createdAt.getTime() + 90 * DAY * 1000),
    ...overrides,
  };
}

function makeEventType(name: string, overrides: Partial<EventType> = {}): EventType {
  return {
    name,
    description: `${name} happened`,
    archived: false,
    deprecated: false,
    schemas: null,
    featureFlag: null,
    createdAt: at(0),
    updatedAt: at(0),
    ...overrides,
  };
}

function makeAttempt(delivery: Delivery, overrides: Partial<Attempt> = {}): Attempt {
  const timestamp = overrides.timestamp ?? at(1);
  return {
    id: newId('atmpt', timestamp.getTime()),
    deliveryId: delivery.id,
    msgId: delivery.msgId,
    appId: delivery.appId,
    endpointId: delivery.endpointId,
    url: 'https://receiver.example/hook',
    responseStatusCode: 200,
    response: 'ok',
    responseDurationMs: 12,
    status: 'success',
    triggerType: delivery.triggerType,
    timestamp,
    ...overrides,
  };
}

/** Every page of a list, following `iterator` until `done`. */
async function collectPages<T>(fetch: (iterator: string | null) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let iterator: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page = await fetch(iterator);
    pages.push(page.data);
    if (page.done) return pages;
    iterator = page.iterator;
  }
  throw new Error('pagination never finished');
}

const ids = (items: { id: string }[]): string[] => items.map((item) => item.id);

/**
 * Register the contract suite for one backend. `makeStore` is called before every test and must
 * return a migrated, empty store; `cleanup` runs after the test (close it, drop its files or schema).
 */
export function runStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });

    afterEach(async () => {
      await cleanup();
    });

    /** An application with the given endpoints, created at T0. */
    async function seedApp(endpoints: Partial<Endpoint>[] = [{}]): Promise<{ app: Application; endpoints: Endpoint[] }> {
      const app = await store.createApplication(makeApp());
      const created: Endpoint[] = [];
      for (const overrides of endpoints) created.push(await store.createEndpoint(makeEndpoint(app.id, overrides)));
      return { app, endpoints: created };
    }

    /** Claim the given delivery at `now` and record one attempt with `outcome`. */
    async function attempt(
      delivery: Delivery,
      outcome: DeliveryOutcome,
      now: Date,
      overrides: Partial<Attempt> = {},
    ): Promise<Attempt> {
      const record = makeAttempt(delivery, {
        timestamp: now,
        status: outcome.status === 'success' ? 'success' : 'fail',
        responseStatusCode: outcome.status === 'success' ? 200 : 500,
        ...overrides,
      });
      await store.completeAttempt({ attempt: record, outcome, disableEndpoint: false, now });
      return record;
    }

    describe('health and lifecycle', () => {
      it('answers ping and reports its kind', async () => {
        expect(await store.ping()).toEqual({ ok: true });
        expect(['sqlite', 'postgres']).toContain(store.kind);
      });

      it('migrates idempotently', async () => {
        expect((await store.migrate()).applied).toEqual([]);
      });
    });

    describe('applications', () => {
      it('creates, reads by id or uid, updates and deletes an application', async () => {
        const app = makeApp({ uid: 'acme', name: 'Acme', throttleRate: 5, metadata: { plan: 'pro' } });
        expect(await store.createApplication(app)).toEqual(app);
        expect(await store.getApplication(app.id)).toEqual(app);
        expect(await store.getApplication('acme')).toEqual(app);
        expect(await store.getApplication('nope')).toBeNull();

        const updated = { ...app, uid: 'acme-2', name: 'Acme Inc', throttleRate: null, metadata: {}, updatedAt: at(60) };
        expect(await store.updateApplication(updated)).toEqual(updated);
        expect(await store.getApplication('acme')).toBeNull();
        expect(await store.getApplication('acme-2')).toEqual(updated);

        expect(await store.deleteApplication(app.id)).toBe(true);
        expect(await store.getApplication(app.id)).toBeNull();
        expect(await store.deleteApplication(app.id)).toBe(false);
      });

      it('rejects a taken uid with conflict naming the uid, on create and on update', async () => {
        await store.createApplication(makeApp({ uid: 'taken' }));
        await expect(store.createApplication(makeApp({ uid: 'taken' }))).rejects.toMatchObject({
          code: 'conflict',
          detail: expect.stringContaining("'taken'"),
        });
        const other = await store.createApplication(makeApp({ uid: 'free' }));
        await expect(store.updateApplication({ ...other, uid: 'taken' })).rejects.toMatchObject({ code: 'conflict' });
        // Applications without a uid never collide.
        await store.createApplication(makeApp());
        await store.createApplication(makeApp());
      });

      it('reports not_found when updating a missing application', async () => {
        await expect(store.updateApplication(makeApp())).rejects.toMatchObject({ code: 'not_found' });
      });

      it('returns an empty, done page when there is nothing', async () => {
        expect(await store.listApplications({ limit: 10 })).toEqual({ data: [], iterator: null, prevIterator: null, done: true });
      });

      it('pages ascending forwards to done and back again with prevIterator', async () => {
        const apps: Application[] = [];
        for (let i = 0; i < 7; i++) apps.push(await store.createApplication(makeApp({ name: `app ${i}`, createdAt: at(i), updatedAt: at(i) })));
        const all = ids(apps);

        const first = await store.listApplications({ limit: 3 });
        expect(ids(first.data)).toEqual(all.slice(0, 3));
        expect(first.done).toBe(false);
        expect(first.iterator).toBe(all[2]);
        expect(first.prevIterator).toBe(`-${all[0]}`);

        const second = await store.listApplications({ limit: 3, iterator: first.iterator });
        expect(ids(second.data)).toEqual(all.slice(3, 6));
        expect(second.done).toBe(false);

        const third = await store.listApplications({ limit: 3, iterator: second.iterator });
        expect(ids(third.data)).toEqual(all.slice(6));
        expect(third.done).toBe(true);

        const back = await store.listApplications({ limit: 3, iterator: third.prevIterator });
        expect(ids(back.data)).toEqual(all.slice(3, 6));
        expect(back.done).toBe(false);

        const start = await store.listApplications({ limit: 3, iterator: back.prevIterator });
        expect(ids(start.data)).toEqual(all.slice(0, 3));
        expect(start.done).toBe(true);
      });

      it('pages descending when asked, with the same iterator rules', async () => {
        const apps: Application[] = [];
        for (let i = 0; i < 5; i++) apps.push(await store.createApplication(makeApp({ createdAt: at(i), updatedAt: at(i) })));
        const newestFirst = ids(apps).reverse();

        const pages = await collectPages((iterator) => store.listApplications({ limit: 2, iterator, order: 'descending' }));
        expect(pages.map(ids)).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);

        const back = await store.listApplications({ limit: 2, order: 'descending', iterator: `-${newestFirst[4]}` });
        expect(ids(back.data)).toEqual(newestFirst.slice(2, 4));
        expect(back.done).toBe(false);
      });
    });

    describe('endpoints', () => {
      it('creates, reads by id or uid within the application, updates and round-trips every field', async () => {
        const { app } = await seedApp([]);
        const other = await store.createApplication(makeApp());
        const endpoint = makeEndpoint(app.id, {
          uid: 'billing',
          description: 'Billing hook',
          eventTypes: ['invoice.paid', 'invoice.failed'],
          channels: ['eu'],
          throttleRate: 10,
          version: 2,
          metadata: { team: 'billing' },
          oldSecrets: [{ secret: 'whsec_old', expiresAt: at(3600) }],
          headers: { 'X-Team': 'billing' },
        });
        expect(await store.createEndpoint(endpoint)).toEqual(endpoint);
        expect(await store.getEndpoint(app.id, endpoint.id)).toEqual(endpoint);
        expect(await store.getEndpoint(app.id, 'billing')).toEqual(endpoint);
        expect(await store.getEndpoint(other.id, endpoint.id)).toBeNull();
        expect(await store.getEndpoint(other.id, 'billing')).toBeNull();

        const updated: Endpoint = {
          ...endpoint,
          uid: null,
          url: 'https://receiver.example/v2',
          disabled: true,
          eventTypes: null,
          channels: null,
          oldSecrets: [],
          secret: 'whsec_new',
          headers: {},
          updatedAt: at(60),
        };
        expect(await store.updateEndpoint(updated)).toEqual(updated);
        expect(await store.getEndpoint(app.id, endpoint.id)).toEqual(updated);
        expect(await store.getEndpoint(app.id, 'billing')).toBeNull();
      });

      it('rejects a uid taken in the same application but allows it in another', async () => {
        const { app } = await seedApp([{ uid: 'hook' }]);
        await expect(store.createEndpoint(makeEndpoint(app.id, { uid: 'hook' }))).rejects.toMatchObject({
          code: 'conflict',
          detail: expect.stringContaining("'hook'"),
        });
        const second = await store.createEndpoint(makeEndpoint(app.id, { uid: 'other' }));
        await expect(store.updateEndpoint({ ...second, uid: 'hook' })).rejects.toMatchObject({ code: 'conflict' });
        const other = await store.createApplication(makeApp());
        await store.createEndpoint(makeEndpoint(other.id, { uid: 'hook' }));
      });

      it('reports not_found for an endpoint of a missing application', async () => {
        await expect(store.createEndpoint(makeEndpoint(newId('app')))).rejects.toMatchObject({ code: 'not_found' });
      });

      it('soft-deletes: hides the endpoint, frees its uid and fails its open deliveries', async () => {
        const { app, endpoints } = await seedApp([{ uid: 'hook' }, {}]);
        const [gone, kept] = endpoints as [Endpoint, Endpoint];
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        expect(deliveries).toHaveLength(2);

        expect(await store.deleteEndpoint(app.id, gone.id, at(10))).toBe(true);
        expect(await store.getEndpoint(app.id, gone.id)).toBeNull();
        expect(await store.getEndpoint(app.id, 'hook')).toBeNull();
        expect(ids((await store.listEndpoints(app.id, { limit: 10 })).data)).toEqual([kept.id]);
        expect(await store.deleteEndpoint(app.id, gone.id, at(11))).toBe(false);

        const failed = deliveries.find((d) => d.endpointId === gone.id)!;
        expect(await store.getDelivery(failed.id)).toMatchObject({ status: 'fail', nextAttemptAt: null });
        const untouched = deliveries.find((d) => d.endpointId === kept.id)!;
        expect(await store.getDelivery(untouched.id)).toMatchObject({ status: 'pending' });

        // The uid is free again.
        await store.createEndpoint(makeEndpoint(app.id, { uid: 'hook' }));
      });

      it('does not delete an endpoint through another application', async () => {
        const { endpoints } = await seedApp();
        const other = await store.createApplication(makeApp());
        expect(await store.deleteEndpoint(other.id, endpoints[0]!.id, at(1))).toBe(false);
      });

      it('lists newest first by default and pages both ways', async () => {
        const { app } = await seedApp([]);
        const created: Endpoint[] = [];
        for (let i = 0; i < 5; i++) created.push(await store.createEndpoint(makeEndpoint(app.id, { createdAt: at(i), updatedAt: at(i) })));
        const newestFirst = ids(created).reverse();
        const pages = await collectPages((iterator) => store.listEndpoints(app.id, { limit: 2, iterator }));
        expect(pages.map(ids)).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
        const ascending = await store.listEndpoints(app.id, { limit: 10, order: 'ascending' });
        expect(ids(ascending.data)).toEqual(ids(created));
        const back = await store.listEndpoints(app.id, { limit: 2, iterator: `-${newestFirst[4]}` });
        expect(ids(back.data)).toEqual(newestFirst.slice(2, 4));
      });
    });

    describe('event types', () => {
      it('creates, conflicts on an existing name, saves, deletes', async () => {
        const type = makeEventType('invoice.paid', { schemas: { '1': { type: 'object' } }, featureFlag: 'beta' });
        expect(await store.createEventType(type)).toEqual(type);
        expect(await store.getEventType('invoice.paid')).toEqual(type);
        await expect(store.createEventType(makeEventType('invoice.paid'))).rejects.toMatchObject({
          code: 'conflict',
          detail: expect.stringContaining('invoice.paid'),
        });

        const archived = { ...type, archived: true, deprecated: true, description: 'old', updatedAt: at(60) };
        expect(await store.saveEventType(archived)).toEqual(archived);
        // Archived names still conflict.
        await expect(store.createEventType(makeEventType('invoice.paid'))).rejects.toMatchObject({ code: 'conflict' });
        // Save also inserts.
        const fresh = makeEventType('user.created');
        expect(await store.saveEventType(fresh)).toEqual(fresh);

        expect(await store.deleteEventType('invoice.paid')).toBe(true);
        expect(await store.deleteEventType('invoice.paid')).toBe(false);
        expect(await store.getEventType('invoice.paid')).toBeNull();
      });

      it('lists by name, hides archived unless asked, and pages by name', async () => {
        for (const name of ['d.four', 'a.one', 'c.three', 'b.two', 'e.five']) {
          await store.createEventType(makeEventType(name, { archived: name === 'c.three' }));
        }
        const names = (page: Page<EventType>): string[] => page.data.map((t) => t.name);
        expect(names(await store.listEventTypes({ limit: 10, includeArchived: false }))).toEqual(['a.one', 'b.two', 'd.four', 'e.five']);
        const first = await store.listEventTypes({ limit: 2, includeArchived: true });
        expect(names(first)).toEqual(['a.one', 'b.two']);
        expect(first.iterator).toBe('b.two');
        const second = await store.listEventTypes({ limit: 2, includeArchived: true, iterator: first.iterator });
        expect(names(second)).toEqual(['c.three', 'd.four']);
        const third = await store.listEventTypes({ limit: 2, includeArchived: true, iterator: second.iterator });
        expect(names(third)).toEqual(['e.five']);
        expect(third.done).toBe(true);
        const back = await store.listEventTypes({ limit: 2, includeArchived: true, iterator: third.prevIterator });
        expect(names(back)).toEqual(['c.three', 'd.four']);
      });
    });

    describe('messages and fan-out', () => {
      it('accepts messages made together, each with its own fan-out and its own answer', async () => {
        // Accepts made in the same turn share a commit (and on PostgreSQL one statement); a bad one
        // among them must fail alone, and each must get exactly the deliveries it would alone.
        const { app, endpoints } = await seedApp([{}, { eventTypes: ['user.created'] }, { channels: ['eu'] }]);
        const [all, userOnly, eu] = endpoints as [Endpoint, Endpoint, Endpoint];
        const wide = await seedApp([{}, {}, {}, {}, {}, {}]);
        const targets = (r: { deliveries: Delivery[] }): string[] => r.deliveries.map((d) => d.endpointId).sort();
        const results = await Promise.allSettled([
          store.createMessage(makeMessage(app.id, { eventType: 'user.created', eventId: 'evt-1' }), at(1)),
          store.createMessage(makeMessage(app.id, { channels: ['eu'] }), at(1)),
          store.createMessage(makeMessage(app.id, { eventId: 'evt-1' }), at(1)),
          store.createMessage(makeMessage(newId('app')), at(1)),
          store.createMessage(makeMessage(app.id), at(1), { endpointIds: [userOnly.id] }),
          store.createMessage(makeMessage(wide.app.id), at(1)),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
        const value = (i: number) => (results[i] as PromiseFulfilledResult<{ message: Message; deliveries: Delivery[] }>).value;
        expect(targets(value(0))).toEqual([all.id, userOnly.id].sort());
        expect(value(0).message).toMatchObject({ eventId: 'evt-1', eventType: 'user.created' });
        expect(targets(value(1))).toEqual([all.id, eu.id].sort());
        expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
        expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'not_found' });
        expect(targets(value(4))).toEqual([userOnly.id]);
        expect(targets(value(5))).toEqual(wide.endpoints.map((e) => e.id).sort());
        for (const i of [0, 1, 4, 5]) {
          const { message, deliveries } = value(i);
          expect(await store.getMessage(message.appId, message.id)).toEqual(message);
          for (const delivery of deliveries) expect(await store.getDelivery(delivery.id)).toEqual(delivery);
        }
        expect((await store.listMessages(app.id, { limit: 10 })).data).toHaveLength(3);

        // And a batch where every message is fine.
        const again = await Promise.all([
          store.createMessage(makeMessage(app.id, { eventType: 'user.created' }), at(2)),
          store.createMessage(makeMessage(app.id, { channels: ['eu'], eventId: 'evt-2' }), at(2)),
          store.createMessage(makeMessage(wide.app.id), at(2)),
        ]);
        expect(again.map(targets)).toEqual([[all.id, userOnly.id].sort(), [all.id, eu.id].sort(), wide.endpoints.map((e) => e.id).sort()]);
        for (const { message, deliveries } of again) {
          expect(await store.getMessage(message.appId, message.id)).toEqual(message);
          for (const delivery of deliveries) {
            expect(delivery).toMatchObject({ msgId: message.id, status: 'pending', attemptCount: 0, nextAttemptAt: at(2) });
            expect(await store.getDelivery(delivery.id)).toEqual(delivery);
          }
        }
      });

      it('fans out to matching endpoints only: event-type filter, channels, disabled and deleted skipped', async () => {
        const { app, endpoints } = await seedApp([
          {}, // everything
          { eventTypes: ['invoice.paid'] },
          { eventTypes: ['user.created'] },
          { channels: ['eu'] },
          { channels: ['us'] },
          { disabled: true },
          {}, // deleted below
        ]);
        const [all, paidOnly, userOnly, eu, us, disabled, deleted] = endpoints as Endpoint[];
        void userOnly;
        void us;
        void disabled;
        await store.deleteEndpoint(app.id, deleted!.id, at(0));

        const withChannel = await store.createMessage(makeMessage(app.id, { channels: ['eu', 'asia'] }), at(5));
        expect(withChannel.deliveries.map((d) => d.endpointId).sort()).toEqual([all!.id, paidOnly!.id, eu!.id].sort());
        for (const delivery of withChannel.deliveries) {
          expect(delivery).toMatchObject({
            msgId: withChannel.message.id,
            appId: app.id,
            status: 'pending',
            triggerType: 'scheduled',
            attemptCount: 0,
            nextAttemptAt: at(5),
            lockedUntil: null,
          });
          expect(await store.getDelivery(delivery.id)).toEqual(delivery);
        }

        // A message without channels never reaches an endpoint restricted to channels.
        const noChannel = await store.createMessage(makeMessage(app.id), at(6));
        expect(noChannel.deliveries.map((d) => d.endpointId).sort()).toEqual([all!.id, paidOnly!.id].sort());

        const otherType = await store.createMessage(makeMessage(app.id, { eventType: 'user.created', channels: ['us'] }), at(7));
        expect(otherType.deliveries.map((d) => d.endpointId).sort()).toEqual([all!.id, userOnly!.id, us!.id].sort());
      });

      it('fans out only to the named endpoints when given endpointIds, ignoring filters but not disabled ones', async () => {
        const { app, endpoints } = await seedApp([{ eventTypes: ['user.created'] }, { channels: ['eu'] }, { disabled: true }, {}]);
        const [otherType, channel, disabled, unnamed] = endpoints as Endpoint[];
        void unnamed;
        const other = await store.createApplication(makeApp());
        const foreign = await store.createEndpoint(makeEndpoint(other.id));
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(0), {
          endpointIds: [otherType!.id, channel!.id, disabled!.id, foreign.id],
        });
        expect(deliveries.map((d) => d.endpointId).sort()).toEqual([otherType!.id, channel!.id].sort());
        expect((await store.createMessage(makeMessage(app.id), at(1), { endpointIds: [] })).deliveries).toEqual([]);
      });

      it('creates a message with no endpoints and keeps the payload byte-for-byte', async () => {
        const { app } = await seedApp([]);
        const payload = ' {"b": 1,\n  "a": "caf\u00e9 \\u00e9 \u{1F600}", "n": 1.50}  ';
        const message = makeMessage(app.id, { payload, eventId: 'evt-1', channels: ['eu'] });
        const created = await store.createMessage(message, at(0));
        expect(created).toEqual({ message, deliveries: [] });
        expect((await store.getMessage(app.id, message.id))?.payload).toBe(payload);
        expect(await store.getMessage(app.id, 'evt-1')).toEqual(message);
      });

      it('rejects an eventId taken in the same application but allows it in another', async () => {
        const { app } = await seedApp();
        await store.createMessage(makeMessage(app.id, { eventId: 'evt-1' }), at(0));
        await expect(store.createMessage(makeMessage(app.id, { eventId: 'evt-1' }), at(1))).rejects.toMatchObject({
          code: 'conflict',
          detail: expect.stringContaining("'evt-1'"),
        });
        // The failed create queued nothing.
        expect(await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 1000 })).toHaveLength(1);
        const other = await store.createApplication(makeApp());
        await store.createMessage(makeMessage(other.id, { eventId: 'evt-1' }), at(2));
        expect(await store.getMessage(other.id, 'evt-1')).not.toBeNull();
      });

      it('fans out to any number of endpoints, message after message, as the set of endpoints changes', async () => {
        const { app, endpoints } = await seedApp(Array.from({ length: 7 }, () => ({})));
        for (let round = 0; round < 2; round++) {
          const { message, deliveries } = await store.createMessage(makeMessage(app.id), at(round));
          expect(deliveries.map((d) => d.endpointId).sort()).toEqual(endpoints.map((e) => e.id).sort());
          expect(new Set(deliveries.map((d) => d.id)).size).toBe(7);
          expect(deliveries.every((d) => d.msgId === message.id && d.status === 'pending' && d.attemptCount === 0)).toBe(true);
        }
        const more = await store.createEndpoint(makeEndpoint(app.id));
        expect((await store.createMessage(makeMessage(app.id), at(3))).deliveries).toHaveLength(8);
        for (const endpoint of [...endpoints.slice(2), more]) await store.deleteEndpoint(app.id, endpoint.id, at(4));
        expect((await store.createMessage(makeMessage(app.id), at(5))).deliveries).toHaveLength(2);
        expect((await store.createMessage(makeMessage(app.id), at(6), { endpointIds: [endpoints[1]!.id] })).deliveries.map((d) => d.endpointId)).toEqual([endpoints[1]!.id]);
      });

      it('keeps concurrent writes independent: one failing create takes no other down', async () => {
        const { app } = await seedApp();
        await store.createMessage(makeMessage(app.id, { eventId: 'taken' }), at(0));
        // Issued together, as concurrent API requests are (on SQLite they share one commit).
        const results = await Promise.allSettled(
          Array.from({ length: 9 }, (_, i) => store.createMessage(makeMessage(app.id, { eventId: i === 4 ? 'taken' : `evt-${i}` }), at(1 + i))),
        );
        expect(results.map((r) => r.status)).toEqual(Array.from({ length: 9 }, (_, i) => (i === 4 ? 'rejected' : 'fulfilled')));
        expect((results[4] as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
        for (let i = 0; i < 9; i++) {
          if (i !== 4) expect(await store.getMessage(app.id, `evt-${i}`)).not.toBeNull();
        }
        // The original and the 8 new messages each queued one delivery; the failed one queued nothing.
        expect(await store.claimDueDeliveries({ now: at(100), limit: 100, leaseMs: 1000 })).toHaveLength(9);
      });

      it('does not find a message through another application', async () => {
        const { app } = await seedApp();
        const other = await store.createApplication(makeApp());
        const { message } = await store.createMessage(makeMessage(app.id, { eventId: 'e' }), at(0));
        expect(await store.getMessage(other.id, message.id)).toBeNull();
        expect(await store.getMessage(other.id, 'e')).toBeNull();
      });

      it('lists newest first with before/after, channel and event-type filters', async () => {
        const { app } = await seedApp([]);
        const messages: Message[] = [];
        for (let i = 0; i < 6; i++) {
          const message = makeMessage(app.id, {
            createdAt: at(i * 10),
            eventType: i % 2 === 0 ? 'invoice.paid' : 'user.created',
            channels: i < 3 ? ['eu'] : null,
          });
          messages.push((await store.createMessage(message, message.createdAt)).message);
        }
        const newestFirst = ids(messages).reverse();
        const pages = await collectPages((iterator) => store.listMessages(app.id, { limit: 4, iterator }));
        expect(pages.map(ids)).toEqual([newestFirst.slice(0, 4), newestFirst.slice(4)]);

        const list = async (query: Parameters<Store['listMessages']>[1]): Promise<string[]> => ids((await store.listMessages(app.id, query)).data);
        expect(await list({ limit: 10, before: at(30) })).toEqual(ids(messages.slice(0, 3)).reverse());
        expect(await list({ limit: 10, after: at(30) })).toEqual(ids(messages.slice(4)).reverse());
        expect(await list({ limit: 10, after: at(10), before: at(40) })).toEqual(ids(messages.slice(2, 4)).reverse());
        expect(await list({ limit: 10, channel: 'eu' })).toEqual(ids(messages.slice(0, 3)).reverse());
        expect(await list({ limit: 10, eventTypes: ['user.created'] })).toEqual([messages[5]!.id, messages[3]!.id, messages[1]!.id]);
        expect(await list({ limit: 10, eventTypes: ['invoice.paid'], channel: 'eu' })).toEqual([messages[2]!.id, messages[0]!.id]);
        expect(await list({ limit: 10, order: 'ascending' })).toEqual(ids(messages));
      });

      it('expunges one payload and expires payloads past retention, bounded by the limit', async () => {
        const { app } = await seedApp([]);
        const short = (createdAt: Date): Message => makeMessage(app.id, { createdAt, payloadExpiresAt: new Date(createdAt.getTime() + 60_000) });
        const expiring = [short(at(0)), short(at(1)), short(at(2))];
        for (const message of expiring) await store.createMessage(message, message.createdAt);
        const { message: lasting } = await store.createMessage(makeMessage(app.id), at(0));

        expect(await store.expungeMessageContent(app.id, lasting.id)).toBe(true);
        expect((await store.getMessage(app.id, lasting.id))?.payload).toBeNull();
        expect(await store.expungeMessageContent(app.id, newId('msg'))).toBe(false);

        // They expire at 60, 61 and 62 s; the lasting one (expunged above) is left alone.
        expect(await store.expireMessagePayloads(at(59), 10)).toBe(0);
        expect(await store.expireMessagePayloads(at(62), 2)).toBe(2);
        expect(await store.expireMessagePayloads(at(62), 2)).toBe(1);
        expect(await store.expireMessagePayloads(at(62), 2)).toBe(0);
        for (const message of expiring) expect((await store.getMessage(app.id, message.id))?.payload).toBeNull();
      });

      it('prunes attempts older than a time in bounded batches, keeping newer ones and the deliveries', async () => {
        const { app } = await seedApp();
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        const delivery = deliveries[0]!;
        const [job] = await store.claimDueDeliveries({ now: at(0), limit: 1, leaseMs: 1000 });
        await attempt(job!.delivery, { status: 'sending', nextAttemptAt: at(10) }, at(1));
        for (const t of [10, 20, 30]) {
          const [retry] = await store.claimDueDeliveries({ now: at(t), limit: 1, leaseMs: 1000 });
          await attempt(retry!.delivery, t === 30 ? { status: 'success' } : { status: 'sending', nextAttemptAt: at(t + 10) }, at(t));
        }
        expect(await store.pruneAttempts(at(0), 10)).toBe(0);
        expect(await store.pruneAttempts(at(25), 2)).toBe(2);
        expect(await store.pruneAttempts(at(25), 2)).toBe(1);
        expect(await store.pruneAttempts(at(25), 2)).toBe(0);
        const left = await store.listAttempts(app.id, { limit: 10, msgId: delivery.msgId });
        expect(left.data.map((a) => a.timestamp)).toEqual([at(30)]);
        expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'success', attemptCount: 4 });
      });
    });

    describe('queue', () => {
      it('claims due deliveries oldest first with message and endpoint, leasing without changing status', async () => {
        const { app, endpoints } = await seedApp();
        const first = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
        const second = await store.createMessage(makeMessage(app.id, { createdAt: at(1) }), at(1));
        await store.createMessage(makeMessage(app.id, { createdAt: at(2) }), at(100)); // due later

        const jobs = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 30_000 });
        expect(jobs.map((j) => j.delivery.id)).toEqual([first.deliveries[0]!.id, second.deliveries[0]!.id]);
        expect(jobs[0]!.message).toEqual(first.message);
        expect(jobs[0]!.endpoint).toEqual(endpoints[0]);
        expect(jobs[0]!.delivery).toMatchObject({ status: 'pending', attemptCount: 0, lockedUntil: at(40) });
        expect(await store.getDelivery(first.deliveries[0]!.id)).toMatchObject({ status: 'pending', lockedUntil: at(40) });

        // Leased: nobody else gets them until the lease runs out.
        expect(await store.claimDueDeliveries({ now: at(39), limit: 10, leaseMs: 30_000 })).toEqual([]);
        const again = await store.claimDueDeliveries({ now: at(40), limit: 1, leaseMs: 30_000 });
        expect(again.map((j) => j.delivery.id)).toEqual([first.deliveries[0]!.id]);
      });

      it('never hands the same delivery to two concurrent claimers', async () => {
        const { app } = await seedApp([{}, {}, {}]);
        for (let i = 0; i < 4; i++) await store.createMessage(makeMessage(app.id), at(0));
        const claims = await Promise.all(
          Array.from({ length: 5 }, () => store.claimDueDeliveries({ now: at(1), limit: 3, leaseMs: 30_000 })),
        );
        const claimed = claims.flat().map((j) => j.delivery.id);
        expect(claimed).toHaveLength(12);
        expect(new Set(claimed).size).toBe(12);
      });

      it('records a successful attempt: final status, count, lease and due time cleared', async () => {
        const { app } = await seedApp();
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
        const record = await attempt(job!.delivery, { status: 'success' }, at(2));
        expect(await store.getDelivery(deliveries[0]!.id)).toMatchObject({
          status: 'success',
          attemptCount: 1,
          nextAttemptAt: null,
          lockedUntil: null,
          updatedAt: at(2),
        });
        expect(await store.getAttempt(app.id, record.msgId, record.id)).toEqual(record);
        expect(await store.nextDueAt()).toBeNull();
        expect(await store.claimDueDeliveries({ now: at(1000), limit: 10, leaseMs: 1 })).toEqual([]);
      });

      it('reschedules a retry and makes it claimable only when due', async () => {
        const { app } = await seedApp();
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
        await attempt(job!.delivery, { status: 'sending', nextAttemptAt: at(300) }, at(2));
        expect(await store.getDelivery(deliveries[0]!.id)).toMatchObject({
          status: 'sending',
          attemptCount: 1,
          nextAttemptAt: at(300),
          lockedUntil: null,
        });
        expect(await store.nextDueAt()).toEqual(at(300));
        expect(await store.claimDueDeliveries({ now: at(299), limit: 10, leaseMs: 1000 })).toEqual([]);
        const [retry] = await store.claimDueDeliveries({ now: at(300), limit: 10, leaseMs: 1000 });
        expect(retry!.delivery).toMatchObject({ id: deliveries[0]!.id, status: 'sending', attemptCount: 1 });
      });

      it('fails a delivery for good and disables the endpoint in the same step when asked', async () => {
        const { app, endpoints } = await seedApp();
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
        await store.completeAttempt({
          attempt: makeAttempt(job!.delivery, { status: 'fail', responseStatusCode: 410, timestamp: at(2) }),
          outcome: { status: 'fail' },
          disableEndpoint: true,
          now: at(2),
        });
        expect(await store.getDelivery(deliveries[0]!.id)).toMatchObject({ status: 'fail', attemptCount: 1, nextAttemptAt: null });
        expect(await store.getEndpoint(app.id, endpoints[0]!.id)).toMatchObject({ disabled: true, updatedAt: at(2) });
        // A disabled endpoint gets no new deliveries.
        expect((await store.createMessage(makeMessage(app.id), at(3))).deliveries).toEqual([]);
      });

      it('hands out a null endpoint when the endpoint was deleted while the delivery was in flight', async () => {
        const { app, endpoints } = await seedApp();
        await store.createMessage(makeMessage(app.id), at(0));
        const [job] = await store.claimDueDeliveries({ now: at(1), limit: 1, leaseMs: 30_000 });
        await store.deleteEndpoint(app.id, endpoints[0]!.id, at(2));
        await attempt(job!.delivery, { status: 'sending', nextAttemptAt: at(10) }, at(3));
        const [orphan] = await store.claimDueDeliveries({ now: at(10), limit: 1, leaseMs: 30_000 });
        expect(orphan!.endpoint).toBeNull();
        expect(orphan!.message.id).toBe(job!.message.id);
      });

      it('reports when the next delivery becomes claimable, counting leases, and null when nothing waits', async () => {
        const { app } = await seedApp();
        expect(await store.nextDueAt()).toBeNull();
        await store.createMessage(makeMessage(app.id), at(50));
        await store.createMessage(makeMessage(app.id), at(20));
        expect(await store.nextDueAt()).toEqual(at(20));
        // The one due at 20 is leased until 30 + 60 s; the one due at 50 is next.
        await store.claimDueDeliveries({ now: at(30), limit: 1, leaseMs: 60_000 });
        expect(await store.nextDueAt()).toEqual(at(50));
        await store.claimDueDeliveries({ now: at(60), limit: 1, leaseMs: 60_000 });
        expect(await store.nextDueAt()).toEqual(new Date(at(30).getTime() + 60_000));
      });

      it('queues a manual delivery due now, only for a message and endpoint of the application', async () => {
        const { app, endpoints } = await seedApp();
        const { message } = await store.createMessage(makeMessage(app.id), at(0));
        const deliveryId = newId('msgep', at(100).getTime());
        const manual = await store.createManualDelivery({ deliveryId, appId: app.id, msgId: message.id, endpointId: endpoints[0]!.id, now: at(100) });
        expect(manual).toEqual({
          id: deliveryId,
          msgId: message.id,
          appId: app.id,
          endpointId: endpoints[0]!.id,
          status: 'pending',
          triggerType: 'manual',
          attemptCount: 0,
          nextAttemptAt: at(100),
          lockedUntil: null,
          createdAt: at(100),
          updatedAt: at(100),
        });
        const other = await store.createApplication(makeApp());
        await expect(
          store.createManualDelivery({ deliveryId: newId('msgep'), appId: other.id, msgId: message.id, endpointId: endpoints[0]!.id, now: at(100) }),
        ).rejects.toMatchObject({ code: 'not_found' });
      });

      it('ends older waiting retries of the same message and endpoint when a later delivery succeeds', async () => {
        const { app, endpoints } = await seedApp([{}, {}]);
        const { message, deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        const scheduled = deliveries.find((d) => d.endpointId === endpoints[0]!.id)!;
        const other = deliveries.find((d) => d.endpointId === endpoints[1]!.id)!;
        // Both scheduled deliveries fail once and wait to retry at 300.
        const claimed = await store.claimDueDeliveries({ now: at(1), limit: 10, leaseMs: 1000 });
        for (const job of claimed) await attempt(job.delivery, { status: 'sending', nextAttemptAt: at(300) }, at(2));
        // A resend to the first endpoint gets through.
        await store.createManualDelivery({ deliveryId: newId('msgep', at(10).getTime()), appId: app.id, msgId: message.id, endpointId: endpoints[0]!.id, now: at(10) });
        const [manual] = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 1000 });
        expect(manual!.delivery.triggerType).toBe('manual');
        await attempt(manual!.delivery, { status: 'success' }, at(11));
        expect(await store.getDelivery(scheduled.id)).toMatchObject({ status: 'success', nextAttemptAt: null, attemptCount: 1 });
        // The other endpoint's retry is untouched and still runs.
        expect(await store.getDelivery(other.id)).toMatchObject({ status: 'sending', nextAttemptAt: at(300) });
        const due = await store.claimDueDeliveries({ now: at(300), limit: 10, leaseMs: 1000 });
        expect(due.map((j) => j.delivery.id)).toEqual([other.id]);
      });

      it('recovers only messages in [since, until) whose latest delivery failed', async () => {
        const { app, endpoints } = await seedApp();
        const endpoint = endpoints[0]!;
        const send = async (createdAt: Date, outcome: DeliveryOutcome): Promise<Message> => {
          const { message, deliveries } = await store.createMessage(makeMessage(app.id, { createdAt }), createdAt);
          await attempt(deliveries[0]!, outcome, createdAt);
          return message;
        };
        const before = await send(at(-1), { status: 'fail' });
        const failed = await send(at(0), { status: 'fail' });
        const resent = await send(at(10), { status: 'fail' });
        await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: resent.id, endpointId: endpoint.id, now: at(20) });
        const succeeded = await send(at(30), { status: 'success' });
        const retrying = await send(at(40), { status: 'sending', nextAttemptAt: at(1000) });
        const atUntil = await send(at(100), { status: 'fail' });
        void before;
        void succeeded;
        void retrying;
        void atUntil;

        const count = await store.recoverFailedDeliveries({ appId: app.id, endpointId: endpoint.id, since: at(0), until: at(100), now: at(200) });
        expect(count).toBe(1);
        const destinations = await store.listMessageDestinations(app.id, failed.id, { limit: 10 });
        expect(destinations.data[0]!.delivery).toMatchObject({ status: 'pending', triggerType: 'manual', nextAttemptAt: at(200), attemptCount: 0 });
        // Its latest delivery is now pending, so a second recovery finds nothing.
        expect(await store.recoverFailedDeliveries({ appId: app.id, endpointId: endpoint.id, since: at(0), until: at(100), now: at(201) })).toBe(0);
      });
    });

    describe('endpoint limits', () => {
      /** One message per time in `dueAt` (ms after T0), queued for the given endpoints only. */
      async function queueTo(appId: string, endpointIds: string[], dueAt: number[]): Promise<Delivery[]> {
        const queued: Delivery[] = [];
        for (const ms of dueAt) {
          const now = new Date(T0 + ms);
          queued.push(...(await store.createMessage(makeMessage(appId, { createdAt: now }), now, { endpointIds })).deliveries);
        }
        return queued;
      }
      const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
      const claim = (now: Date, limit: number, more: Partial<ClaimDeliveriesInput> = {}): Promise<DeliveryJob[]> =>
        store.claimDueDeliveries({ now, limit, leaseMs: 60_000, ...more });
      const claimedIds = (jobs: DeliveryJob[]): string[] => jobs.map((job) => job.delivery.id);
      const perEndpoint = (jobs: DeliveryJob[]): Record<string, number> => {
        const counts: Record<string, number> = {};
        for (const job of jobs) counts[job.delivery.endpointId] = (counts[job.delivery.endpointId] ?? 0) + 1;
        return counts;
      };

      it('stores an endpoint’s own concurrency limit; without one it follows the server default', async () => {
        const { app, endpoints } = await seedApp([{ concurrencyLimit: 3 }, {}]);
        const [limited, unlimited] = endpoints as [Endpoint, Endpoint];
        expect(await store.getEndpoint(app.id, limited.id)).toMatchObject({ concurrencyLimit: 3 });
        expect(await store.getEndpoint(app.id, unlimited.id)).not.toHaveProperty('concurrencyLimit');
        expect(await store.updateEndpoint({ ...unlimited, concurrencyLimit: 7 })).toMatchObject({ concurrencyLimit: 7 });
        const { concurrencyLimit: _, ...rest } = limited;
        expect(await store.updateEndpoint(rest)).not.toHaveProperty('concurrencyLimit');
      });

      it('leases at most an endpoint’s limit, oldest first, and parks the rest keeping their due time', async () => {
        const { app, endpoints } = await seedApp([{ concurrencyLimit: 2 }]);
        const queued = await queueTo(app.id, [endpoints[0]!.id], range(0, 5));
        const first = await claim(at(10), 10);
        expect(claimedIds(first)).toEqual([queued[0]!.id, queued[1]!.id]);
        expect(await claim(at(11), 10)).toEqual([]);
        // Waiting behind the limit is still due, and reads so.
        expect(await store.getDelivery(queued[2]!.id)).toMatchObject({ status: 'pending', nextAttemptAt: queued[2]!.nextAttemptAt, lockedUntil: null });
        expect(await store.queueSnapshot(at(11))).toMatchObject({ pending: 3, due: 3, oldestDueAt: queued[2]!.nextAttemptAt });
        // An attempt ends: the free slot goes to the oldest waiting delivery.
        await attempt(first[0]!.delivery, { status: 'success' }, at(12));
        expect(claimedIds(await claim(at(12), 10))).toEqual([queued[2]!.id]);
        // A lease that runs out (its worker died) frees its slot too, and its delivery is due again first.
        expect(claimedIds(await claim(at(70), 10))).toEqual([queued[1]!.id]);
        expect((await claim(at(70), 10)).length).toBe(0);
      });

      it('applies the default limit to endpoints without their own, and none when there is no default', async () => {
        const { app, endpoints } = await seedApp([{ concurrencyLimit: 3 }, {}]);
        const [own, byDefault] = endpoints as [Endpoint, Endpoint];
        await queueTo(app.id, [own.id, byDefault.id], range(0, 5));
        expect(perEndpoint(await claim(at(10), 20, { endpointConcurrency: 1 }))).toEqual({ [own.id]: 3, [byDefault.id]: 1 });
        expect(perEndpoint(await claim(at(11), 20))).toEqual({ [byDefault.id]: 4 });
      });

      it('reaches other endpoints past the backlog of one at its limit, in one claim', async () => {
        const { app, endpoints } = await seedApp([{ concurrencyLimit: 1 }, {}]);
        const [blocked, healthy] = endpoints as [Endpoint, Endpoint];
        const backlog = await queueTo(app.id, [blocked.id], range(0, 300));
        const fresh = await queueTo(app.id, [healthy.id], range(1000, 3));
        const jobs = await claim(at(10), 4);
        expect(claimedIds(jobs)).toEqual([backlog[0]!.id, ...fresh.map((d) => d.id)]);
        // Nothing more until the blocked endpoint's attempt ends; then its oldest waiting one.
        expect(await claim(at(11), 4)).toEqual([]);
        await attempt(jobs[0]!.delivery, { status: 'sending', nextAttemptAt: at(500) }, at(12));
        expect(claimedIds(await claim(at(12), 4))).toEqual([backlog[1]!.id]);
      });

      it('starts a throttled endpoint’s attempts no faster than its rate, after a burst of 100 ms worth', async () => {
        // 20 per second: one every 50 ms, two at once.
        const { app, endpoints } = await seedApp([{ throttleRate: 20 }]);
        await queueTo(app.id, [endpoints[0]!.id], range(0, 10));
        const t = at(1).getTime();
        const claimAt = async (ms: number): Promise<number> => (await claim(new Date(t + ms), 10)).length;
        expect(await claimAt(0)).toBe(2);
        expect(await claimAt(49)).toBe(0);
        expect(await store.nextDueAt({ now: new Date(t + 49) })).toEqual(new Date(t + 50));
        expect(await claimAt(50)).toBe(1);
        expect(await claimAt(60)).toBe(0);
        expect(await claimAt(100)).toBe(1);
        // After a pause, a burst again (never more).
        expect(await claimAt(5000)).toBe(2);
        expect(await claimAt(5000)).toBe(0);
      });

      it('reports when an endpoint at its limit can take its next waiting delivery', async () => {
        const { app, endpoints } = await seedApp([{ concurrencyLimit: 1 }]);
        const queued = await queueTo(app.id, [endpoints[0]!.id], range(0, 3));
        const [job] = await claim(at(10), 10);
        // Its slot frees at the latest when the lease ends; without a time, the parked ones count as due.
        expect(await store.nextDueAt({ now: at(10) })).toEqual(new Date(at(10).getTime() + 60_000));
        expect(await store.nextDueAt()).toEqual(queued[1]!.nextAttemptAt);
        // Once its attempt ends, the oldest waiting one is due at once.
        await attempt(job!.delivery, { status: 'success' }, at(11));
        expect(await store.nextDueAt({ now: at(11) })).toEqual(queued[1]!.nextAttemptAt);
      });

      it('takes at most maxRetries retries, so first attempts due later still get slots', async () => {
        const { app, endpoints } = await seedApp([{}]);
        await queueTo(app.id, [endpoints[0]!.id], range(0, 6));
        for (const job of await claim(at(1), 10)) await attempt(job.delivery, { status: 'sending', nextAttemptAt: at(2) }, at(1));
        const fresh = await queueTo(app.id, [endpoints[0]!.id], range(3000, 2));
        const jobs = await claim(at(5), 4, { maxRetries: 1 });
        expect(jobs.map((j) => j.delivery.attemptCount)).toEqual([1, 0, 0]);
        expect(claimedIds(jobs).slice(1)).toEqual(fresh.map((d) => d.id));
        expect(await claim(at(5), 4, { maxRetries: 0 })).toEqual([]);
        expect(await claim(at(5), 10)).toHaveLength(5);
      });

      it('never leases more than an endpoint’s limit to concurrent claimers', async () => {
        const { app, endpoints } = await seedApp([{ concurrencyLimit: 3 }, { concurrencyLimit: 2 }, {}]);
        const [three, two, free] = endpoints as [Endpoint, Endpoint, Endpoint];
        await queueTo(app.id, endpoints.map((e) => e.id), range(0, 10));
        const claims = await Promise.all(Array.from({ length: 8 }, () => claim(at(10), 4, { endpointConcurrency: null })));
        const all = claims.flat();
        expect(new Set(claimedIds(all)).size).toBe(all.length);
        const counts = perEndpoint(all);
        expect(counts[three.id] ?? 0).toBeLessThanOrEqual(3);
        expect(counts[two.id] ?? 0).toBeLessThanOrEqual(2);
        // A later claim tops each limited endpoint up to exactly its limit, never past it.
        const after = perEndpoint([...all, ...(await claim(at(11), 40))]);
        expect(after).toEqual({ [three.id]: 3, [two.id]: 2, [free.id]: 10 });
      });
    });

    describe('attempts, destinations and stats', () => {
      it('records attempts finished together each with its own outcome, and an endpoint streak in their order', async () => {
        // Attempts recorded in the same turn share a commit (and on PostgreSQL one statement); a
        // bad one among them must fail alone, and a failure then a success of one endpoint must
        // leave it healthy, as if they had been recorded one by one.
        const { app, endpoints } = await seedApp([{}, {}, {}]);
        const [a, b, c] = endpoints as [Endpoint, Endpoint, Endpoint];
        await store.createMessage(makeMessage(app.id), at(0));
        await store.createMessage(makeMessage(app.id), at(0));
        const jobs = await store.claimDueDeliveries({ now: at(1), limit: 10, leaseMs: 30_000 });
        expect(jobs).toHaveLength(6);
        const to = (endpoint: Endpoint): Delivery[] => jobs.filter((j) => j.delivery.endpointId === endpoint.id).map((j) => j.delivery);
        const complete = (delivery: Delivery, ok: boolean, second: number) =>
          store.completeAttempt({
            attempt: makeAttempt(delivery, { timestamp: at(second), status: ok ? 'success' : 'fail', responseStatusCode: ok ? 200 : 500 }),
            outcome: ok ? { status: 'success' } : { status: 'sending', nextAttemptAt: at(100) },
            disableEndpoint: false,
            now: at(second),
            health: ok ? 'success' : 'failure',
          });
        const results = await Promise.all([
          complete(to(a)[0]!, true, 2),
          complete(to(b)[0]!, false, 2),
          complete(to(c)[0]!, false, 2),
          complete(to(a)[1]!, true, 3),
          complete(to(b)[1]!, false, 3),
          complete(to(c)[1]!, true, 3),
        ]);
        expect(results).toEqual(Array(6).fill({ endpointDisabled: false }));
        for (const job of jobs) {
          expect(await store.getDelivery(job.delivery.id)).toMatchObject({
            attemptCount: 1,
            lockedUntil: null,
            status: job.delivery.endpointId === b.id ? 'sending' : job.delivery.endpointId === a.id ? 'success' : expect.any(String),
          });
        }
        expect((await store.listAttempts(app.id, { limit: 20 })).data).toHaveLength(6);
        expect((await store.getEndpoint(app.id, a.id))!.failingSince).toBeUndefined();
        expect((await store.getEndpoint(app.id, b.id))!.failingSince).toEqual(at(2));
        expect((await store.getEndpoint(app.id, c.id))!.failingSince).toBeUndefined();

        // One attempt of a delivery that does not exist, among good ones: only it fails.
        await store.createMessage(makeMessage(app.id), at(4));
        const next = await store.claimDueDeliveries({ now: at(5), limit: 10, leaseMs: 30_000 });
        expect(next).toHaveLength(3);
        const ghost = { ...next[0]!.delivery, id: newId('msgep', at(5).getTime()) };
        const settled = await Promise.allSettled([complete(next[0]!.delivery, true, 6), complete(ghost, true, 6), complete(next[1]!.delivery, true, 6), complete(next[2]!.delivery, false, 6)]);
        expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'not_found' });
        expect((await store.listAttempts(app.id, { limit: 20 })).data).toHaveLength(9);
      });

      it('lists attempts newest first, filtered by status, endpoint, message and status-code class', async () => {
        const { app, endpoints } = await seedApp([{}, {}]);
        const [a, b] = endpoints as [Endpoint, Endpoint];
        const { message, deliveries } = await store.createMessage(makeMessage(app.id, { channels: ['eu'] }), at(0));
        const toA = deliveries.find((d) => d.endpointId === a.id)!;
        const toB = deliveries.find((d) => d.endpointId === b.id)!;
        const first = await attempt(toA, { status: 'sending', nextAttemptAt: at(5) }, at(1), { responseStatusCode: 503 });
        const second = await attempt(toB, { status: 'sending', nextAttemptAt: at(5) }, at(2), { responseStatusCode: 0, response: 'ECONNREFUSED' });
        const third = await attempt(toA, { status: 'success' }, at(6));
        const { message: later, deliveries: laterDeliveries } = await store.createMessage(makeMessage(app.id, { eventType: 'user.created' }), at(7));
        const fourth = await attempt(laterDeliveries.find((d) => d.endpointId === b.id)!, { status: 'fail' }, at(8), { responseStatusCode: 404 });

        const list = async (query: Omit<Parameters<Store['listAttempts']>[1], 'limit'>): Promise<string[]> =>
          ids((await store.listAttempts(app.id, { limit: 10, ...query })).data);
        expect(await list({})).toEqual(ids([fourth, third, second, first]));
        expect(await list({ status: 'success' })).toEqual([third.id]);
        expect(await list({ status: 'fail' })).toEqual(ids([fourth, second, first]));
        expect(await list({ endpointId: a.id })).toEqual(ids([third, first]));
        expect(await list({ msgId: message.id })).toEqual(ids([third, second, first]));
        expect(await list({ msgId: message.id, endpointId: b.id })).toEqual([second.id]);
        expect(await list({ msgId: later.id })).toEqual([fourth.id]);
        expect(await list({ statusCodeClass: 0 })).toEqual([second.id]);
        expect(await list({ statusCodeClass: 200 })).toEqual([third.id]);
        expect(await list({ statusCodeClass: 400 })).toEqual([fourth.id]);
        expect(await list({ statusCodeClass: 500 })).toEqual([first.id]);
        expect(await list({ channel: 'eu' })).toEqual(ids([third, second, first]));
        expect(await list({ eventTypes: ['user.created'] })).toEqual([fourth.id]);
        expect(await list({ after: at(1), before: at(8) })).toEqual(ids([third, second]));

        const pages = await collectPages((iterator) => store.listAttempts(app.id, { limit: 3, iterator }));
        expect(pages.map(ids)).toEqual([ids([fourth, third, second]), [first.id]]);

        const other = await store.createApplication(makeApp());
        expect((await store.listAttempts(other.id, { limit: 10 })).data).toEqual([]);
        expect(await store.getAttempt(other.id, message.id, first.id)).toBeNull();
        expect(await store.getAttempt(app.id, message.id, first.id)).toEqual(first);
      });

      it('shows the latest delivery per destination and per attempted message', async () => {
        const { app, endpoints } = await seedApp([{}, {}]);
        const sorted = [...endpoints].sort((x, y) => (x.id < y.id ? -1 : 1));
        const [first, second] = sorted as [Endpoint, Endpoint];
        const { message: old, deliveries } = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
        await attempt(deliveries.find((d) => d.endpointId === first.id)!, { status: 'fail' }, at(1));
        const { message: recent } = await store.createMessage(makeMessage(app.id, { createdAt: at(10) }), at(10));
        const resend = await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: old.id, endpointId: first.id, now: at(20) });

        const destinations = await store.listMessageDestinations(app.id, old.id, { limit: 10 });
        expect(destinations.data.map((d) => d.endpoint.id)).toEqual([first.id, second.id]);
        expect(destinations.data[0]!.delivery).toEqual(resend);
        expect(destinations.data[1]!.delivery).toMatchObject({ status: 'pending', triggerType: 'scheduled' });
        const firstPage = await store.listMessageDestinations(app.id, old.id, { limit: 1 });
        expect(firstPage).toMatchObject({ iterator: first.id, done: false });
        const secondPage = await store.listMessageDestinations(app.id, old.id, { limit: 1, iterator: firstPage.iterator });
        expect(secondPage.data.map((d) => d.endpoint.id)).toEqual([second.id]);
        expect(secondPage.done).toBe(true);

        const attempted = await store.listAttemptedMessages(app.id, first.id, { limit: 10 });
        expect(attempted.data.map((m) => m.message.id)).toEqual([recent.id, old.id]);
        expect(attempted.data[1]!.delivery).toEqual(resend);
        expect(attempted.data[1]!.message).toEqual(old);
        const pending = await store.listAttemptedMessages(app.id, first.id, { limit: 10, status: 'pending' });
        expect(pending.data).toHaveLength(2);
        expect((await store.listAttemptedMessages(app.id, first.id, { limit: 10, status: 'fail' })).data).toEqual([]);
        expect(
          (await store.listAttemptedMessages(app.id, first.id, { limit: 10, before: at(5) })).data.map((m) => m.message.id),
        ).toEqual([old.id]);
        const paged = await collectPages((iterator) => store.listAttemptedMessages(app.id, first.id, { limit: 1, iterator }));
        expect(paged.map((page) => page.map((m) => m.message.id))).toEqual([[recent.id], [old.id]]);
      });

      it('counts an endpoint’s latest delivery per message by status for messages created in [since, until)', async () => {
        const { app, endpoints } = await seedApp([{}, {}]);
        const [endpoint, otherEndpoint] = endpoints as [Endpoint, Endpoint];
        const deliveryTo = (deliveries: Delivery[], target: Endpoint): Delivery => deliveries.find((d) => d.endpointId === target.id)!;

        const m1 = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
        await attempt(deliveryTo(m1.deliveries, endpoint), { status: 'success' }, at(1));
        const m2 = await store.createMessage(makeMessage(app.id, { createdAt: at(2) }), at(2));
        await attempt(deliveryTo(m2.deliveries, endpoint), { status: 'fail' }, at(3));
        const m3 = await store.createMessage(makeMessage(app.id, { createdAt: at(4) }), at(4));
        await attempt(deliveryTo(m3.deliveries, endpoint), { status: 'fail' }, at(5));
        await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: m3.message.id, endpointId: endpoint.id, now: at(6) });
        const m4 = await store.createMessage(makeMessage(app.id, { createdAt: at(7) }), at(7));
        await attempt(deliveryTo(m4.deliveries, endpoint), { status: 'sending', nextAttemptAt: at(100) }, at(8));
        await store.createMessage(makeMessage(app.id, { createdAt: at(9) }), at(9)); // pending
        await store.createMessage(makeMessage(app.id, { createdAt: at(50) }), at(50)); // outside the window

        expect(await store.getEndpointStats(app.id, endpoint.id, at(0), at(50))).toEqual({ success: 1, pending: 2, sending: 1, fail: 1 });
        expect(await store.getEndpointStats(app.id, otherEndpoint.id, at(0), at(50))).toEqual({ success: 0, pending: 5, sending: 0, fail: 0 });
        expect(await store.getEndpointStats(app.id, endpoint.id, at(1), at(3))).toEqual({ success: 0, pending: 0, sending: 0, fail: 1 });
      });
    });

    describe('tokens and idempotency', () => {
      it('finds tokens by hash until they expire and knows whether an admin token exists', async () => {
        const { app } = await seedApp([]);
        expect(await store.hasAdminToken()).toBe(false);
        await store.createToken({ id: 'tok_app', tokenHash: 'hash-app', appId: app.id, createdAt: at(0), expiresAt: at(100) });
        expect(await store.hasAdminToken()).toBe(false);
        await store.createToken({ id: 'tok_admin', tokenHash: 'hash-admin', appId: null, createdAt: at(0), expiresAt: null });
        expect(await store.hasAdminToken()).toBe(true);

        expect(await store.findToken('hash-app', at(99))).toEqual({ id: 'tok_app', appId: app.id, expiresAt: at(100) });
        expect(await store.findToken('hash-app', at(100))).toBeNull();
        expect(await store.findToken('hash-admin', at(1e6))).toEqual({ id: 'tok_admin', appId: null, expiresAt: null });
        expect(await store.findToken('unknown', at(0))).toBeNull();
        await expect(
          store.createToken({ id: 'tok_dup', tokenHash: 'hash-app', appId: null, createdAt: at(0), expiresAt: null }),
        ).rejects.toMatchObject({ code: 'conflict' });
      });

      it('keeps the first idempotent response, hides it once expired, and prunes in bounded batches', async () => {
        const first = { statusCode: 202, body: '{"id":"msg_1"}', contentType: 'application/json' };
        await store.saveIdempotentResponse('key-1', first, at(60));
        await store.saveIdempotentResponse('key-1', { statusCode: 200, body: 'second', contentType: null }, at(120));
        expect(await store.getIdempotentResponse('key-1', at(59))).toEqual(first);
        expect(await store.getIdempotentResponse('key-1', at(60))).toBeNull();
        expect(await store.getIdempotentResponse('key-2', at(0))).toBeNull();

        await store.saveIdempotentResponse('key-2', { statusCode: 201, body: '', contentType: null }, at(10));
        await store.saveIdempotentResponse('key-3', { statusCode: 201, body: '', contentType: null }, at(500));
        expect(await store.pruneIdempotency(at(100), 1)).toBe(1);
        expect(await store.pruneIdempotency(at(100), 10)).toBe(1);
        expect(await store.pruneIdempotency(at(100), 10)).toBe(0);
        expect(await store.getIdempotentResponse('key-3', at(100))).not.toBeNull();
      });
    });

    describe('deleting an application', () => {
      it('removes its endpoints, messages, deliveries, attempts and tokens and nothing else', async () => {
        const { app, endpoints } = await seedApp();
        const { app: survivor, endpoints: survivorEndpoints } = await seedApp();
        const { message, deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        const done = await attempt(deliveries[0]!, { status: 'success' }, at(1));
        await store.createMessage(makeMessage(app.id), at(2)); // still pending
        const kept = await store.createMessage(makeMessage(survivor.id), at(3));
        await store.createToken({ id: 'tok_a', tokenHash: 'hash-a', appId: app.id, createdAt: at(0), expiresAt: null });
        await store.createToken({ id: 'tok_s', tokenHash: 'hash-s', appId: survivor.id, createdAt: at(0), expiresAt: null });
        await store.createToken({ id: 'tok_admin', tokenHash: 'hash-admin', appId: null, createdAt: at(0), expiresAt: null });

        expect(await store.deleteApplication(app.id)).toBe(true);
        expect(await store.getEndpoint(app.id, endpoints[0]!.id)).toBeNull();
        expect(await store.getMessage(app.id, message.id)).toBeNull();
        expect(await store.getDelivery(deliveries[0]!.id)).toBeNull();
        expect(await store.getAttempt(app.id, message.id, done.id)).toBeNull();
        expect((await store.listAttempts(app.id, { limit: 10 })).data).toEqual([]);
        expect(await store.findToken('hash-a', at(0))).toBeNull();

        expect(await store.findToken('hash-s', at(0))).not.toBeNull();
        expect(await store.findToken('hash-admin', at(0))).not.toBeNull();
        expect(await store.getEndpoint(survivor.id, survivorEndpoints[0]!.id)).not.toBeNull();
        const jobs = await store.claimDueDeliveries({ now: at(10), limit: 10, leaseMs: 1000 });
        expect(jobs.map((j) => j.delivery.id)).toEqual([kept.deliveries[0]!.id]);
      });
    });

    describe('operator health (dashboard)', () => {
      it('counts attempts by outcome per time bucket, for the server, one application and one endpoint', async () => {
        const { app, endpoints } = await seedApp([{}, {}]);
        const [a, b] = endpoints as [Endpoint, Endpoint];
        const { app: other } = await seedApp();
        const m1 = await store.createMessage(makeMessage(app.id), at(0));
        await attempt(m1.deliveries.find((d) => d.endpointId === a.id)!, { status: 'success' }, at(10));
        await attempt(m1.deliveries.find((d) => d.endpointId === b.id)!, { status: 'sending', nextAttemptAt: at(500) }, at(20));
        const m2 = await store.createMessage(makeMessage(other.id), at(50));
        await attempt(m2.deliveries[0]!, { status: 'success' }, at(70));
        const m3 = await store.createMessage(makeMessage(app.id), at(100));
        await attempt(m3.deliveries.find((d) => d.endpointId === a.id)!, { status: 'fail' }, at(130));
        await attempt(m3.deliveries.find((d) => d.endpointId === b.id)!, { status: 'success' }, at(200)); // after the window

        const window = { since: at(0), until: at(180), bucketMs: 60_000 };
        expect(await store.countAttemptsOverTime(window)).toEqual([
          { index: 0, success: 1, fail: 1 },
          { index: 1, success: 1, fail: 0 },
          { index: 2, success: 0, fail: 1 },
        ]);
        expect(await store.countAttemptsOverTime({ ...window, appId: app.id })).toEqual([
          { index: 0, success: 1, fail: 1 },
          { index: 2, success: 0, fail: 1 },
        ]);
        expect(await store.countAttemptsOverTime({ ...window, appId: app.id, endpointId: a.id })).toEqual([
          { index: 0, success: 1, fail: 0 },
          { index: 2, success: 0, fail: 1 },
        ]);
        // The window's start is inclusive, its end exclusive; buckets count from the start.
        expect(await store.countAttemptsOverTime({ since: at(20), until: at(130), bucketMs: 3_600_000, appId: app.id })).toEqual([{ index: 0, success: 0, fail: 1 }]);
        expect(await store.countAttemptsOverTime({ since: at(1000), until: at(2000), bucketMs: 60_000 })).toEqual([]);
      });

      it('lists live endpoints failing now (longest first) and disabled ones (latest first), up to a limit', async () => {
        const { app, endpoints } = await seedApp([{}, {}, {}, {}, {}, { disabled: true }]);
        const [healthy, failingLong, failingShort, recovered, gone, disabledEarly] = endpoints as Endpoint[];
        const fail = async (endpoint: Endpoint, seconds: number, health: 'success' | 'failure') => {
          const { deliveries } = await store.createMessage(makeMessage(app.id), at(seconds), { endpointIds: [endpoint!.id] });
          const record = makeAttempt(deliveries[0]!, { timestamp: at(seconds), status: health === 'success' ? 'success' : 'fail' });
          await store.completeAttempt({ attempt: record, outcome: { status: health === 'success' ? 'success' : 'fail' }, disableEndpoint: false, now: at(seconds), health });
        };
        await fail(healthy!, 1, 'success');
        await fail(failingShort!, 30, 'failure');
        await fail(failingLong!, 10, 'failure');
        await fail(failingLong!, 40, 'failure');
        await fail(recovered!, 5, 'failure');
        await fail(recovered!, 50, 'success');
        await fail(gone!, 3, 'failure');
        expect(await store.deleteEndpoint(app.id, gone!.id, at(60))).toBe(true);
        const disabledLate = await store.updateEndpoint({ ...(await store.getEndpoint(app.id, failingShort!.id))!, disabled: true, updatedAt: at(70) });

        const { failing, disabled } = await store.listUnhealthyEndpoints(10);
        expect(ids(failing)).toEqual([failingLong!.id]);
        expect(failing[0]!.failingSince).toEqual(at(10));
        expect(ids(disabled)).toEqual([disabledLate.id, disabledEarly!.id]);
        expect(ids((await store.listUnhealthyEndpoints(1)).disabled)).toEqual([disabledLate.id]);
      });

      it('ranks endpoints by average attempt duration in a window, slowest first', async () => {
        const { app, endpoints } = await seedApp([{}, {}, {}]);
        const [a, b, c] = endpoints as [Endpoint, Endpoint, Endpoint];
        const { deliveries } = await store.createMessage(makeMessage(app.id), at(0));
        const to = (endpoint: Endpoint) => deliveries.find((d) => d.endpointId === endpoint.id)!;
        await attempt(to(a), { status: 'sending', nextAttemptAt: at(20) }, at(10), { responseDurationMs: 100 });
        await attempt(to(a), { status: 'success' }, at(20), { responseDurationMs: 300 });
        await attempt(to(b), { status: 'fail' }, at(30), { responseDurationMs: 500 });
        await attempt(to(c), { status: 'success' }, at(100), { responseDurationMs: 9000 }); // outside

        expect(await store.listSlowestEndpoints({ since: at(0), until: at(60), limit: 10 })).toEqual([
          { endpointId: b.id, appId: app.id, attempts: 1, avgDurationMs: 500, maxDurationMs: 500 },
          { endpointId: a.id, appId: app.id, attempts: 2, avgDurationMs: 200, maxDurationMs: 300 },
        ]);
        expect((await store.listSlowestEndpoints({ since: at(0), until: at(60), limit: 1 })).map((e) => e.endpointId)).toEqual([b.id]);
        expect(await store.listSlowestEndpoints({ since: at(1000), until: at(2000), limit: 10 })).toEqual([]);
      });

      it('filters messages by the status of their latest delivery to a live endpoint', async () => {
        const { app, endpoints } = await seedApp([{}, {}]);
        const [a, b] = endpoints as [Endpoint, Endpoint];
        const to = (deliveries: Delivery[], endpoint: Endpoint) => deliveries.find((d) => d.endpointId === endpoint.id)!;
        const m1 = await store.createMessage(makeMessage(app.id, { createdAt: at(0) }), at(0));
        await attempt(to(m1.deliveries, a), { status: 'success' }, at(1));
        await attempt(to(m1.deliveries, b), { status: 'fail' }, at(1));
        const m2 = await store.createMessage(makeMessage(app.id, { createdAt: at(2) }), at(2)); // both pending
        const m3 = await store.createMessage(makeMessage(app.id, { createdAt: at(3), eventType: 'user.created' }), at(3));
        await attempt(to(m3.deliveries, a), { status: 'fail' }, at(4));
        await attempt(to(m3.deliveries, b), { status: 'success' }, at(4));
        await store.createManualDelivery({ deliveryId: newId('msgep'), appId: app.id, msgId: m3.message.id, endpointId: a.id, now: at(5) });

        const list = async (query: Partial<Parameters<Store['listMessages']>[1]>) => ids((await store.listMessages(app.id, { limit: 10, ...query })).data);
        expect(await list({ status: 'fail' })).toEqual([m1.message.id]);
        expect(await list({ status: 'success' })).toEqual([m3.message.id, m1.message.id]);
        expect(await list({ status: 'pending' })).toEqual([m3.message.id, m2.message.id]);
        expect(await list({ status: 'sending' })).toEqual([]);
        expect(await list({ status: 'success', eventTypes: ['user.created'] })).toEqual([m3.message.id]);
        expect(await list({ status: null })).toEqual([m3.message.id, m2.message.id, m1.message.id]);
        const paged = await collectPages((iterator) => store.listMessages(app.id, { limit: 1, iterator, status: 'success' }));
        expect(paged.map(ids)).toEqual([[m3.message.id], [m1.message.id]]);

        // A deleted endpoint's deliveries no longer count.
        await store.deleteEndpoint(app.id, b.id, at(6));
        expect(await list({ status: 'fail' })).toEqual([]);
        expect(await list({ status: 'success' })).toEqual([m1.message.id]);
      });
    });
  });
}
