// One HTTP attempt of a webhook: POST the bytes, wait at most one deadline, keep at most a capped part
// of the answer. Every network outcome comes back as a value, so the worker can record and schedule it
// without try/catch; only caller bugs (bad arguments, a closed agent) throw.
import { EventEmitter } from 'node:events';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, ProxyAgent, request, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../domain/retry-policy.js';
import { REFUSAL_PREFIX } from './ssrf-guard.js';

export interface SendWebhookInput {
  /** The endpoint URL; only `http:` and `https:` are sent. */
  url: string;
  /** The HTTP method; default POST (an endpoint transformation may choose PUT or PATCH). */
  method?: 'POST' | 'PUT' | 'PATCH';
  /** Request headers, sent as given (content-type, user-agent, signature and custom headers). */
  headers: Record<string, string>;
  /** The payload, byte-for-byte; a string is sent as UTF-8. */
  body: Buffer | string;
  /** One deadline for connect + request + response headers + response body, in ms. */
  timeoutMs: number;
  /** Response body bytes kept; reading stops (and the connection is dropped) past this. */
  maxResponseBytes: number;
  /** Connection pool to use (see {@link createDeliveryAgent}); default: undici's global dispatcher. */
  dispatcher?: Dispatcher;
  /** Aborts the attempt (shutdown); the result then has reason `'aborted'`. */
  signal?: AbortSignal;
  /**
   * Judges the parsed URL before any connection (the SSRF guard's URL check: scheme, HTTPS-only, IP
   * literals, localhost and metadata names): returns why it must not be sent, or null. A refusal is
   * a failed result with reason `'blocked'`, and no connection is opened.
   */
  refuseUrl?: (url: URL) => string | null;
}

export type SendWebhookResult =
  | { ok: true; statusCode: number; responseBody: string; durationMs: number; headers: Record<string, string> }
  | {
      ok: false;
      /** The response status, or 0 when no response headers arrived. */
      statusCode: number;
      /** The capped response body, or a description of the transport error. */
      responseBody: string;
      durationMs: number;
      /**
       * `'blocked'`: the SSRF guard refused the URL or the address dialed (no request was sent);
       * retried like a connection failure, since DNS or the configuration may change.
       */
      reason: 'status' | 'timeout' | 'connection' | 'redirect' | 'invalid_url' | 'aborted' | 'blocked';
      /** On a 429 or 503: the `Retry-After` in ms, or null when the header is absent or unreadable. */
      retryAfterMs?: number | null;
      /** Response headers (lower-case names), empty when no response arrived. */
      headers: Record<string, string>;
    };

type SendWebhookFailure = Extract<SendWebhookResult, { ok: false }>;

/** Wall-clock time source in ms; injected by tests. */
export interface SendWebhookClock {
  now(): number;
}

const systemClock: SendWebhookClock = { now: () => Date.now() };

/** The deadline's abort reason, told apart from a caller's abort. */
class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

/**
 * An attempt's abort signal in the EventEmitter form undici also accepts (`aborted`, `reason`, an
 * `abort` event): an AbortController per request, an EventTarget, cost more than the rest of
 * setting the request up.
 */
class AttemptSignal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/**
 * undici errors that mean the caller misused the client rather than the network failing: they are
 * bugs to surface, not attempt outcomes to retry.
 */
const CALLER_ERROR_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_DESTROYED', 'UND_ERR_CLOSED']);
/** Transport errors that are time limits of undici or the OS rather than our own deadline. */
const TIMEOUT_ERROR_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/**
 * Makes one POST attempt and reports how it went. Redirects are never followed (a 3xx is a failure
 * with reason `'redirect'`); any 2xx is success. The response body is read up to `maxResponseBytes`,
 * then the stream is destroyed; it is returned as UTF-8 text when valid, else as base64.
 *
 * Never rejects for network conditions (refused, reset, DNS failure, TLS failure, timeout, an invalid
 * URL); rejects only on caller bugs such as invalid header values or a closed dispatcher.
 *
 * @param clock wall-clock ms for `durationMs` and HTTP-date `Retry-After` values; default `Date.now`.
 */
export async function sendWebhook(
  input: SendWebhookInput,
  clock: SendWebhookClock = systemClock,
): Promise<SendWebhookResult> {
  const { timeoutMs, maxResponseBytes, signal: callerSignal } = input;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2 ** 31 - 1) {
    throw new RangeError(`timeoutMs must be a positive number of ms up to 2^31-1, got ${timeoutMs}`);
  }
  if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 0) {
    throw new RangeError(`maxResponseBytes must be a non-negative integer, got ${maxResponseBytes}`);
  }

  const startedAt = clock.now();
  const elapsedMs = () => Math.max(0, Math.round(clock.now() - startedAt));
  let statusCode = 0;
  let headers: Record<string, string> = {};
  const failure = (reason: SendWebhookFailure['reason'], responseBody: string): SendWebhookFailure => ({
    ok: false,
    statusCode,
    responseBody,
    durationMs: elapsedMs(),
    reason,
    headers,
  });

  const url = parseEndpointUrl(input.url);
  if (typeof url === 'string') return failure('invalid_url', url);
  const refusal = input.refuseUrl?.(url) ?? null;
  if (refusal !== null) return failure('blocked', `${REFUSAL_PREFIX}${refusal}`);
  if (callerSignal?.aborted) return failure('aborted', 'Aborted before the request was sent');

  // One signal carries both the deadline and the caller's abort, so undici sees a single signal
  // that covers connect, headers and body alike.
  const signal = new AttemptSignal();
  const deadline = setTimeout(() => signal.abort(new DeadlineExceeded()), timeoutMs);
  const onCallerAbort = () => signal.abort(callerSignal?.reason);
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  let phase: 'response headers' | 'response body' = 'response headers';

  try {
    const response = await request(url, {
      method: input.method ?? 'POST',
      headers: input.headers,
      body: input.body,
      dispatcher: input.dispatcher,
      signal,
    });
    statusCode = response.statusCode;
    headers = flattenHeaders(response.headers);
    phase = 'response body';
    const responseBody = decodeBody(await readCapped(response.body, maxResponseBytes));

    if (statusCode >= 200 && statusCode < 300) {
      return { ok: true, statusCode, responseBody, durationMs: elapsedMs(), headers };
    }
    if (statusCode >= 300 && statusCode < 400) return failure('redirect', responseBody);
    const result = failure('status', responseBody);
    if (statusCode === 429 || statusCode === 503) {
      return { ...result, retryAfterMs: parseRetryAfter(headers['retry-after'], new Date(clock.now())) };
    }
    return result;
  } catch (error) {
    if (signal.aborted) {
      if (signal.reason instanceof DeadlineExceeded) {
        return failure('timeout', `Timed out after ${timeoutMs} ms waiting for the ${phase}`);
      }
      return failure('aborted', `Aborted while waiting for the ${phase}`);
    }
    const blocked = findBlocked(error);
    if (blocked) return failure('blocked', blocked.message);
    const code = errorCode(error);
    if (code !== undefined && CALLER_ERROR_CODES.has(code)) throw error;
    if (code !== undefined && TIMEOUT_ERROR_CODES.has(code)) return failure('timeout', describeError(error));
    return failure('connection', describeError(error));
  } finally {
    clearTimeout(deadline);
    callerSignal?.removeEventListener('abort', onCallerAbort);
  }
}

/** The URL if it can be sent to, else the reason it cannot. */
function parseEndpointUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `Invalid URL: ${JSON.stringify(text)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `Unsupported URL scheme "${url.protocol}": only http: and https: are delivered`;
  }
  return url;
}

interface CappedBody {
  bytes: Buffer;
  /** Reading stopped at the cap, so the last character may be cut in half. */
  capped: boolean;
}

/**
 * Reads at most `maxBytes` of the body, then destroys the stream: leaving the loop ends the async
 * iterator, which destroys undici's body and drops the connection instead of draining it. A receiver
 * answering with an endless body costs at most `maxBytes` of memory.
 */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<CappedBody> {
  // undici's body emits an AbortError when destroyed without a reason; we destroy it on purpose, and
  // errors while reading still reach the loop below through the iterator's own listener.
  body.on('error', () => {});
  if (maxBytes === 0) {
    body.destroy();
    return { bytes: Buffer.alloc(0), capped: true };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const remaining = maxBytes - size;
    if (chunk.length >= remaining) {
      chunks.push(chunk.subarray(0, remaining));
      return { bytes: Buffer.concat(chunks, maxBytes), capped: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks, size), capped: false };
}

/**
 * UTF-8 text when the bytes are valid UTF-8 without a NUL byte, else base64. A body cut at the cap
 * may end in half a character; streaming mode holds back that incomplete tail instead of calling
 * the body binary. A NUL marks a binary body too (and PostgreSQL text cannot store one).
 */
function decodeBody({ bytes, capped }: CappedBody): string {
  if (bytes.includes(0)) return bytes.toString('base64');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: capped });
  } catch {
    return bytes.toString('base64');
  }
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The SSRF guard's refusal (code `EBLOCKED`) in the error, its causes or an AggregateError's members. */
function findBlocked(error: unknown, depth = 0): Error | null {
  if (!(error instanceof Error) || depth > 4) return null;
  if (errorCode(error) === 'EBLOCKED') return error;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = findBlocked(inner, depth + 1);
      if (found) return found;
    }
  }
  return findBlocked(error.cause, depth + 1);
}

/** `CODE: message` for the error and its causes, including each address tried (AggregateError). */
function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (!(current instanceof Error)) {
      parts.push(String(current));
      break;
    }
    const code = errorCode(current);
    let text = current.message || current.name;
    if (current instanceof AggregateError && current.errors.length > 0) {
      text = current.errors.map((inner: unknown) => describeError(inner)).join(' | ');
    }
    parts.push(code && !text.includes(code) ? `${code}: ${text}` : text);
    current = current.cause;
  }
  return parts.join('; caused by ');
}

export interface DeliveryAgentOptions {
  /** Open sockets per origin (default 20), so one busy endpoint cannot hog the process. */
  connections?: number;
  /** How long an idle socket is kept for the next attempt to the same endpoint (default 4000, undici's own). */
  keepAliveTimeoutMs?: number;
  /**
   * DNS lookup used for every connection (default `dns.lookup`): the hook for an SSRF guard that refuses
   * names resolving to private addresses (see `AddressPolicy.guardedLookup`). A refusal (an error with
   * code `EBLOCKED`) comes back as `reason: 'blocked'`, other errors as `'connection'`. Node does not
   * call it for IP-literal hosts, so those are judged by `refuseAddress`.
   */
  lookup?: LookupFunction;
  /**
   * Judges the address of every connection: an IP-literal host just before connecting (since `lookup`
   * never sees those), and the remote address of every socket once it is connected, before a byte
   * of the request is written (so whatever resolved the name, the address actually connected to is
   * the one judged). Returns why the address may not be dialed, or null; a refusal fails the attempt
   * with `reason: 'blocked'` and the socket is destroyed. Checking here rather than when the URL was
   * saved keeps an endpoint stored under another configuration from reaching a range this process
   * does not allow. Not used with `proxyUrl`: the proxy dials, so it must filter.
   */
  refuseAddress?: (address: string) => string | null;
  /**
   * Called once for every connection the guard refuses (by `lookup` or `refuseAddress`), with the
   * refused address (null if unknown) and the refusal text: a hook for a `blocked_by_ssrf` counter.
   * It must not throw.
   */
  onBlocked?: (address: string | null, reason: string) => void;
  /**
   * Send every delivery through this HTTP(S) proxy (`http://proxy:3128`, credentials allowed as
   * `http://user:pass@proxy:3128`) with undici's ProxyAgent: HTTPS and HTTP targets alike are
   * tunnelled with CONNECT. The proxy resolves and dials the target, so `lookup` and `refuseAddress`
   * cannot apply; the proxy (e.g. smokescreen) must do the address filtering. Redirects are still
   * never followed and the attempt deadline still covers the whole exchange.
   */
  proxyUrl?: string;
}

/**
 * A connection pool for deliveries: an Agent guarded by `lookup`/`refuseAddress`, or a ProxyAgent
 * when `proxyUrl` is set. Close it with `close()` once in-flight attempts are done.
 */
export function createDeliveryAgent(options?: DeliveryAgentOptions & { proxyUrl?: undefined }): Agent;
export function createDeliveryAgent(options: DeliveryAgentOptions): Agent | ProxyAgent;
export function createDeliveryAgent(options: DeliveryAgentOptions = {}): Agent | ProxyAgent {
  const { connections = 20, keepAliveTimeoutMs = 4_000, lookup, refuseAddress, onBlocked, proxyUrl } = options;
  const pool = { connections, keepAliveTimeout: keepAliveTimeoutMs, pipelining: 1 };
  if (proxyUrl !== undefined) return new ProxyAgent({ uri: proxyUrl, ...pool });
  const connect = buildConnector(lookup ? { lookup } : {});
  const report = (error: Error | null): void => {
    if (error && errorCode(error) === 'EBLOCKED') {
      const address = (error as { address?: unknown }).address;
      onBlocked?.(typeof address === 'string' ? address : null, error.message);
    }
  };
  return new Agent({
    ...pool,
    connect: (connectOptions, callback) => {
      const host = connectOptions.hostname.replace(/^\[|\]$/g, '');
      const literalRefusal = refuseAddress && isIP(host) ? refuseAddress(host) : null;
      if (literalRefusal) {
        const error = Object.assign(new Error(`${REFUSAL_PREFIX}${literalRefusal}`), { code: 'EBLOCKED', address: host });
        report(error);
        callback(error, null);
        return;
      }
      connect(connectOptions, (error, socket) => {
        if (error || !socket || !refuseAddress) {
          if (error) report(error);
          callback(error, socket as never);
          return;
        }
        // The address connected to, whatever resolved the name: the last word on DNS rebinding.
        const remote = socket.remoteAddress;
        const refusal = remote ? refuseAddress(remote) : 'the connection has no remote address';
        if (!refusal) {
          callback(null, socket);
          return;
        }
        socket.destroy();
        const blocked = Object.assign(new Error(`${REFUSAL_PREFIX}connected to ${remote ?? 'an unknown address'}; ${refusal}`), {
          code: 'EBLOCKED',
          address: remote ?? null,
        });
        report(blocked);
        callback(blocked, null);
      });
    },
  });
}
