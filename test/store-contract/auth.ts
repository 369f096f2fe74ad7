// The Store contract, auth and idempotency: tokens found by hash until they expire, and the first
// idempotent response kept until it expires.
import { describe, expect, it } from 'vitest';

import { FULL_SCOPE } from '../../src/domain/token-scopes.js';
import { store, at, ids, seedApp } from './fixtures.js';

/** The token and idempotency cases, registered inside runStoreContract's describe (index.ts). */
export function describeAuth(): void {
  describe('tokens and idempotency', () => {
    it('finds tokens by hash until they expire and knows whether an admin token exists', async () => {
      const { app } = await seedApp([]);
      expect(await store.hasAdminToken()).toBe(false);
      await store.createToken({ id: 'tok_app', tokenHash: 'hash-app', appId: app.id, createdAt: at(0), expiresAt: at(100) });
      expect(await store.hasAdminToken()).toBe(false);
      await store.createToken({ id: 'tok_admin', tokenHash: 'hash-admin', appId: null, createdAt: at(0), expiresAt: null });
      expect(await store.hasAdminToken()).toBe(true);

      expect(await store.findToken('hash-app', at(99))).toEqual({ id: 'tok_app', appId: app.id, createdAt: at(0), expiresAt: at(100), revokedAt: null, ...FULL_SCOPE });
      expect(await store.findToken('hash-app', at(100))).toBeNull();
      expect(await store.findToken('hash-admin', at(1e6))).toEqual({ id: 'tok_admin', appId: null, createdAt: at(0), expiresAt: null, revokedAt: null, ...FULL_SCOPE });
      expect(await store.findToken('unknown', at(0))).toBeNull();
      await expect(
        store.createToken({ id: 'tok_dup', tokenHash: 'hash-app', appId: null, createdAt: at(0), expiresAt: null }),
      ).rejects.toMatchObject({ code: 'conflict' });
    });

    it('keeps a token\'s scope: read-only, capabilities, feature flags and session', async () => {
      const { app } = await seedApp([]);
      const scope = { readOnly: true, capabilities: ['ViewBase' as const, 'ManageEndpointSecret' as const], featureFlags: ['beta', 'v2'], sessionId: 'sess-1' };
      await store.createToken({ id: 'tok_scoped', tokenHash: 'hash-scoped', appId: app.id, createdAt: at(0), expiresAt: at(100), scope });
      expect(await store.findToken('hash-scoped', at(1))).toEqual({ id: 'tok_scoped', appId: app.id, createdAt: at(0), expiresAt: at(100), revokedAt: null, ...scope });
      await store.createToken({ id: 'tok_none', tokenHash: 'hash-none', appId: app.id, createdAt: at(1), expiresAt: null, scope: { ...FULL_SCOPE, capabilities: [] } });
      expect((await store.findToken('hash-none', at(1)))?.capabilities).toEqual([]);
    });

    it('revokes one token by hash or id, from a time on, never moving an earlier revocation later', async () => {
      const { app } = await seedApp([]);
      for (const n of [1, 2, 3]) await store.createToken({ id: `tok_${n}`, tokenHash: `hash-${n}`, appId: app.id, createdAt: at(n), expiresAt: null });
      expect(await store.revokeTokens({ at: at(10), tokenHash: 'hash-1' })).toBe(1);
      expect(await store.findToken('hash-1', at(9))).toMatchObject({ id: 'tok_1', revokedAt: at(10) });
      expect(await store.findToken('hash-1', at(10))).toBeNull();
      expect(await store.revokeTokens({ at: at(50), tokenHash: 'hash-1' })).toBe(0);
      expect(await store.findToken('hash-1', at(10))).toBeNull();
      expect(await store.revokeTokens({ at: at(20), id: 'tok_2' })).toBe(1);
      expect(await store.findToken('hash-2', at(20))).toBeNull();
      expect(await store.findToken('hash-3', at(1e6))).toMatchObject({ id: 'tok_3', revokedAt: null });
      expect(await store.revokeTokens({ at: at(5), tokenHash: 'unknown' })).toBe(0);
      await expect(store.revokeTokens({ at: at(5) })).rejects.toBeDefined();
    });

    it('revokes an application\'s tokens, or only those of chosen sessions, leaving others and admin tokens alone', async () => {
      const { app } = await seedApp([]);
      const { app: other } = await seedApp([]);
      const session = (sessionId: string | null) => ({ ...FULL_SCOPE, sessionId });
      await store.createToken({ id: 'tok_a', tokenHash: 'hash-a', appId: app.id, createdAt: at(0), expiresAt: null, scope: session('s1') });
      await store.createToken({ id: 'tok_b', tokenHash: 'hash-b', appId: app.id, createdAt: at(1), expiresAt: null, scope: session('s2') });
      await store.createToken({ id: 'tok_c', tokenHash: 'hash-c', appId: app.id, createdAt: at(2), expiresAt: null, scope: session(null) });
      await store.createToken({ id: 'tok_o', tokenHash: 'hash-o', appId: other.id, createdAt: at(0), expiresAt: null, scope: session('s1') });
      await store.createToken({ id: 'tok_adm', tokenHash: 'hash-adm', appId: null, createdAt: at(0), expiresAt: null });

      expect(await store.revokeTokens({ at: at(30), appId: app.id, sessionIds: ['s1', 'missing'] })).toBe(1);
      expect(await store.findToken('hash-a', at(29))).not.toBeNull();
      expect(await store.findToken('hash-a', at(30))).toBeNull();
      expect(await store.findToken('hash-b', at(30))).not.toBeNull();
      expect(await store.findToken('hash-o', at(30))).not.toBeNull();

      expect(await store.revokeTokens({ at: at(40), appId: app.id })).toBe(2);
      expect(ids(await store.listTokens({ appId: app.id, now: at(39), limit: 10 }))).toEqual(['tok_c', 'tok_b']);
      expect(await store.listTokens({ appId: app.id, now: at(40), limit: 10 })).toEqual([]);
      expect(ids(await store.listTokens({ appId: other.id, now: at(40), limit: 10 }))).toEqual(['tok_o']);
      expect(ids(await store.listTokens({ appId: null, now: at(40), limit: 10 }))).toEqual(['tok_adm']);

      expect(await store.hasAdminToken()).toBe(true);
      expect(await store.revokeTokens({ at: at(50), adminOnly: true })).toBe(1);
      expect(await store.hasAdminToken()).toBe(false);
      expect(await store.findToken('hash-o', at(1e6))).not.toBeNull();
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
}
