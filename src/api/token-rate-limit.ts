// Per-token API rate limits (TAPWIRE_APP_RATE_LIMIT, TAPWIRE_ADMIN_RATE_LIMIT): one runaway portal or
// customer script cannot flood the server. Counted after authentication, keyed by the token's hash,
// in this process's memory (with N API processes a token gets N times the budget; no Redis needed).
import fastifyRateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimit } from '../config/config.js';
import { TapwireError } from '../errors/tapwire-error.js';
import { hashToken, type Principal } from '../services/auth.js';
import type { Clock } from '../services/context.js';

/** Counts one request of an authenticated caller; throws `too_many_requests` (429) over its budget. */
export type TokenRateLimiter = (request: FastifyRequest, reply: FastifyReply, principal: Principal, bearer: string) => Promise<void>;

/**
 * Register @fastify/rate-limit on `app` for no route of its own (public routes, the dashboard's files
 * and /metrics are never limited) and return the check the server runs once a token is authenticated.
 * A token class whose limit is null costs nothing: its requests never reach the plugin.
 */
export async function registerTokenRateLimits(
  app: FastifyInstance,
  limits: { app: RateLimit | null; admin: RateLimit | null },
  clock: Clock,
): Promise<TokenRateLimiter> {
  await app.register(fastifyRateLimit, { global: false, store: fixedWindowStore(clock) });
  const limiter = (limit: RateLimit | null, keyOf: (request: FastifyRequest) => string) =>
    limit &&
    app.rateLimit({
      max: limit.max,
      timeWindow: limit.windowMs,
      keyGenerator: keyOf,
      // Thrown by the plugin after it has set Retry-After and the x-ratelimit-* headers; the
      // server's error handler turns it into the JSON body every other error has.
      errorResponseBuilder: (_request, context) =>
        new TapwireError('too_many_requests', {
          detail: `Rate limit of ${context.max} requests per ${formatWindow(limit.windowMs)} exceeded for this token; retry in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`,
        }),
    });
  const bearerHash = Symbol('bearerHash');
  type Keyed = FastifyRequest & { [bearerHash]?: string };
  const limitApp = limiter(limits.app, (request) => (request.principal as Extract<Principal, { kind: 'app' }>).tokenHash);
  // Admin principals carry no hash; the raw token never becomes a key (keys may show up in dumps).
  const limitAdmin = limiter(limits.admin, (request) => (request as Keyed)[bearerHash]!);
  return async (request, reply, principal, bearer) => {
    if (principal.kind === 'app') {
      if (limitApp) await limitApp.call(app, request, reply);
    } else if (limitAdmin) {
      (request as Keyed)[bearerHash] = hashToken(bearer);
      await limitAdmin.call(app, request, reply);
    }
  };
}

/**
 * The plugin's own memory store reads Date.now(); this one is the same fixed window on Tapwire's
 * injected Clock, so tests move time instead of sleeping. One map per limiter; windows that have
 * ended are swept whenever the map has doubled since the last sweep, so it holds about the tokens
 * active in one window.
 */
function fixedWindowStore(clock: Clock): new () => FastifyRateLimitStore {
  return class FixedWindowStore implements FastifyRateLimitStore {
    private readonly windows = new Map<string, { count: number; endMs: number }>();
    private sweepAtSize = 1024;

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const nowMs = clock.now().getTime();
      let window = this.windows.get(key);
      if (!window || window.endMs <= nowMs) {
        if (!window && this.windows.size >= this.sweepAtSize) this.sweep(nowMs);
        window = { count: 0, endMs: nowMs + timeWindow };
        this.windows.set(key, window);
      }
      window.count += 1;
      callback(null, { current: window.count, ttl: window.endMs - nowMs });
    }

    child(): FastifyRateLimitStore {
      return new FixedWindowStore();
    }

    private sweep(nowMs: number): void {
      for (const [key, window] of this.windows) if (window.endMs <= nowMs) this.windows.delete(key);
      this.sweepAtSize = Math.max(1024, this.windows.size * 2);
    }
  };
}

function formatWindow(windowMs: number): string {
  if (windowMs % 60_000 === 0) return windowMs === 60_000 ? 'minute' : `${windowMs / 60_000} minutes`;
  if (windowMs % 1000 === 0) return windowMs === 1000 ? 'second' : `${windowMs / 1000} seconds`;
  return `${windowMs} ms`;
}
