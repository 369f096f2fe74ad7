// The framework-neutral half of every adapter: read the raw body under a byte cap and a deadline,
// verify it, hand it to the inbox or the app's handler, and turn the outcome into an HTTP answer that
// never tells the sender why a signature failed. Adapters only translate requests and responses.
import type { Readable } from 'node:stream';
import { normalizeHeaders } from '../core.js';
import { WebhookVerificationError, isWebhookVerificationError } from '../errors.js';
import type { HeadersInput, VerifiedWebhook, Verifier, WebhookSink } from '../types.js';

/** Default total time allowed to receive a request body: 30 seconds. */
export const DEFAULT_READ_TIMEOUT_MS = 30_000;

/** What the callbacks are told about a request: never its body. */
export interface WebhookRequestInfo {
  /** The HTTP method, when the adapter knows it. */
  method?: string;
  /** The request path (node:http, Express, Fastify) or full URL (Web `Request`, Hono). */
  url?: string;
  /** The request headers, names lower-cased. */
  headers: Readonly<Record<string, string>>;
}

/**
 * Options every adapter takes. Set at most one of `inbox` and `onWebhook`. Adapters that answer the
 * request themselves (node:http, Fastify, Web) need one of them; the Express and Hono middlewares
 * also work with neither, attaching the verified webhook for the next handler instead.
 */
export interface WebhookHandlerOptions {
  /** Checks the signature and caps the body (`verifier.maxBodyBytes`). Build one with a scheme factory. */
  verifier: Verifier;
  /**
   * Durable store for verified webhooks (`createInbox()`). The answer is 200 only after `receive`
   * resolves, with `{"received":true,"duplicate":…}`; a rejection answers 500 so the sender retries.
   */
  inbox?: WebhookSink;
  /**
   * Called with each verified webhook; the answer is 200 `{"received":true}` once it resolves, 500
   * `{"error":"internal"}` (so the sender retries) when it throws or rejects. Senders retry on
   * timeouts too, so keep it quick or prefer `inbox`.
   */
  onWebhook?: (webhook: VerifiedWebhook) => unknown | Promise<unknown>;
  /**
   * Called when a request fails verification (the answer is 401, or 413 for `body_too_large`), for
   * logging: `error.reason` says which check failed. The client never learns the reason. Default: nothing.
   */
  onRejected?: (error: WebhookVerificationError, request: WebhookRequestInfo) => void;
  /**
   * Called for every other failure: `onWebhook` or the inbox threw (answer 500), the body could not
   * be read ({@link RequestBodyError}: timeout 408, aborted connection, body already consumed), or the
   * verifier itself failed unexpectedly. Default: `console.error`.
   */
  onError?: (error: unknown, request: WebhookRequestInfo) => void;
  /**
   * Total time allowed to receive the body, in milliseconds, against slow senders. Default 30,000.
   * Used by the adapters that read the body themselves (node:http, Express without a body parser,
   * Hono, Web); Fastify reads it itself, so set its `requestTimeout` server option instead.
   */
  readTimeoutMs?: number;
}

/** An HTTP answer for the adapter to send as is. `body` is JSON text. */
export interface WebhookResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** A request as the core takes it: the exact body bytes and the headers. */
export interface RawWebhookRequest {
  body: Uint8Array;
  headers: HeadersInput;
  method?: string;
  url?: string;
}

/** Options of {@link handleWebhookRequest} after checking, with defaults filled in. */
export interface ResolvedWebhookHandlerOptions extends WebhookHandlerOptions {
  onRejected: (error: WebhookVerificationError, request: WebhookRequestInfo) => void;
  onError: (error: unknown, request: WebhookRequestInfo) => void;
  readTimeoutMs: number;
}

/** Why a request body could not be read (other than being too large, which is `body_too_large`). */
export type RequestBodyErrorCode =
  /** The whole body did not arrive within the read deadline (a slow or stalled sender): 408. */
  | 'timeout'
  /** The connection closed or failed before the body ended: nobody is left to answer. */
  | 'aborted'
  /** Something (usually a body parser) consumed the stream before the adapter: a setup bug, 500. */
  | 'already_read';

/**
 * The request body could not be read; `code` says why. Adapters answer it themselves (408 for
 * `timeout`) and pass it to `onError`.
 *
 * @example
 * ```ts
 * onError: (error) => {
 *   if (error instanceof RequestBodyError && error.code === 'aborted') return; // the sender hung up
 *   logger.error(error);
 * }
 * ```
 */
export class RequestBodyError extends Error {
  override readonly name = 'RequestBodyError';
  readonly code: RequestBodyErrorCode;

  constructor(code: RequestBodyErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
});

/**
 * A JSON answer with `content-type: application/json; charset=utf-8` and `cache-control: no-store`,
 * plus `headers`.
 *
 * @example
 * ```ts
 * jsonResponse(405, { error: 'method_not_allowed' }, { allow: 'POST' });
 * ```
 */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): WebhookResponse {
  return { status, body: JSON.stringify(body), headers: { ...JSON_HEADERS, ...headers } };
}

const defaultOnError = (error: unknown): void => {
  console.error('[tapwire/receiver] webhook request failed:', error);
};

/**
 * Checks adapter options once, when the adapter is built, and fills in defaults (`onRejected`: no-op,
 * `onError`: `console.error`, `readTimeoutMs`: 30,000).
 *
 * @param adapter the adapter's name, for error messages.
 * @param requireDestination true for adapters that must answer the request themselves, so a missing
 *   `inbox`/`onWebhook` would acknowledge webhooks nobody processes.
 * @throws TypeError on a missing verifier, both `inbox` and `onWebhook`, a missing destination when
 *   required, or a non-positive `readTimeoutMs`.
 * @example
 * ```ts
 * // In a custom adapter's factory, so a bad setup fails at startup rather than per request:
 * const resolved = resolveHandlerOptions(options, 'myAdapter', true);
 * ```
 */
export function resolveHandlerOptions(
  options: WebhookHandlerOptions,
  adapter: string,
  requireDestination: boolean,
): ResolvedWebhookHandlerOptions {
  if (options === null || typeof options !== 'object') throw new TypeError(`${adapter}: options are required`);
  const { verifier, inbox, onWebhook, onRejected, onError, readTimeoutMs = DEFAULT_READ_TIMEOUT_MS } = options;
  if (verifier === null || typeof verifier !== 'object' || typeof verifier.verify !== 'function') {
    throw new TypeError(`${adapter}: options.verifier must be a Verifier (standardWebhooks(), stripe(), …)`);
  }
  if (!Number.isSafeInteger(verifier.maxBodyBytes) || verifier.maxBodyBytes <= 0) {
    throw new TypeError(`${adapter}: verifier.maxBodyBytes must be a positive integer`);
  }
  if (inbox !== undefined && onWebhook !== undefined) {
    throw new TypeError(`${adapter}: set either inbox or onWebhook, not both`);
  }
  if (inbox !== undefined && typeof inbox.receive !== 'function') {
    throw new TypeError(`${adapter}: options.inbox must have a receive(webhook) method`);
  }
  if (onWebhook !== undefined && typeof onWebhook !== 'function') {
    throw new TypeError(`${adapter}: options.onWebhook must be a function`);
  }
  if (requireDestination && inbox === undefined && onWebhook === undefined) {
    throw new TypeError(`${adapter}: set inbox or onWebhook; otherwise webhooks would be acknowledged and dropped`);
  }
  if (!Number.isFinite(readTimeoutMs) || readTimeoutMs <= 0) {
    throw new TypeError(`${adapter}: readTimeoutMs must be a positive number of milliseconds`);
  }
  return {
    ...options,
    onRejected: onRejected ?? (() => {}),
    onError: onError ?? defaultOnError,
    readTimeoutMs,
  };
}

/** Runs a logging callback; a callback that throws must not change the answer. */
function report<A extends unknown[]>(callback: (...args: A) => void, ...args: A): void {
  try {
    callback(...args);
  } catch {
    // A broken logger is the app's problem; the sender still gets the right status.
  }
}

/** The outcome of {@link verifyWebhookRequest}: the webhook, or the answer to send instead. */
export type VerifyOutcome = { ok: true; webhook: VerifiedWebhook } | { ok: false; response: WebhookResponse };

/**
 * Verifies a request whose body is fully read. A verification failure answers 401
 * `{"error":"unauthorized"}` (413 `{"error":"payload_too_large"}` for `body_too_large`) and calls
 * `onRejected`; anything else the verifier throws answers 500 and calls `onError`. The body is
 * refused past `verifier.maxBodyBytes` here too, whatever the verifier does.
 *
 * @example
 * ```ts
 * // A custom middleware that hands the webhook on instead of answering:
 * const outcome = verifyWebhookRequest(resolved, { body, headers });
 * if (!outcome.ok) return send(outcome.response);
 * ctx.webhook = outcome.webhook;
 * ```
 */
export function verifyWebhookRequest(options: ResolvedWebhookHandlerOptions, request: RawWebhookRequest): VerifyOutcome {
  const { verifier } = options;
  if (request.body.byteLength > verifier.maxBodyBytes) {
    // Checked here too, so a verifier that forgets its cap still cannot be made to hash a huge body.
    const error = new WebhookVerificationError(
      verifier.scheme,
      'body_too_large',
      `Body of ${request.body.byteLength} bytes exceeds the ${verifier.maxBodyBytes}-byte limit`,
    );
    return { ok: false, response: rejectedResponse(options, error, requestInfo(request)) };
  }
  try {
    return { ok: true, webhook: verifier.verify({ body: request.body, headers: request.headers }) };
  } catch (error) {
    const info = requestInfo(request);
    if (isWebhookVerificationError(error)) return { ok: false, response: rejectedResponse(options, error, info) };
    report(options.onError, error, info);
    return { ok: false, response: jsonResponse(500, { error: 'internal' }) };
  }
}

/**
 * Hands a verified webhook to `inbox` (200 `{"received":true,"duplicate":…}`) or `onWebhook`
 * (200 `{"received":true}`); a throw answers 500 `{"error":"internal"}` so the sender retries, and
 * calls `onError` (a verified body that is not JSON when `webhook.json()` is called answers 400: a retry
 * of the same bytes could never succeed). With neither set, acknowledges with 200 `{"received":true}`.
 *
 * @example
 * ```ts
 * const answer = await dispatchWebhook(resolved, outcome.webhook, { headers: outcome.webhook.headers });
 * ```
 */
export async function dispatchWebhook(
  options: ResolvedWebhookHandlerOptions,
  webhook: VerifiedWebhook,
  info: WebhookRequestInfo,
): Promise<WebhookResponse> {
  try {
    if (options.inbox !== undefined) {
      const result = await options.inbox.receive(webhook);
      return jsonResponse(200, { received: true, duplicate: result.duplicate === true });
    }
    if (options.onWebhook !== undefined) await options.onWebhook(webhook);
    return jsonResponse(200, { received: true });
  } catch (error) {
    report(options.onError, error, info);
    // The signature was good, so the sender is genuine, but its body is not the JSON the handler
    // asked for: retrying the same bytes can never succeed, so do not invite retries with a 500.
    if (isWebhookVerificationError(error) && error.reason === 'invalid_body') {
      return jsonResponse(400, { error: 'invalid_body' });
    }
    return jsonResponse(500, { error: 'internal' });
  }
}

/**
 * The answer when reading the body failed: 413 for `body_too_large` (calls `onRejected`), 408 for a
 * read timeout, 500 for a body already consumed, 400 for an aborted connection (calls `onError`).
 * The body was not read to its end in most of these cases: close the connection after answering
 * (`Connection: close` on node:http) rather than drain the rest.
 *
 * @example
 * ```ts
 * try {
 *   body = await readRawBody(req, resolved.verifier.maxBodyBytes, { timeoutMs: resolved.readTimeoutMs });
 * } catch (error) {
 *   return send(readFailureResponse(resolved, error, { headers: normalizeHeaders(req.headers) }));
 * }
 * ```
 */
export function readFailureResponse(
  options: ResolvedWebhookHandlerOptions,
  error: unknown,
  info: WebhookRequestInfo,
): WebhookResponse {
  if (isWebhookVerificationError(error)) return rejectedResponse(options, error, info);
  report(options.onError, error, info);
  if (error instanceof RequestBodyError) {
    if (error.code === 'timeout') return jsonResponse(408, { error: 'request_timeout' });
    if (error.code === 'aborted') return jsonResponse(400, { error: 'bad_request' });
  }
  return jsonResponse(500, { error: 'internal' });
}

function rejectedResponse(
  options: ResolvedWebhookHandlerOptions,
  error: WebhookVerificationError,
  info: WebhookRequestInfo,
): WebhookResponse {
  report(options.onRejected, error, info);
  // Never the reason: telling a forger which check failed helps the forger.
  return error.reason === 'body_too_large'
    ? jsonResponse(413, { error: 'payload_too_large' })
    : jsonResponse(401, { error: 'unauthorized' });
}

function requestInfo(request: RawWebhookRequest): WebhookRequestInfo {
  return { method: request.method, url: request.url, headers: normalizeHeaders(request.headers) };
}

/**
 * {@link verifyWebhookRequest} then {@link dispatchWebhook}, with options already resolved: what the
 * adapters run once the body is read.
 *
 * @example
 * ```ts
 * const answer = await processWebhookRequest(resolved, { body, headers: req.headers });
 * ```
 */
export async function processWebhookRequest(
  options: ResolvedWebhookHandlerOptions,
  request: RawWebhookRequest,
): Promise<WebhookResponse> {
  const outcome = verifyWebhookRequest(options, request);
  if (!outcome.ok) return outcome.response;
  return dispatchWebhook(options, outcome.webhook, requestInfo(request));
}

/**
 * Verifies a fully read request and dispatches it: the whole pipeline, for a custom adapter.
 *
 * | outcome | status | body |
 * | --- | --- | --- |
 * | stored / handled | 200 | `{"received":true,"duplicate":false}` (inbox) or `{"received":true}` |
 * | seen before (inbox) | 200 | `{"received":true,"duplicate":true}` |
 * | bad signature, header or timestamp | 401 | `{"error":"unauthorized"}` |
 * | body over `verifier.maxBodyBytes` | 413 | `{"error":"payload_too_large"}` |
 * | `onWebhook` called `webhook.json()` on a body that is not JSON | 400 | `{"error":"invalid_body"}` |
 * | inbox or `onWebhook` threw anything else | 500 | `{"error":"internal"}` |
 *
 * Every answer has `content-type: application/json; charset=utf-8` and `cache-control: no-store`.
 *
 * @example
 * ```ts
 * const body = await readRawBody(req, verifier.maxBodyBytes);
 * const answer = await handleWebhookRequest({ verifier, inbox }, { body, headers: req.headers });
 * res.writeHead(answer.status, answer.headers).end(answer.body);
 * ```
 * @throws TypeError when the options are invalid or name neither `inbox` nor `onWebhook`.
 */
export async function handleWebhookRequest(
  options: WebhookHandlerOptions,
  request: RawWebhookRequest,
): Promise<WebhookResponse> {
  return processWebhookRequest(resolveHandlerOptions(options, 'handleWebhookRequest', true), request);
}

/**
 * The stream {@link readRawBody} reads: a Node `Readable`, usually an `http.IncomingMessage` (whose
 * `headers` give the declared `content-length`, and whose `socket` must survive a refusal so the
 * error can still be answered).
 */
export type RawBodyStream = Readable & {
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly socket?: unknown;
};

/** Options of {@link readRawBody}. */
export interface ReadRawBodyOptions {
  /** Total time allowed for the whole body, in milliseconds. Default 30,000. */
  timeoutMs?: number;
  /** Scheme named in the `body_too_large` error. Default `'receiver'`. */
  scheme?: string;
}

/**
 * Reads a request body into one Buffer, refusing more than `maxBytes`.
 *
 * A declared `content-length` over the cap is refused before a byte is read; otherwise bytes are
 * counted as they arrive and reading stops at the first chunk past the cap. Either way the promise
 * rejects with a `body_too_large` {@link WebhookVerificationError}. It rejects with a
 * {@link RequestBodyError} when the body takes longer than `timeoutMs` (`timeout`), the connection
 * fails (`aborted`) or the stream was already consumed (`already_read`).
 *
 * After a refusal an `IncomingMessage` is left flowing (the rest is discarded, not buffered) so the
 * caller can still answer on its connection; answer with `Connection: close` so the socket is closed
 * instead of drained. Any other stream is destroyed.
 *
 * @example
 * ```ts
 * const body = await readRawBody(req, verifier.maxBodyBytes, { timeoutMs: 10_000 });
 * ```
 */
export function readRawBody(stream: RawBodyStream, maxBytes: number, options: ReadRawBodyOptions = {}): Promise<Buffer> {
  const { timeoutMs = DEFAULT_READ_TIMEOUT_MS, scheme = 'receiver' } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new TypeError('readRawBody: maxBytes must be a non-negative integer');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('readRawBody: timeoutMs must be a positive number');
  const isHttpRequest = stream.socket !== undefined && stream.headers !== undefined;
  const abandon = (): void => {
    // An IncomingMessage must stay alive so the caller can answer 413/408 on it; flowing with no
    // listener discards what still arrives until the connection is closed after the answer.
    if (isHttpRequest) stream.resume();
    else stream.destroy();
  };

  return new Promise<Buffer>((resolve, reject) => {
    const declared = declaredLength(stream.headers?.['content-length']);
    if (declared !== undefined && declared > maxBytes) {
      abandon();
      reject(tooLarge(scheme, `Declared body of ${declared} bytes exceeds the ${maxBytes}-byte limit`));
      return;
    }
    if (stream.readableEnded || stream.readableDidRead) {
      reject(new RequestBodyError('already_read', 'The request body was already read by something else'));
      return;
    }
    if (stream.destroyed) {
      reject(new RequestBodyError('aborted', 'The request stream is already destroyed'));
      return;
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onStreamError);
      stream.off('close', onClose);
      if (error === undefined) {
        resolve(Buffer.concat(chunks, size));
        return;
      }
      chunks.length = 0;
      if (!(error instanceof RequestBodyError && error.code === 'aborted')) abandon();
      reject(error);
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      size += bytes.length;
      if (size > maxBytes) {
        finish(tooLarge(scheme, `Body exceeds the ${maxBytes}-byte limit`));
        return;
      }
      chunks.push(bytes);
    };
    const onEnd = (): void => finish(undefined);
    const onStreamError = (error: Error): void =>
      finish(new RequestBodyError('aborted', `The request stream failed: ${error.message}`, { cause: error }));
    const onClose = (): void => finish(new RequestBodyError('aborted', 'The connection closed before the body ended'));
    const timer = setTimeout(
      () => finish(new RequestBodyError('timeout', `The body did not arrive within ${timeoutMs} ms`)),
      timeoutMs,
    );

    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onStreamError);
    stream.on('close', onClose);
  });
}

function tooLarge(scheme: string, message: string): WebhookVerificationError {
  return new WebhookVerificationError(scheme, 'body_too_large', message);
}

function declaredLength(value: string | readonly string[] | undefined): number | undefined {
  const text = typeof value === 'string' ? value.trim() : undefined;
  return text !== undefined && /^\d{1,16}$/.test(text) ? Number(text) : undefined;
}
