import { describe, expect, it } from 'vitest';
import type { Application } from '../domain/types.js';
import { FULL_SCOPE } from '../domain/token-scopes.js';
import type { Store, StoredToken } from '../storage/store.js';
import { LookupCache } from './lookup-cache.js';

const app = (id: string, uid: string | null = null): Application => ({
  id, uid, name: id, throttleRate: null, metadata: {}, createdAt: new Date(0), updatedAt: new Date(0),
});

/** A store holding applications and tokens in maps, counting the reads that reach it. */
function fakeStore() {
  const applications = new Map<string, Application>();
  const tokens = new Map<string, StoredToken>();
  const reads = { applications: 0, tokens: 0 };
  let gate: Promise<void> | null = null;
  const store = {
    async getApplication(idOrUid: string) {
      reads.applications++;
      // Read first, answer later: a slow query sees the table as it was when it ran.
      const found = [...applications.values()].find((a) => a.id === idOrUid || a.uid === idOrUid) ?? null;
      if (gate) await gate;
      return found;
    },
    async findToken(hash: string, now: Date) {
      reads.tokens++;
      const token = tokens.get(hash);
      return token && (token.expiresAt === null || token.expiresAt > now) && (token.revokedAt === null || token.revokedAt > now) ? token : null;
    },
  } as unknown as Store;
  return { store, applications, tokens, reads, hold: (p: Promise<void> | null) => void (gate = p) };
}

describe('LookupCache', () => {
  it('answers a repeated application lookup from memory until the TTL passes', async () => {
    const { store, applications, reads } = fakeStore();
    applications.set('app_1', app('app_1', 'shop'));
    let now = 0;
    const cache = new LookupCache(1_000, () => now);
    expect((await cache.application(store, 'shop'))?.id).toBe('app_1');
    expect((await cache.application(store, 'shop'))?.id).toBe('app_1');
    expect(reads.applications).toBe(1);
    now = 999;
    await cache.application(store, 'shop');
    expect(reads.applications).toBe(1);
    now = 1_000;
    await cache.application(store, 'shop');
    expect(reads.applications).toBe(2);
  });

  it('never remembers a miss, so an application created elsewhere is found at once', async () => {
    const { store, applications, reads } = fakeStore();
    const cache = new LookupCache(1_000, () => 0);
    expect(await cache.application(store, 'shop')).toBeNull();
    applications.set('app_1', app('app_1', 'shop'));
    expect((await cache.application(store, 'shop'))?.id).toBe('app_1');
    expect(reads.applications).toBe(2);
  });

  it('forgets an application under its id and its uid, and its tokens', async () => {
    const { store, applications, tokens, reads } = fakeStore();
    applications.set('app_1', app('app_1', 'shop'));
    applications.set('app_2', app('app_2', 'other'));
    tokens.set('h1', token('tok_1', 'app_1', null));
    tokens.set('h2', token('tok_2', 'app_2', null));
    const cache = new LookupCache(60_000, () => 0);
    for (const key of ['app_1', 'shop', 'app_2']) await cache.application(store, key);
    for (const hash of ['h1', 'h2']) await cache.token(store, hash, new Date(0));
    applications.delete('app_1');
    tokens.delete('h1');
    cache.forgetApplication('app_1');
    expect(await cache.application(store, 'shop')).toBeNull();
    expect(await cache.application(store, 'app_1')).toBeNull();
    expect(await cache.token(store, 'h1', new Date(0))).toBeNull();
    // The other tenant stays remembered.
    const before = { ...reads };
    expect((await cache.application(store, 'app_2'))?.id).toBe('app_2');
    expect((await cache.token(store, 'h2', new Date(0)))?.id).toBe('tok_2');
    expect(reads).toEqual(before);
  });

  it('does not store what a read begun before a forget found', async () => {
    const { store, applications, reads, hold } = fakeStore();
    applications.set('app_1', app('app_1', 'shop'));
    const cache = new LookupCache(60_000, () => 0);
    let release!: () => void;
    hold(new Promise<void>((resolve) => (release = resolve)));
    const slow = cache.application(store, 'shop');
    applications.delete('app_1');
    cache.forgetApplication('app_1');
    hold(null);
    release();
    expect((await slow)?.id).toBe('app_1');
    expect(await cache.application(store, 'shop')).toBeNull();
    expect(reads.applications).toBe(2);
  });

  it('checks a remembered token against its expiry on every use', async () => {
    const { store, tokens, reads } = fakeStore();
    tokens.set('h', token('tok_1', 'app_1', new Date(10_000)));
    const cache = new LookupCache(60_000, () => 0);
    expect((await cache.token(store, 'h', new Date(5_000)))?.id).toBe('tok_1');
    expect((await cache.token(store, 'h', new Date(9_999)))?.id).toBe('tok_1');
    expect(reads.tokens).toBe(1);
    expect(await cache.token(store, 'h', new Date(10_000))).toBeNull();
  });

  it('checks a remembered token against its revocation on every use, and forgets revoked tokens when told', async () => {
    const { store, tokens, reads } = fakeStore();
    tokens.set('h', token('tok_1', 'app_1', null, new Date(10_000)));
    tokens.set('a', token('tok_a', null, null));
    const cache = new LookupCache(60_000, () => 0);
    expect((await cache.token(store, 'h', new Date(9_999)))?.id).toBe('tok_1');
    expect(await cache.token(store, 'h', new Date(10_000))).toBeNull();
    expect((await cache.token(store, 'a', new Date(0)))?.id).toBe('tok_a');
    const before = reads.tokens;
    tokens.delete('a');
    cache.forgetTokens('app_1');
    expect((await cache.token(store, 'a', new Date(0)))?.id).toBe('tok_a');
    expect(reads.tokens).toBe(before);
    cache.forgetTokens(null);
    expect(await cache.token(store, 'a', new Date(0))).toBeNull();
  });

  it('reads the store every time with a TTL of 0', async () => {
    const { store, applications, reads } = fakeStore();
    applications.set('app_1', app('app_1'));
    const cache = new LookupCache(0, () => 0);
    await cache.application(store, 'app_1');
    await cache.application(store, 'app_1');
    expect(reads.applications).toBe(2);
  });
});

function token(id: string, appId: string | null, expiresAt: Date | null, revokedAt: Date | null = null): StoredToken {
  return { id, appId, createdAt: new Date(0), expiresAt, revokedAt, ...FULL_SCOPE };
}
