// Building blocks shared by every scheme: header lookup that works for any HTTP stack, the body-size
// cap, timestamp tolerance, constant-time comparison and the VerifiedWebhook object. Only node:crypto
// and node:buffer; schemes stay small because the careful parts live here once.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors.js';
import type { HeaderValue, HeadersInput, VerifiedWebhook } from './types.js';

/** Default cap on a webhook body: 1 MiB. Standard Webhooks recommends payloads far below this. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Default timestamp tolerance in seconds, in either direction (Stripe, Slack and Standard Webhooks use 5 min). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Headers as a plain record with lower-case names. Repeated values (arrays, or repeated pairs) are
 * joined with ", " as HTTP does; `undefined`/`null` values are dropped.
 */
export function normalizeHeaders(input: HeadersInput): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const add = (name: string, value: HeaderValue): void => {
    if (value === undefined || value === null) return;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    const key = name.toLowerCase();
    out[key] = key in out ? `${out[key]}, ${text}` : text;
  };
  if (isHeadersLike(input)) {
    input.forEach((value, name) => add(name, value));
  } else if (isPairIterable(input)) {
    for (const [name, value] of input) add(name, value);
  } else {
    for (const [name, value] of Object.entries(input)) add(name, value);
  }
  return out;
}

function isHeadersLike(input: HeadersInput): input is Extract<HeadersInput, { get(name: string): string | null }> {
  return typeof (input as { get?: unknown }).get === 'function' && typeof (input as { forEach?: unknown }).forEach === 'function';
}

function isPairIterable(input: HeadersInput): input is Iterable<readonly [string, string]> {
  return typeof (input as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** The body as a Buffer without copying when it already is bytes. */
export function toBuffer(body: Uint8Array | string): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Throws `body_too_large` when `body` exceeds the cap. Call before hashing anything. */
export function checkBodySize(scheme: string, body: Uint8Array | string, maxBodyBytes: number): void {
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (size > maxBodyBytes) {
    throw new WebhookVerificationError(scheme, 'body_too_large', `Body of ${size} bytes exceeds the ${maxBodyBytes}-byte limit`);
  }
}

/** The value of a required header (already lower-cased record), or `missing_header`. */
export function requireHeader(scheme: string, headers: Readonly<Record<string, string>>, name: string): string {
  const value = headers[name.toLowerCase()];
  if (value === undefined || value.trim() === '') {
    throw new WebhookVerificationError(scheme, 'missing_header', `Missing ${name} header`, { header: name.toLowerCase() });
  }
  return value.trim();
}

/**
 * Parses a Unix-seconds timestamp header (digits only: no sign, exponent or fraction) and checks it
 * against `nowMs` within `toleranceSeconds` either way.
 */
export function checkTimestamp(
  scheme: string,
  header: string,
  raw: string,
  nowMs: number,
  toleranceSeconds: number,
): Date {
  const text = raw.trim();
  if (!/^\d{1,15}$/.test(text)) {
    throw new WebhookVerificationError(scheme, 'malformed_header', `${header} must be Unix seconds`, { header });
  }
  const seconds = Number(text);
  const nowSeconds = Math.floor(nowMs / 1000);
  if (nowSeconds - seconds > toleranceSeconds) {
    throw new WebhookVerificationError(
      scheme,
      'timestamp_too_old',
      `${header} is ${nowSeconds - seconds} s old; the tolerance is ${toleranceSeconds} s`,
      { header },
    );
  }
  if (seconds - nowSeconds > toleranceSeconds) {
    throw new WebhookVerificationError(
      scheme,
      'timestamp_too_new',
      `${header} is ${seconds - nowSeconds} s in the future; the tolerance is ${toleranceSeconds} s`,
      { header },
    );
  }
  return new Date(seconds * 1000);
}

/**
 * Constant-time equality of two byte strings. Different lengths return false at once: the length of a
 * digest is public, so that leaks nothing.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** Validates the common numeric options, filling in defaults. */
export function resolveCommonOptions(options: {
  maxBodyBytes?: number;
  toleranceSeconds?: number;
  now?: () => number;
}): { maxBodyBytes: number; toleranceSeconds: number; now: () => number } {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new TypeError(`maxBodyBytes must be a positive integer, got ${String(options.maxBodyBytes)}`);
  }
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  // A tolerance of 0 would reject nearly everything; a negative one, everything. Both are setup bugs.
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds <= 0) {
    throw new TypeError(`toleranceSeconds must be a positive number, got ${String(options.toleranceSeconds)}`);
  }
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now must be a function returning epoch milliseconds');
  return { maxBodyBytes, toleranceSeconds, now };
}

/** `secret` or `secrets` as a non-empty list of non-empty strings; a setup bug throws TypeError. */
export function resolveSecrets(scheme: string, options: { secret?: string; secrets?: readonly string[] }): string[] {
  const list = [...(options.secrets ?? []), ...(options.secret === undefined ? [] : [options.secret])];
  if (list.length === 0) throw new TypeError(`${scheme}: give at least one secret (secret or secrets)`);
  for (const secret of list) {
    if (typeof secret !== 'string' || secret.length === 0) {
      throw new TypeError(`${scheme}: every secret must be a non-empty string`);
    }
  }
  return list;
}

export interface VerifiedWebhookFields {
  scheme: string;
  id: string | undefined;
  type: string | undefined;
  timestamp: Date | undefined;
  body: Buffer;
  headers: Readonly<Record<string, string>>;
}

/** The VerifiedWebhook for a request that passed, with lazy cached `json()`. */
export function createVerifiedWebhook(fields: VerifiedWebhookFields): VerifiedWebhook {
  let parsed: { value: unknown } | undefined;
  const webhook: VerifiedWebhook = {
    scheme: fields.scheme,
    id: fields.id,
    type: fields.type,
    timestamp: fields.timestamp,
    body: fields.body,
    headers: fields.headers,
    text: () => fields.body.toString('utf8'),
    json<T = unknown>(): T {
      if (parsed === undefined) {
        try {
          parsed = { value: JSON.parse(fields.body.toString('utf8')) as unknown };
        } catch (cause) {
          throw new WebhookVerificationError(fields.scheme, 'invalid_body', 'Body is not valid JSON', { cause });
        }
      }
      return parsed.value as T;
    },
  };
  return webhook;
}

/** The body parsed as a JSON object, or undefined when it is not one (for picking `id`/`type` fields). */
export function tryParseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** HMAC digest algorithms the schemes use. */
export type HmacAlgorithm = 'sha256' | 'sha512';

/** Digest length in bytes of each {@link HmacAlgorithm}. */
export const HMAC_DIGEST_BYTES: Readonly<Record<HmacAlgorithm, number>> = Object.freeze({ sha256: 32, sha512: 64 });

/** HMAC of the concatenated parts; strings are taken as UTF-8, bytes exactly as given. */
export function hmacDigest(algorithm: HmacAlgorithm, key: Uint8Array | string, ...parts: (Uint8Array | string)[]): Buffer {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(typeof part === 'string' ? Buffer.from(part, 'utf8') : part);
  return mac.digest();
}

const HEX_PATTERN = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Strict decoding: hex (either case, even length) or standard base64 (padding optional). Undefined
 * when the text has any other character. Buffer.from alone would skip unknown characters and decode
 * a typo into different bytes.
 */
export function decodeStrict(text: string, encoding: 'hex' | 'base64'): Buffer | undefined {
  const pattern = encoding === 'hex' ? HEX_PATTERN : BASE64_PATTERN;
  return pattern.test(text) ? Buffer.from(text, encoding) : undefined;
}

/**
 * A received signature decoded to bytes, or undefined when it is not exactly `length` bytes in
 * `encoding`: such a candidate can never match, so it is rejected before any comparison.
 */
export function decodeSignature(text: string, encoding: 'hex' | 'base64', length: number): Buffer | undefined {
  const bytes = decodeStrict(text, encoding);
  return bytes !== undefined && bytes.length === length ? bytes : undefined;
}

/** Whether `candidate` equals any of `expected`, each compared in constant time. */
export function matchesAny(candidates: readonly Uint8Array[], expected: readonly Uint8Array[]): boolean {
  let matched = false;
  for (const digest of expected) {
    for (const candidate of candidates) {
      if (constantTimeEqual(candidate, digest)) matched = true;
    }
  }
  return matched;
}

/** The trimmed value of an optional header, or undefined when it is absent or blank. */
export function optionalHeader(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const value = headers[name.toLowerCase()]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** `record[key]` when it is a non-empty string (for picking `id`/`type` out of a parsed body). */
export function stringField(record: Readonly<Record<string, unknown>> | undefined, key: string): string | undefined {
  const value = record?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Unix seconds for `sign()`: the given timestamp, or now from the verifier's clock.
 * @throws TypeError for an invalid or pre-1970 date.
 */
export function signingSeconds(timestamp: Date | undefined, now: () => number): number {
  const ms = timestamp === undefined ? now() : timestamp.getTime();
  if (!Number.isFinite(ms) || ms < 0) throw new TypeError('sign: timestamp must be a valid date after 1970');
  return Math.floor(ms / 1000);
}
