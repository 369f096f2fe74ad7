// Bearer tokens: the admin token and app-scoped tokens. Only a SHA-256 hash of each token is
// stored; tokens are random, so a plain hash is enough (no password-style stretching needed).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { newId } from '../domain/ids.js';
import type { ServiceContext } from './context.js';
import { getApplication } from './applications.js';
import { lookUpToken } from './lookup-cache.js';

/** Who a request acts as. */
export type Principal = { kind: 'admin' } | { kind: 'app'; appId: string };

/** A new opaque token: a readable prefix plus 32 random bytes in base64url (never contains `.`). */
export function generateToken(kind: 'admin' | 'app'): string {
  return `${kind === 'admin' ? 'tw_admin_' : 'tw_app_'}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Make sure an admin token exists. With TAPWIRE_ADMIN_TOKEN set nothing is stored; otherwise the
 * first start creates one, stores its hash and returns the token so the caller can print it once.
 */
export async function ensureAdminToken(ctx: ServiceContext): Promise<string | null> {
  if (ctx.config.adminToken) return null;
  if (await ctx.store.hasAdminToken()) return null;
  const token = generateToken('admin');
  const now = ctx.clock.now();
  await ctx.store.createToken({ id: newId('tok', now.getTime()), tokenHash: hashToken(token), appId: null, createdAt: now, expiresAt: null });
  return token;
}

/** Resolve a bearer token to a principal, or null when it is unknown or expired. */
export async function authenticate(ctx: ServiceContext, token: string): Promise<Principal | null> {
  if (!token) return null;
  const hash = hashToken(token);
  if (ctx.config.adminToken) {
    const expected = Buffer.from(hashToken(ctx.config.adminToken), 'hex');
    if (timingSafeEqual(Buffer.from(hash, 'hex'), expected)) return { kind: 'admin' };
  }
  const stored = await lookUpToken(ctx, hash, ctx.clock.now());
  if (!stored) return null;
  return stored.appId === null ? { kind: 'admin' } : { kind: 'app', appId: stored.appId };
}

/** Mint an app-scoped token (default lifetime from config) for one application. */
export async function createAppToken(ctx: ServiceContext, appIdOrUid: string, ttlMs?: number): Promise<{ token: string; appId: string; expiresAt: Date }> {
  const app = await getApplication(ctx, appIdOrUid);
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + (ttlMs ?? ctx.config.appTokenTtlMs));
  const token = generateToken('app');
  await ctx.store.createToken({ id: newId('tok', now.getTime()), tokenHash: hashToken(token), appId: app.id, createdAt: now, expiresAt });
  return { token, appId: app.id, expiresAt };
}
