// Bearer tokens: the admin token and application-scoped (portal) tokens with what they may do, and
// their revocation. Only a SHA-256 hash of each token is stored; tokens are random, so a plain hash
// is enough (no password-style stretching needed).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { newId } from '../domain/ids.js';
import { FULL_SCOPE, MAX_APP_TOKEN_TTL_MS, type TokenScope } from '../domain/token-scopes.js';
import type { Application } from '../domain/types.js';
import { TapwireError } from '../errors/tapwire-error.js';
import type { StoredToken } from '../storage/store.js';
import type { ServiceContext } from './context.js';
import { createApplication, getApplication, type ApplicationInput } from './applications.js';
import { lookUpToken } from './lookup-cache.js';

/** Who a request acts as: the admin, or an application's token with its scope (and its hash, to log it out). */
export type Principal = { kind: 'admin' } | { kind: 'app'; appId: string; tokenHash: string; scope: TokenScope };

/** The most tokens `tapwire token list` shows. */
const LIST_LIMIT = 1000;

/** A new opaque token: a readable prefix plus 32 random bytes in base64url (never contains `.`). */
export function generateToken(kind: 'admin' | 'app'): string {
  return `${kind === 'admin' ? 'tw_admin_' : 'tw_app_'}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** TAPWIRE_ADMIN_TOKEN's hash, made once per value instead of on every request. */
let adminHash: { token: string; hash: Buffer } | null = null;

function configuredAdminHash(token: string): Buffer {
  if (adminHash?.token !== token) adminHash = { token, hash: Buffer.from(hashToken(token), 'hex') };
  return adminHash.hash;
}

/**
 * Make sure an admin token exists. With TAPWIRE_ADMIN_TOKEN set nothing is stored; otherwise the
 * first start creates one, stores its hash and returns the token so the caller can print it once.
 */
export async function ensureAdminToken(ctx: ServiceContext): Promise<string | null> {
  if (ctx.config.adminToken) return null;
  if (await ctx.store.hasAdminToken()) return null;
  return storeAdminToken(ctx);
}

/**
 * Replace the stored admin tokens with a new one (`tapwire token rotate-admin`): the old ones stop
 * working at once. Returns the new token, to be printed once.
 */
export async function rotateAdminToken(ctx: ServiceContext): Promise<{ token: string; revoked: number }> {
  const revoked = await ctx.store.revokeTokens({ at: ctx.clock.now(), adminOnly: true });
  ctx.lookups?.forgetTokens(null);
  return { token: await storeAdminToken(ctx), revoked };
}

async function storeAdminToken(ctx: ServiceContext): Promise<string> {
  const token = generateToken('admin');
  const now = ctx.clock.now();
  await ctx.store.createToken({ id: newId('tok', now.getTime()), tokenHash: hashToken(token), appId: null, createdAt: now, expiresAt: null });
  return token;
}

/**
 * Resolve a bearer token to a principal, or null when it is unknown, expired or revoked. With
 * TAPWIRE_ADMIN_TOKEN set, that token is the only admin token: stored (generated) ones are refused.
 */
export async function authenticate(ctx: ServiceContext, token: string): Promise<Principal | null> {
  if (!token) return null;
  const hash = hashToken(token);
  if (ctx.config.adminToken) {
    if (timingSafeEqual(Buffer.from(hash, 'hex'), configuredAdminHash(ctx.config.adminToken))) return { kind: 'admin' };
  }
  const stored = await lookUpToken(ctx, hash, ctx.clock.now());
  if (!stored) return null;
  if (stored.appId === null) return ctx.config.adminToken ? null : { kind: 'admin' };
  const { readOnly, capabilities, featureFlags, sessionId } = stored;
  return { kind: 'app', appId: stored.appId, tokenHash: hash, scope: { readOnly, capabilities, featureFlags, sessionId } };
}

/** The feature flags a principal's event types are limited to; null (the admin) sees every type. */
export function featureFlagsOf(principal: Principal): string[] | null {
  return principal.kind === 'app' ? principal.scope.featureFlags : null;
}

/** What a portal token is minted with (app-portal-access, `tapwire token create`). */
export interface AppTokenOptions {
  /** Lifetime; default from config (TAPWIRE_APP_TOKEN_TTL), at most MAX_APP_TOKEN_TTL_MS. */
  ttlMs?: number;
  scope?: Partial<TokenScope>;
  /** Create the application from this when the path names none (Svix's `application`). */
  application?: ApplicationInput;
}

/** Mint an app-scoped token for one application (created first from `options.application` when missing). */
export async function createAppToken(
  ctx: ServiceContext,
  appIdOrUid: string,
  options: AppTokenOptions = {},
): Promise<{ token: string; appId: string; expiresAt: Date; app: Application }> {
  const app = await applicationFor(ctx, appIdOrUid, options.application);
  const now = ctx.clock.now();
  const ttlMs = Math.min(options.ttlMs ?? ctx.config.appTokenTtlMs, MAX_APP_TOKEN_TTL_MS);
  const expiresAt = new Date(now.getTime() + ttlMs);
  const token = generateToken('app');
  const scope: TokenScope = { ...FULL_SCOPE, ...options.scope };
  await ctx.store.createToken({ id: newId('tok', now.getTime()), tokenHash: hashToken(token), appId: app.id, createdAt: now, expiresAt, scope });
  return { token, appId: app.id, expiresAt, app };
}

/**
 * The application a path names; when there is none and `input` is given, it is created, with the
 * path as its uid unless `input` has one (a path of the form of an application id cannot be a uid).
 */
async function applicationFor(ctx: ServiceContext, appIdOrUid: string, input: ApplicationInput | undefined): Promise<Application> {
  const existing = await ctx.store.getApplication(appIdOrUid);
  if (existing) return existing;
  if (!input) return getApplication(ctx, appIdOrUid);
  const uid = input.uid ?? (appIdOrUid.startsWith('app_') ? null : appIdOrUid);
  return (await createApplication(ctx, { ...input, uid }, { getIfExists: true })).app;
}

/** Log out: the presented application token stops working at once. Admin tokens cannot log out. */
export async function logout(ctx: ServiceContext, principal: Principal): Promise<void> {
  if (principal.kind !== 'app') {
    throw new TapwireError('generic_error', { detail: 'Only application tokens can log out; replace an admin token with `tapwire token rotate-admin`' });
  }
  const revoked = await ctx.store.revokeTokens({ at: ctx.clock.now(), tokenHash: principal.tokenHash });
  ctx.lookups?.forgetTokens(principal.appId);
  // Integration keys are not revocable this way (see Store.revokeTokens); they end by rotation.
  if (revoked === 0) {
    throw new TapwireError('generic_error', { detail: "An integration key cannot log out; rotate it (POST …/integration/{integ_id}/key/rotate) or delete the integration" });
  }
}

/**
 * Svix's expire-all: the application's tokens (only those of `sessionIds`, when given) stop working
 * now, or `expirySeconds` from now. Returns how many were revoked.
 */
export async function expireAppTokens(
  ctx: ServiceContext,
  appIdOrUid: string,
  input: { expirySeconds?: number | null; sessionIds?: string[] | null },
): Promise<number> {
  const app = await getApplication(ctx, appIdOrUid);
  const at = new Date(ctx.clock.now().getTime() + (input.expirySeconds ?? 0) * 1000);
  const revoked = await ctx.store.revokeTokens({ at, appId: app.id, sessionIds: input.sessionIds?.length ? input.sessionIds : null });
  ctx.lookups?.forgetTokens(app.id);
  return revoked;
}

/** The live tokens of an application (or with null, the stored admin tokens), newest first. */
export async function listTokens(ctx: ServiceContext, appIdOrUid: string | null): Promise<StoredToken[]> {
  const appId = appIdOrUid === null ? null : (await getApplication(ctx, appIdOrUid)).id;
  return ctx.store.listTokens({ appId, now: ctx.clock.now(), limit: LIST_LIMIT });
}

/** Revoke one token by its id (`tapwire token revoke`); false when no live token has it. */
export async function revokeToken(ctx: ServiceContext, tokenId: string): Promise<boolean> {
  const revoked = await ctx.store.revokeTokens({ at: ctx.clock.now(), id: tokenId });
  ctx.lookups?.clear();
  return revoked > 0;
}
