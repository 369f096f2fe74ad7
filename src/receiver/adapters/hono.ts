// Receiving webhooks in Hono without depending on it: a middleware, typed structurally, that streams
// the raw body under the verifier's cap (Hono's own c.req.arrayBuffer() has no limit), verifies it,
// and either answers or hands the verified webhook to the next handler via c.set('webhook').
import { normalizeHeaders } from '../core.js';
import { WebhookVerificationError } from '../errors.js';
import type { VerifiedWebhook } from '../types.js';
import {
  dispatchWebhook,
  readFailureResponse,
  resolveHandlerOptions,
  verifyWebhookRequest,
  type WebhookHandlerOptions,
  type WebhookRequestInfo,
} from './handle.js';
import { readWebBody, toWebResponse } from './web.js';

/** The parts of Hono's `Context` the middleware uses. */
export interface HonoWebhookContext {
  req: {
    raw: Request;
    arrayBuffer(): Promise<ArrayBuffer>;
    /** Hono's per-request body cache; filled so later `c.req.json()`/`text()` still work. */
    bodyCache?: unknown;
  };
  set(key: 'webhook', value: VerifiedWebhook): void;
}

/** A Hono middleware: `(c, next) => Promise<Response | void>`. */
export type HonoWebhookMiddleware = (c: HonoWebhookContext, next: () => Promise<void>) => Promise<Response | undefined>;

/** The context variables the middleware sets: `new Hono<{ Variables: HonoWebhookVariables }>()`. */
export interface HonoWebhookVariables {
  webhook: VerifiedWebhook;
}

/**
 * Hono middleware that verifies webhooks. The body is streamed from `c.req.raw` under
 * `verifier.maxBodyBytes` (413, refused before reading when `content-length` says so) and
 * `readTimeoutMs` (408, default 30 s). If an earlier middleware already read it with
 * `c.req.arrayBuffer()`/`text()`/`json()`/`parseBody()`, Hono's cached copy is used and its size
 * checked; if it was read from `c.req.raw` directly (Hono kept no copy), the bytes are gone and the
 * middleware throws to Hono's error handler instead of answering a misleading 401.
 *
 * - With `inbox` or `onWebhook` it answers itself, as described on `handleWebhookRequest`.
 * - With neither it calls `c.set('webhook', verified)` and `await next()`; the body stays readable
 *   through `c.req.json()`/`text()`/`arrayBuffer()`. Failed verification still answers 401/413.
 *
 * @throws TypeError at once when the options are invalid.
 * @example
 * ```ts
 * const app = new Hono<{ Variables: HonoWebhookVariables }>();
 * app.post('/webhooks/stripe', honoWebhook({ verifier: stripe({ secret }), inbox }));
 * app.post('/webhooks/github', honoWebhook({ verifier: github({ secret }) }), (c) => {
 *   const webhook = c.get('webhook');
 *   return c.body(null, 204);
 * });
 * ```
 */
export function honoWebhook(options: WebhookHandlerOptions): HonoWebhookMiddleware {
  const resolved = resolveHandlerOptions(options, 'honoWebhook', false);
  const passOn = resolved.inbox === undefined && resolved.onWebhook === undefined;
  const { verifier } = resolved;

  return async (c, next) => {
    const request = c.req.raw;
    const info = (): WebhookRequestInfo => ({ method: request.method, url: request.url, headers: normalizeHeaders(request.headers) });
    // A body consumed by an earlier middleware without Hono keeping the bytes cannot be verified:
    // fail loudly, to Hono's error handler, rather than answer a misleading 401.
    if (request.bodyUsed && !hasExactCachedBody(c)) throw new Error(ALREADY_PARSED);
    let body: Buffer;
    try {
      body = request.bodyUsed
        ? await readCachedBody(c, verifier.maxBodyBytes, verifier.scheme)
        : await readWebBody(request, verifier.maxBodyBytes, { timeoutMs: resolved.readTimeoutMs, scheme: verifier.scheme });
    } catch (error) {
      return toWebResponse(readFailureResponse(resolved, error, info()));
    }
    primeBodyCache(c, body);

    const outcome = verifyWebhookRequest(resolved, { body, headers: request.headers, method: request.method, url: request.url });
    if (!outcome.ok) return toWebResponse(outcome.response);
    if (passOn) {
      c.set('webhook', outcome.webhook);
      await next();
      return undefined;
    }
    return toWebResponse(await dispatchWebhook(resolved, outcome.webhook, info()));
  };
}

const ALREADY_PARSED =
  'honoWebhook: cannot verify the signature because an earlier middleware consumed the request body ' +
  'without Hono keeping the bytes (e.g. it read c.req.raw directly), so the exact bytes it covers are gone. ' +
  'Register honoWebhook before middleware that reads the body.';

/**
 * Whether Hono cached the body in a form that gives back the received bytes: `arrayBuffer`/`blob`
 * exactly, `text` re-encoded as UTF-8 (identical unless the body was not valid UTF-8 or began with a
 * byte order mark). A cache holding only parsed form data would be re-encoded with a new boundary.
 */
function hasExactCachedBody(c: HonoWebhookContext): boolean {
  const cache = c.req.bodyCache;
  if (cache === null || typeof cache !== 'object') return false;
  return 'arrayBuffer' in cache || 'blob' in cache || 'text' in cache;
}

/** The body an earlier middleware read through Hono (which caches it), size-checked. */
async function readCachedBody(c: HonoWebhookContext, maxBytes: number, scheme: string): Promise<Buffer> {
  const declared = c.req.raw.headers.get('content-length')?.trim();
  if (declared !== undefined && /^\d{1,16}$/.test(declared) && Number(declared) > maxBytes) {
    throw new WebhookVerificationError(scheme, 'body_too_large', `Declared body of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
  }
  const body = Buffer.from(await c.req.arrayBuffer());
  if (body.byteLength > maxBytes) {
    throw new WebhookVerificationError(scheme, 'body_too_large', `Body of ${body.byteLength} bytes exceeds the ${maxBytes}-byte limit`);
  }
  return body;
}

/**
 * Hono answers `c.req.json()`/`text()`/`arrayBuffer()` from `c.req.bodyCache` once the raw stream is
 * used; putting our copy there keeps them working for the handlers after the middleware.
 */
function primeBodyCache(c: HonoWebhookContext, body: Buffer): void {
  const cache = c.req.bodyCache;
  if (cache === null || typeof cache !== 'object') return;
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  (cache as Record<string, unknown>).arrayBuffer ??= Promise.resolve(copy);
}
