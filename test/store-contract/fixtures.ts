// What every subject of the Store contract shares: the fixed times, the record builders, the store
// of the running test and the helpers that seed it. Only the Store interface, never a backend.
import { newId } from '../../src/domain/ids.js';
import type { Application, Attempt, Delivery, Endpoint, EventType, Message } from '../../src/domain/types.js';
import type { DeliveryOutcome, Page, Store } from '../../src/storage/store.js';

/** What a backend hands the suite: a migrated, empty store and a way to throw it away. */
export interface StoreFixture {
  store: Store;
  cleanup: () => Promise<void>;
}

/**
 * The store of the running test, set through {@link useStore} by the beforeEach of
 * runStoreContract (index.ts). The cases read it as a plain variable: an imported binding is live,
 * so they see each test's fresh store without a context object threaded through every case.
 */
export let store: Store;

/** Make `next` the store every case and helper of this module uses. */
export function useStore(next: Store): void {
  store = next;
}

/** Fixed origin of every time in the suite; nothing reads the real clock. */
export const T0 = Date.parse('2024-03-01T00:00:00.000Z');
/** T0 plus `seconds`. */
export const at = (seconds: number): Date => new Date(T0 + seconds * 1000);
const DAY = 86_400;

export function makeApp(overrides: Partial<Application> = {}): Application {
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

export function makeEndpoint(appId: string, overrides: Partial<Endpoint> = {}): Endpoint {
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

export function makeMessage(appId: string, overrides: Partial<Message> = {}): Message {
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

export function makeEventType(name: string, overrides: Partial<EventType> = {}): EventType {
  return {
    name,
    description: `${name} happened`,
    archived: false,
    deprecated: false,
    schemas: null,
    featureFlags: null,
    groupName: null,
    createdAt: at(0),
    updatedAt: at(0),
    ...overrides,
  };
}

export function makeAttempt(delivery: Delivery, overrides: Partial<Attempt> = {}): Attempt {
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
export async function collectPages<T>(fetch: (iterator: string | null) => Promise<Page<T>>): Promise<T[][]> {
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

export const ids = (items: { id: string }[]): string[] => items.map((item) => item.id);

/** An application with the given endpoints, created at T0. */
export async function seedApp(endpoints: Partial<Endpoint>[] = [{}]): Promise<{ app: Application; endpoints: Endpoint[] }> {
  const app = await store.createApplication(makeApp());
  const created: Endpoint[] = [];
  for (const overrides of endpoints) created.push(await store.createEndpoint(makeEndpoint(app.id, overrides)));
  return { app, endpoints: created };
}

/** Claim the given delivery at `now` and record one attempt with `outcome`. */
export async function attempt(
  delivery: Delivery,
  outcome: DeliveryOutcome,
  now: Date,
  overrides: Partial<Attempt> = {},
): Promise<Attempt> {
  const record = makeAttempt(delivery, {
    timestamp: now,
    status: outcome.status === 'success' ? 'success' : outcome.status === 'canceled' ? 'canceled' : 'fail',
    responseStatusCode: outcome.status === 'success' ? 200 : outcome.status === 'canceled' ? 0 : 500,
    ...overrides,
  });
  await store.completeAttempt({ attempt: record, outcome, disableEndpoint: false, now });
  return record;
}
