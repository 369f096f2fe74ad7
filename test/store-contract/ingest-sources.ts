// The Store contract, ingest sources: a source is made, found by id, uid and URL token, listed,
// replaced and deleted; its uid is unique; rotating its token keeps the previous one working until
// its expiry; its application's deletion takes it along; and it is hidden from the application list.
// An ingested event's message keeps the provider headers it is delivered with.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { IngestSource } from '../../src/domain/ingest.js';
import { at, collectPages, ids, makeMessage, seedApp, store } from './fixtures.js';

function makeSource(appId: string, n: number, overrides: Partial<IngestSource> = {}): IngestSource {
  return {
    id: newId('src', at(n).getTime()),
    uid: null,
    name: `Source ${n}`,
    type: 'stripe',
    config: { secret: `whsec_stripe_${n}` },
    metadata: { team: 'billing' },
    appId,
    token: `token-${n}`,
    createdAt: at(n),
    updatedAt: at(n),
    ...overrides,
  };
}

/** The ingest source cases, registered inside runStoreContract's describe (index.ts). */
export function describeIngestSources(): void {
  describe('ingest sources', () => {
    it('creates sources, reads them back by id, uid and token, and lists them oldest first', async () => {
      const { app: a } = await seedApp([]);
      const { app: b } = await seedApp([]);
      const first = makeSource(a.id, 1, { uid: 'stripe-live' });
      expect(await store.createIngestSource(first, 'hash-1')).toEqual(first);
      const second = makeSource(b.id, 2, { type: 'generic-webhook', config: {} });
      await store.createIngestSource(second, 'hash-2');

      expect(await store.getIngestSource(first.id)).toEqual(first);
      expect(await store.getIngestSource('stripe-live')).toEqual(first);
      expect(await store.getIngestSource('src_missing')).toBeNull();
      expect(await store.findIngestSourceByToken('hash-2', at(3))).toEqual(second);
      expect(await store.findIngestSourceByToken('hash-x', at(3))).toBeNull();
      const pages = await collectPages((iterator) => store.listIngestSources({ limit: 1, iterator }));
      expect(pages.map(ids)).toEqual([[first.id], [second.id]]);

      await expect(store.createIngestSource(makeSource(b.id, 3, { uid: 'stripe-live' }), 'hash-3')).rejects.toMatchObject({ code: 'conflict' });
      await expect(store.createIngestSource(makeSource('app_missing', 4), 'hash-4')).rejects.toMatchObject({ code: 'not_found' });
      // A source's application is not listed with the others.
      const listed = ids((await store.listApplications({ limit: 50 })).data);
      expect(listed).not.toContain(a.id);
      expect(listed).not.toContain(b.id);
    });

    it('replaces a source, refusing a uid another source holds', async () => {
      const { app } = await seedApp([]);
      const { app: other } = await seedApp([]);
      const source = makeSource(app.id, 1);
      await store.createIngestSource(source, 'hash-1');
      await store.createIngestSource(makeSource(other.id, 2, { uid: 'taken' }), 'hash-2');
      const changes = { id: source.id, uid: 'gh', name: 'GitHub', type: 'github' as const, config: { secret: null }, metadata: {}, updatedAt: at(5) };
      expect(await store.updateIngestSource(changes)).toEqual({ ...source, ...changes });
      expect(await store.getIngestSource('gh')).toEqual({ ...source, ...changes });
      await expect(store.updateIngestSource({ ...changes, uid: 'taken' })).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.updateIngestSource({ ...changes, id: 'src_missing' })).toBeNull();
    });

    it('rotating the token keeps the previous one until it expires', async () => {
      const { app } = await seedApp([]);
      const source = makeSource(app.id, 1);
      await store.createIngestSource(source, 'hash-old');
      const rotated = await store.rotateIngestSourceToken({ id: source.id, token: 'token-new', tokenHash: 'hash-new', previousExpiresAt: at(100), updatedAt: at(10) });
      expect(rotated).toEqual({ ...source, token: 'token-new', updatedAt: at(10) });
      expect((await store.findIngestSourceByToken('hash-new', at(200)))?.id).toBe(source.id);
      expect((await store.findIngestSourceByToken('hash-old', at(99)))?.id).toBe(source.id);
      expect(await store.findIngestSourceByToken('hash-old', at(100))).toBeNull();
      expect(await store.rotateIngestSourceToken({ id: 'src_missing', token: 't', tokenHash: 'h', previousExpiresAt: at(1), updatedAt: at(1) })).toBeNull();
    });

    it('deletes a source, and deleting its application takes it along', async () => {
      const { app } = await seedApp([]);
      const { app: other } = await seedApp([]);
      const source = makeSource(app.id, 1);
      const second = makeSource(other.id, 2);
      await store.createIngestSource(source, 'hash-1');
      await store.createIngestSource(second, 'hash-2');
      expect(await store.deleteIngestSource(source.id)).toBe(true);
      expect(await store.deleteIngestSource(source.id)).toBe(false);
      expect(await store.getIngestSource(source.id)).toBeNull();
      await store.deleteApplication(other.id);
      expect(await store.getIngestSource(second.id)).toBeNull();
      expect(await store.findIngestSourceByToken('hash-2', at(3))).toBeNull();
    });

    it('a message keeps its forward headers (read alone and in lists); other messages have none', async () => {
      const { app } = await seedApp([{}]);
      const headers = { 'x-github-event': 'push', 'x-github-delivery': 'd-1' };
      const ingested = makeMessage(app.id, { forwardHeaders: headers, contentType: 'application/json' });
      const created = await store.createMessage(ingested, at(1));
      expect(created.message.forwardHeaders).toEqual(headers);
      expect(created.deliveries).toHaveLength(1);
      expect((await store.getMessage(app.id, ingested.id))?.forwardHeaders).toEqual(headers);
      expect((await store.listMessages(app.id, { limit: 10 })).data[0]?.forwardHeaders).toEqual(headers);
      // Accepted together (PostgreSQL may take them in one statement), each keeps its own.
      const batch = [1, 2, 3].map((n) => makeMessage(app.id, { forwardHeaders: { 'x-shopify-topic': `orders/${n}` } }));
      await Promise.all(batch.map((m) => store.createMessage(m, at(2))));
      for (const [i, m] of batch.entries()) expect((await store.getMessage(app.id, m.id))?.forwardHeaders).toEqual({ 'x-shopify-topic': `orders/${i + 1}` });
      const plain = makeMessage(app.id);
      await store.createMessage(plain, at(2));
      expect(await store.getMessage(app.id, plain.id)).not.toHaveProperty('forwardHeaders');
    });

    it('reseals nothing when every source is sealed under the current key', async () => {
      const { app } = await seedApp([]);
      await store.createIngestSource(makeSource(app.id, 1), 'hash-1');
      expect(await store.resealIngestSources({ afterId: null, limit: 10 })).toEqual({ resealed: 0, lastId: null });
    });
  });
}
