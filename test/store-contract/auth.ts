// The Store contract, auth and idempotency: tokens found by hash until they expire, and the first
// idempotent response kept until it expires.
import { describe, expect, it } from 'vitest';

import { store, at, seedApp } from './fixtures.js';

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
}
