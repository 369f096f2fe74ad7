// The Store contract, integrations: an integration and its key's token row are made, renamed,
// rotated and deleted together; the key reads back as given; its token authenticates as the
// application until the key is rotated or the integration (or application) deleted; expire-all,
// logout-style revocation and the token list leave integration keys alone.
import { describe, expect, it } from 'vitest';

import { newId } from '../../src/domain/ids.js';
import type { Integration } from '../../src/domain/integrations.js';
import { collectPages, ids, seedApp, store, at } from './fixtures.js';

function makeIntegration(appId: string, n: number, overrides: Partial<Integration> = {}): Integration {
  return { id: newId('integ', at(n).getTime()), appId, name: `Integration ${n}`, featureFlags: [], key: `tw_integ_key_${n}`, createdAt: at(n), updatedAt: at(n), ...overrides };
}

/** The integration cases, registered inside runStoreContract's describe (index.ts). */
export function describeIntegrations(): void {
  describe('integrations', () => {
    it('creates an integration with its key token, reads it back and lists the application\'s own, newest first', async () => {
      const { app } = await seedApp([]);
      const { app: other } = await seedApp([]);
      const first = makeIntegration(app.id, 1, { featureFlags: ['beta'] });
      expect(await store.createIntegration(first, { id: 'tok_i1', tokenHash: 'hash-i1', createdAt: at(1) })).toEqual(first);
      const second = makeIntegration(app.id, 2);
      await store.createIntegration(second, { id: 'tok_i2', tokenHash: 'hash-i2', createdAt: at(2) });
      await store.createIntegration(makeIntegration(other.id, 3), { id: 'tok_i3', tokenHash: 'hash-i3', createdAt: at(3) });

      expect(await store.getIntegration(app.id, first.id)).toEqual(first);
      expect(await store.getIntegration(other.id, first.id)).toBeNull();
      expect(ids((await store.listIntegrations(app.id, { limit: 50 })).data)).toEqual([second.id, first.id]);
      const pages = await collectPages((iterator) => store.listIntegrations(app.id, { limit: 1, iterator }));
      expect(pages.map(ids)).toEqual([[second.id], [first.id]]);

      // The key's token acts as the application, never expires, and sees the integration's flags.
      expect(await store.findToken('hash-i1', at(1e8))).toMatchObject({ id: 'tok_i1', appId: app.id, expiresAt: null, revokedAt: null, readOnly: false, capabilities: null, featureFlags: ['beta'] });
      await expect(store.createIntegration(makeIntegration('app_missing', 4), { id: 'tok_i4', tokenHash: 'hash-i4', createdAt: at(4) })).rejects.toMatchObject({ code: 'not_found' });
      expect(await store.findToken('hash-i4', at(4))).toBeNull();
    });

    it('renames and re-flags an integration, and its key token follows the flags', async () => {
      const { app } = await seedApp([]);
      const integration = makeIntegration(app.id, 1);
      await store.createIntegration(integration, { id: 'tok_i1', tokenHash: 'hash-i1', createdAt: at(1) });
      const updated = await store.updateIntegration({ appId: app.id, id: integration.id, name: 'Renamed', featureFlags: ['v2', 'beta'], updatedAt: at(5) });
      expect(updated).toEqual({ ...integration, name: 'Renamed', featureFlags: ['v2', 'beta'], updatedAt: at(5) });
      expect((await store.findToken('hash-i1', at(6)))?.featureFlags).toEqual(['v2', 'beta']);
      expect(await store.updateIntegration({ appId: app.id, id: 'integ_missing', name: 'x', featureFlags: [], updatedAt: at(5) })).toBeNull();
    });

    it('rotating replaces the key: the old token is gone at once, the new one works', async () => {
      const { app } = await seedApp([]);
      const integration = makeIntegration(app.id, 1, { featureFlags: ['beta'] });
      await store.createIntegration(integration, { id: 'tok_old', tokenHash: 'hash-old', createdAt: at(1) });
      const rotated = await store.rotateIntegrationKey({ appId: app.id, id: integration.id, key: 'tw_integ_new', token: { id: 'tok_new', tokenHash: 'hash-new', createdAt: at(9) }, updatedAt: at(9) });
      expect(rotated).toEqual({ ...integration, key: 'tw_integ_new', updatedAt: at(9) });
      expect(await store.getIntegration(app.id, integration.id)).toEqual(rotated);
      expect(await store.findToken('hash-old', at(9))).toBeNull();
      expect(await store.findToken('hash-new', at(9))).toMatchObject({ id: 'tok_new', appId: app.id, featureFlags: ['beta'] });
      expect(await store.rotateIntegrationKey({ appId: app.id, id: 'integ_missing', key: 'k', token: { id: 'tok_x', tokenHash: 'hash-x', createdAt: at(9) }, updatedAt: at(9) })).toBeNull();
      expect(await store.findToken('hash-x', at(9))).toBeNull();
    });

    it('deleting the integration, or its application, ends its key', async () => {
      const { app } = await seedApp([]);
      const kept = makeIntegration(app.id, 1);
      const gone = makeIntegration(app.id, 2);
      await store.createIntegration(kept, { id: 'tok_kept', tokenHash: 'hash-kept', createdAt: at(1) });
      await store.createIntegration(gone, { id: 'tok_gone', tokenHash: 'hash-gone', createdAt: at(2) });
      expect(await store.deleteIntegration(app.id, gone.id)).toBe(true);
      expect(await store.deleteIntegration(app.id, gone.id)).toBe(false);
      expect(await store.getIntegration(app.id, gone.id)).toBeNull();
      expect(await store.findToken('hash-gone', at(3))).toBeNull();
      expect(await store.findToken('hash-kept', at(3))).not.toBeNull();

      await store.deleteApplication(app.id);
      expect(await store.findToken('hash-kept', at(4))).toBeNull();
      expect((await store.listIntegrations(app.id, { limit: 50 })).data).toEqual([]);
    });

    it('expire-all, revoking by hash and the token list leave integration keys alone', async () => {
      const { app } = await seedApp([]);
      await store.createIntegration(makeIntegration(app.id, 1), { id: 'tok_integ', tokenHash: 'hash-integ', createdAt: at(1) });
      await store.createToken({ id: 'tok_portal', tokenHash: 'hash-portal', appId: app.id, createdAt: at(2), expiresAt: null });
      expect(ids(await store.listTokens({ appId: app.id, now: at(3), limit: 10 }))).toEqual(['tok_portal']);
      expect(await store.revokeTokens({ at: at(3), appId: app.id })).toBe(1);
      expect(await store.revokeTokens({ at: at(3), tokenHash: 'hash-integ' })).toBe(0);
      expect(await store.revokeTokens({ at: at(3), id: 'tok_integ' })).toBe(0);
      expect(await store.findToken('hash-integ', at(4))).toMatchObject({ id: 'tok_integ', revokedAt: null });
      expect(await store.findToken('hash-portal', at(4))).toBeNull();
    });
  });
}
