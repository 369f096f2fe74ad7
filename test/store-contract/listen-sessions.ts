// The Store contract, listen sessions: a session is saved (and saved again by a reconnecting CLI,
// keeping when it began), read back, listed newest first, kept alive by heartbeats, marked detached
// and listed as expired once no process has seen it; deleting its endpoint, its application or its
// ingest source deletes it too.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import { listenEndpointUid, listenEndpointUrl, type ListenSession } from '../../src/domain/listen.js';
import type { Application, Endpoint } from '../../src/domain/types.js';
import { at, ids, makeApp, makeEndpoint, store } from './fixtures.js';

/** Session ids as the CLI makes them (LISTEN_SESSION_ID_PATTERN), in a fixed order: `sid(1) < sid(2)`. */
const sid = (n: number): string => `listen_session_${String(n).padStart(4, '0')}`;

/** An application with the endpoints of sessions `ns` (uid and URL as the server makes them). */
async function seedListenApp(ns: number[]): Promise<{ app: Application; endpoints: Endpoint[] }> {
  const app = await store.createApplication(makeApp());
  const endpoints: Endpoint[] = [];
  for (const n of ns) endpoints.push(await store.createEndpoint(makeEndpoint(app.id, { uid: listenEndpointUid(sid(n)), url: listenEndpointUrl(sid(n)) })));
  return { app, endpoints };
}

function makeSession(n: number, endpoint: Endpoint, overrides: Partial<ListenSession> = {}): ListenSession {
  return {
    id: sid(n),
    appId: endpoint.appId,
    endpointId: endpoint.id,
    sourceId: null,
    tokenHash: `token-hash-${n}`,
    forwardTo: 'http://localhost:3000/webhooks',
    eventTypes: null,
    client: 'laptop (tapwire 1.0.0)',
    createdAt: at(n),
    lastSeenAt: at(n),
    detachedAt: null,
    ...overrides,
  };
}

/** The listen session cases, registered inside runStoreContract's describe (index.ts). */
export function describeListenSessions(): void {
  describe('listen sessions', () => {
    it('saves sessions and reads them back, every event type (null) and a list alike', async () => {
      const { endpoints: [a, b, c] } = await seedListenApp([1, 2, 3]);
      const all = makeSession(1, a!);
      const some = makeSession(2, b!, { eventTypes: ['invoice.paid', 'invoice.failed'] });
      const none = makeSession(3, c!, { eventTypes: [], detachedAt: at(5), lastSeenAt: at(5) });
      for (const session of [all, some, none]) expect(await store.saveListenSession(session)).toEqual(session);
      expect(await store.getListenSession(all.id)).toEqual(all);
      expect(await store.getListenSession(some.id)).toEqual(some);
      // An empty list is not "every event type".
      expect(await store.getListenSession(none.id)).toEqual(none);
      expect(await store.getListenSession(sid(9))).toBeNull();
    });

    it('refuses a session whose application or endpoint does not exist', async () => {
      const { endpoints: [endpoint] } = await seedListenApp([1]);
      await expect(store.saveListenSession(makeSession(1, endpoint!, { appId: 'app_missing' }))).rejects.toMatchObject({ code: 'not_found' });
      await expect(store.saveListenSession(makeSession(2, endpoint!, { endpointId: 'ep_missing' }))).rejects.toMatchObject({ code: 'not_found' });
      expect(await store.listListenSessions({ limit: 10 })).toEqual([]);
    });

    it('saving again replaces every field but createdAt (a reconnecting CLI)', async () => {
      const { endpoints: [first, second] } = await seedListenApp([1, 2]);
      const session = makeSession(1, first!, { eventTypes: ['a.b'], detachedAt: at(3), lastSeenAt: at(3) });
      await store.saveListenSession(session);
      const again: ListenSession = {
        ...session,
        endpointId: second!.id,
        tokenHash: 'token-hash-new',
        forwardTo: 'http://localhost:4000/hooks',
        eventTypes: null,
        client: 'desktop (tapwire 1.1.0)',
        createdAt: at(50),
        lastSeenAt: at(50),
        detachedAt: null,
      };
      const kept = { ...again, createdAt: session.createdAt };
      expect(await store.saveListenSession(again)).toEqual(kept);
      expect(await store.getListenSession(session.id)).toEqual(kept);
      // And back to a list of event types.
      expect(await store.saveListenSession({ ...again, eventTypes: ['x.y', 'z'] })).toEqual({ ...kept, eventTypes: ['x.y', 'z'] });
      expect(await store.listListenSessions({ limit: 10 })).toHaveLength(1);
    });

    it('lists sessions newest first (ties by id, newest id first), at most limit, of one application when asked', async () => {
      const { app, endpoints: [e1, e2, e3] } = await seedListenApp([1, 2, 3]);
      const { app: other, endpoints: [e4] } = await seedListenApp([4]);
      const s1 = makeSession(1, e1!, { createdAt: at(10) });
      const s2 = makeSession(2, e2!, { createdAt: at(20) });
      const s3 = makeSession(3, e3!, { createdAt: at(20) });
      const s4 = makeSession(4, e4!, { createdAt: at(15) });
      for (const session of [s3, s1, s4, s2]) await store.saveListenSession(session);

      expect(ids(await store.listListenSessions({ limit: 10 }))).toEqual([s3.id, s2.id, s4.id, s1.id]);
      expect(ids(await store.listListenSessions({ appId: null, limit: 2 }))).toEqual([s3.id, s2.id]);
      expect(ids(await store.listListenSessions({ appId: app.id, limit: 10 }))).toEqual([s3.id, s2.id, s1.id]);
      expect(ids(await store.listListenSessions({ appId: app.id, limit: 1 }))).toEqual([s3.id]);
      expect(await store.listListenSessions({ appId: other.id, limit: 10 })).toEqual([s4]);
      expect(await store.listListenSessions({ appId: 'app_missing', limit: 10 })).toEqual([]);
    });

    it('a heartbeat marks the sessions seen and attached; a closed socket marks one detached', async () => {
      const { endpoints: [e1, e2, e3] } = await seedListenApp([1, 2, 3]);
      const s1 = makeSession(1, e1!, { detachedAt: at(4), lastSeenAt: at(4) });
      const s2 = makeSession(2, e2!);
      const s3 = makeSession(3, e3!);
      for (const session of [s1, s2, s3]) await store.saveListenSession(session);

      await store.touchListenSessions({ ids: [s1.id, s2.id, sid(9)], now: at(30) });
      expect(await store.getListenSession(s1.id)).toEqual({ ...s1, lastSeenAt: at(30), detachedAt: null });
      expect(await store.getListenSession(s2.id)).toEqual({ ...s2, lastSeenAt: at(30) });
      expect(await store.getListenSession(s3.id)).toEqual(s3);
      expect(await store.getListenSession(sid(9))).toBeNull();
      await store.touchListenSessions({ ids: [], now: at(40) });
      expect(await store.getListenSession(s3.id)).toEqual(s3);

      expect(await store.markListenSessionDetached({ id: s2.id, now: at(35) })).toBe(true);
      expect(await store.getListenSession(s2.id)).toEqual({ ...s2, lastSeenAt: at(35), detachedAt: at(35) });
      expect(await store.markListenSessionDetached({ id: sid(9), now: at(35) })).toBe(false);
      // Reattached: the next heartbeat clears it.
      await store.touchListenSessions({ ids: [s2.id], now: at(36) });
      expect(await store.getListenSession(s2.id)).toEqual({ ...s2, lastSeenAt: at(36), detachedAt: null });
    });

    it('lists the sessions last seen before a time, oldest first, at most limit', async () => {
      const { endpoints: [e1, e2, e3, e4] } = await seedListenApp([1, 2, 3, 4]);
      const s1 = makeSession(1, e1!, { lastSeenAt: at(30) });
      const s2 = makeSession(2, e2!, { lastSeenAt: at(10), detachedAt: at(10) });
      const s3 = makeSession(3, e3!, { lastSeenAt: at(20) });
      const s4 = makeSession(4, e4!, { lastSeenAt: at(40) });
      for (const session of [s1, s2, s3, s4]) await store.saveListenSession(session);

      expect(await store.listExpiredListenSessions({ lastSeenBefore: at(30), limit: 10 })).toEqual([s2, s3]);
      expect(ids(await store.listExpiredListenSessions({ lastSeenBefore: at(31), limit: 2 }))).toEqual([s2.id, s3.id]);
      expect(ids(await store.listExpiredListenSessions({ lastSeenBefore: at(41), limit: 10 }))).toEqual([s2.id, s3.id, s1.id, s4.id]);
      expect(await store.listExpiredListenSessions({ lastSeenBefore: at(10), limit: 10 })).toEqual([]);
      // A heartbeat takes a session off the list.
      await store.touchListenSessions({ ids: [s2.id], now: at(50) });
      expect(ids(await store.listExpiredListenSessions({ lastSeenBefore: at(30), limit: 10 }))).toEqual([s3.id]);
    });

    it('deletes a session row, leaving its endpoint to the caller', async () => {
      const { app, endpoints: [endpoint] } = await seedListenApp([1]);
      const session = makeSession(1, endpoint!);
      await store.saveListenSession(session);
      expect(await store.deleteListenSession(session.id)).toBe(true);
      expect(await store.deleteListenSession(session.id)).toBe(false);
      expect(await store.getListenSession(session.id)).toBeNull();
      expect(await store.getEndpoint(app.id, endpoint!.id)).toEqual(endpoint);
    });

    it('deleting its endpoint, its application or its ingest source deletes the session', async () => {
      const { app, endpoints: [e1, e2] } = await seedListenApp([1, 2]);
      const { app: other, endpoints: [e3] } = await seedListenApp([3]);
      const s1 = makeSession(1, e1!);
      const s2 = makeSession(2, e2!);
      const s3 = makeSession(3, e3!);
      for (const session of [s1, s2, s3]) await store.saveListenSession(session);

      expect(await store.deleteEndpoint(app.id, e1!.id, at(5))).toBe(true);
      expect(await store.getListenSession(s1.id)).toBeNull();
      expect(await store.getListenSession(s2.id)).toEqual(s2);
      expect(await store.deleteApplication(other.id)).toBe(true);
      expect(await store.getListenSession(s3.id)).toBeNull();
      expect(ids(await store.listListenSessions({ limit: 10 }))).toEqual([s2.id]);
      await store.deleteApplication(app.id);
      expect(await store.listListenSessions({ limit: 10 })).toEqual([]);

      // A session of an ingest source (on the source's application) goes with the source.
      const { endpoints: [e4] } = await seedListenApp([4]);
      const sourceId = newId('src', at(4).getTime());
      await store.createIngestSource(
        { id: sourceId, uid: null, name: 'Stripe', type: 'stripe', config: { secret: 'whsec_s' }, metadata: {}, appId: e4!.appId, token: 'source-token', createdAt: at(4), updatedAt: at(4) },
        'source-token-hash',
      );
      const s4 = makeSession(4, e4!, { sourceId });
      expect(await store.saveListenSession(s4)).toEqual(s4);
      expect(await store.deleteIngestSource(sourceId)).toBe(true);
      expect(await store.getListenSession(s4.id)).toBeNull();
    });
  });
}
