// Receiving webhooks wherever handlers take a Web `Request` and return a `Response`: Next.js route
// handlers, Bun, Deno, Cloudflare Workers, and Hono (which builds on this). The body is streamed
// under the verifier's cap instead of `await request.arrayBuffer()`, which buffers without limit.
import { normalizeHeaders } from '../core.js';
import { WebhookVerificationError } from '../errors.js';
import type { VerifiedWebhook, Verifier } from '../types.js';
import {
  DEFAULT_READ_TIMEOUT_MS,
  RequestBodyError,
  jsonResponse,
  processWebhookRequest,
  readFailureResponse,
  resolveHandlerOptions,
  type WebhookHandlerOptions,
  type WebhookResponse,
} from './handle.js';

/** The parts of a Web `Request` the body reader uses (a `Request` is one). */
export interface WebBodySource {
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  readonly bodyUsed: boolean;
}

/** Options of {@link readWebBody} and {@link verifyWebRequest}. */
export interface ReadWebBodyOptions {
  /** Total time allowed for the whole body, in milliseconds. Default 30,000. */
  timeoutMs?: number;
  /** Scheme named in the `body_too_large` error. Default `'receiver'`. */
  scheme?: string;
}

/**
 * Reads a Web request's body into one Buffer, refusing more than `maxBytes`: a declared
 * `content-length` over the cap is refused before reading, otherwise the stream is read chunk by
 * chunk and cancelled at the first chunk past the cap. Rejects with a `body_too_large`
 * {@link WebhookVerificationError}, or a {@link RequestBodyError} (`timeout` after `timeoutMs`,
 * `already_read` when the body was used, `aborted` when the stream fails).
 *
 * @example
 * ```ts
 * const body = await readWebBody(request, 64 * 1024);
 * ```
 */
export async function readWebBody(request: WebBodySource, maxBytes: number, options: ReadWebBodyOptions = {}): Promise<Buffer> {
  const { timeoutMs = DEFAULT_READ_TIMEOUT_MS, scheme = 'receiver' } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new TypeError('readWebBody: maxBytes must be a non-negative integer');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('readWebBody: timeoutMs must be a positive number');

  const declared = request.headers.get('content-length')?.trim();
  if (declared !== undefined && /^\d{1,16}$/.test(declared) && Number(declared) > maxBytes) {
    if (request.body !== null && !request.bodyUsed) request.body.cancel().catch(() => {});
    throw new WebhookVerificationError(scheme, 'body_too_large', `Declared body of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
  }
  if (request.bodyUsed) throw new RequestBodyError('already_read', 'The request body was already read by something else');
  if (request.body === null) return Buffer.alloc(0);

  const reader = request.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestBodyError('timeout', `The body did not arrive within ${timeoutMs} ms`)), timeoutMs);
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await Promise.race([reader.read(), deadline]);
      } catch (error) {
        if (error instanceof RequestBodyError) throw error;
        throw new RequestBodyError('aborted', `The request stream failed: ${String(error)}`, { cause: error });
      }
      if (result.done) break;
      size += result.value.byteLength;
      if (size > maxBytes) throw new WebhookVerificationError(scheme, 'body_too_large', `Body exceeds the ${maxBytes}-byte limit`);
      chunks.push(result.value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
    try {
      reader.releaseLock();
    } catch {
      // Older runtimes refuse while a read is pending; the stream is cancelled or done either way.
    }
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads `request`'s body under `verifier.maxBodyBytes` and verifies it, for handlers that want to
 * answer themselves.
 *
 * @throws WebhookVerificationError when verification fails (`body_too_large` included): answer 401
 *   (413) and log `error.reason`, never send it. RequestBodyError when the body cannot be read.
 * @example
 * ```ts
 * // app/api/webhooks/route.ts (Next.js)
 * export async function POST(request: Request) {
 *   try {
 *     const webhook = await verifyWebRequest(request, verifier);
 *     await handle(webhook.json());
 *     return new Response(null, { status: 204 });
 *   } catch (error) {
 *     if (isWebhookVerificationError(error)) return Response.json({ error: 'unauthorized' }, { status: 401 });
 *     throw error;
 *   }
 * }
 * ```
 */
export async function verifyWebRequest(
  request: Request,
  verifier: Verifier,
  options: { timeoutMs?: number } = {},
): Promise<VerifiedWebhook> {
  const body = await readWebBody(request, verifier.maxBodyBytes, { timeoutMs: options.timeoutMs, scheme: verifier.scheme });
  return verifier.verify({ body, headers: request.headers });
}

/**
 * A Web-standard handler, `(request: Request) => Promise<Response>`, that receives webhooks. Only POST
 * is accepted (others get 405 with `Allow: POST`). The body is streamed under
 * `verifier.maxBodyBytes` (413) and `readTimeoutMs` (408, default 30 s); then the answer is the one
 * described on `handleWebhookRequest`.
 *
 * @param options `verifier` and exactly one of `inbox` / `onWebhook`; see {@link WebhookHandlerOptions}.
 * @throws TypeError at once when the options are invalid.
 * @example
 * ```ts
 * // Next.js app/api/webhooks/route.ts
 * export const POST = createWebHandler({ verifier: standardWebhooks({ secret }), onWebhook: handle });
 * // Bun / Deno
 * Bun.serve({ fetch: createWebHandler({ verifier, inbox }) });
 * ```
 */
export function createWebHandler(options: WebhookHandlerOptions): (request: Request) => Promise<Response> {
  const resolved = resolveHandlerOptions(options, 'createWebHandler', true);
  return async (request) => {
    if (request.method !== 'POST') {
      return toWebResponse(jsonResponse(405, { error: 'method_not_allowed' }, { allow: 'POST' }));
    }
    let body: Buffer;
    try {
      body = await readWebBody(request, resolved.verifier.maxBodyBytes, {
        timeoutMs: resolved.readTimeoutMs,
        scheme: resolved.verifier.scheme,
      });
    } catch (error) {
      const info = { method: request.method, url: request.url, headers: normalizeHeaders(request.headers) };
      return toWebResponse(readFailureResponse(resolved, error, info));
    }
    return toWebResponse(await processWebhookRequest(resolved, { body, headers: request.headers, method: request.method, url: request.url }));
  };
}

/**
 * A core answer as a Web `Response`.
 *
 * @example
 * ```ts
 * return toWebResponse(await processWebhookRequest(resolved, { body, headers: request.headers }));
 * ```
 */
export function toWebResponse(response: WebhookResponse): Response {
  return new Response(response.body, { status: response.status, headers: response.headers });
}
