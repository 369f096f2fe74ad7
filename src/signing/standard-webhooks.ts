// Standard Webhooks signing (https://www.standardwebhooks.com), the scheme Svix uses: HMAC-SHA256 over
// `{msg_id}.{timestamp}.{body}` with a `whsec_` secret. Shared by the delivery worker and the receiver
// library, so it imports only node:crypto. Bodies are hashed as raw bytes: the upstream JS library turns
// a Buffer into a string first, which silently changes any non-UTF-8 payload.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
/** Bytes in a generated secret (Svix and the spec: 24). */
const GENERATED_SECRET_BYTES = 24;
/** Accepted decoded lengths of a supplied secret, as the Svix server allows. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 75;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
/** Default tolerance between the signed timestamp and the verifier's clock, in either direction. */
const DEFAULT_TOLERANCE_SECONDS = 300;

/** A secret or signing input is malformed. Thrown for configuration and caller bugs, never for a bad signature. */
export class SigningError extends Error {
  override readonly name = 'SigningError';
}

/** A new random endpoint secret: `whsec_` + standard base64 of 24 random bytes (38 characters). */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(GENERATED_SECRET_BYTES).toString('base64');
}

/**
 * The key bytes of a `whsec_` secret. The text after the prefix must be standard base64 (padding
 * optional) decoding to 24–75 bytes.
 *
 * @throws SigningError saying what is wrong (never echoing the secret).
 */
export function parseSecret(secret: string): Buffer {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX)) {
    throw new SigningError(`Signing secret must start with "${SECRET_PREFIX}"`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  // Buffer.from(…, 'base64') skips characters it does not know; check the alphabet first so a typo
  // is an error rather than a different key.
  if (!BASE64_PATTERN.test(encoded)) {
    throw new SigningError(`Signing secret after "${SECRET_PREFIX}" must be standard base64`);
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new SigningError(
      `Signing secret must decode to ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes, got ${key.length}`,
    );
  }
  return key;
}

/** Whether {@link parseSecret} accepts `secret`. */
export function isValidSecret(secret: string): boolean {
  try {
    parseSecret(secret);
    return true;
  } catch {
    return false;
  }
}

export interface SignPayloadInput {
  /** The message id (`msg_…`), stable across attempts. Must not contain `.`. */
  msgId: string;
  /** Unix seconds of this attempt; a fresh one on every attempt. */
  timestampSeconds: number;
  /** The exact bytes sent; a string is signed as its UTF-8 encoding. */
  body: Buffer | string;
  /** `whsec_` secrets, current first, then old ones still inside their rotation grace period. */
  secrets: readonly string[];
}

/**
 * The `webhook-signature` value: `v1,<base64 HMAC-SHA256>` for each secret, space-separated, in the
 * order given.
 *
 * @throws SigningError on an invalid secret, an empty secret list, a `msgId` that is empty or contains
 *   `.` (it would make the signed content ambiguous), or a timestamp that is not a non-negative integer.
 */
export function signPayload(input: SignPayloadInput): string {
  const { msgId, timestampSeconds, body, secrets } = input;
  if (msgId === '' || msgId.includes('.')) {
    throw new SigningError('Message id must be non-empty and must not contain "."');
  }
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new SigningError(`Timestamp must be a non-negative integer of Unix seconds, got ${timestampSeconds}`);
  }
  if (secrets.length === 0) throw new SigningError('At least one signing secret is required');
  return secrets
    .map((secret) => `v1,${computeSignature(parseSecret(secret), msgId, String(timestampSeconds), body)}`)
    .join(' ');
}

function computeSignature(key: Buffer, msgId: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', key)
    .update(`${msgId}.${timestamp}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('base64');
}

export interface VerifySignatureInput {
  /** The `webhook-id` (or `svix-id`) header. */
  msgId: string;
  /** The `webhook-timestamp` header, as received or as a number. */
  timestampSeconds: number | string;
  /** The raw request body, exactly as received. */
  body: Buffer | string;
  /** The `webhook-signature` header: space-separated `version,signature` entries. */
  signatureHeader: string;
  /** Secrets to accept; a match with any of them is enough (rotation). */
  secrets: readonly string[];
  /** Allowed clock difference in either direction, in seconds. Default 300 (5 minutes). */
  toleranceSeconds?: number;
  /** The verifier's clock in Unix seconds. Default: the current time. */
  nowSeconds?: number;
}

/**
 * Whether the header carries a valid `v1` signature of this message by any of `secrets`, with a
 * timestamp within `toleranceSeconds` of now. Comparison is constant-time; entries of other versions
 * (`v1a`, …) are ignored. A forged, stale or garbled request gives `false`.
 *
 * @throws SigningError when a configured secret is malformed: that is a setup bug, and silently
 *   rejecting every webhook would hide it.
 */
export function verifySignature(input: VerifySignatureInput): boolean {
  const {
    msgId,
    body,
    signatureHeader,
    secrets,
    toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
    nowSeconds = Math.floor(Date.now() / 1000),
  } = input;
  const keys = secrets.map(parseSecret);

  const timestamp = String(input.timestampSeconds).trim();
  if (!/^\d+$/.test(timestamp)) return false;
  const timestampSeconds = Number(timestamp);
  if (Math.abs(nowSeconds - timestampSeconds) > toleranceSeconds) return false;

  const candidates: Buffer[] = [];
  for (const entry of signatureHeader.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma === -1 || entry.slice(0, comma) !== 'v1') continue;
    candidates.push(Buffer.from(entry.slice(comma + 1), 'utf8'));
  }
  if (candidates.length === 0) return false;

  let matched = false;
  for (const key of keys) {
    const expected = Buffer.from(computeSignature(key, msgId, timestamp, body), 'utf8');
    for (const candidate of candidates) {
      // timingSafeEqual throws on different lengths; the length of a base64 HMAC is public anyway.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  return matched;
}

/** Which signature headers to send: the spec's `webhook-*`, Svix's `svix-*`, or both (for migrations). */
export type SignatureHeaderMode = 'webhook' | 'svix' | 'both';

/** The names of one set of signature headers. */
export interface SignatureHeaderNames {
  id: string;
  timestamp: string;
  signature: string;
}

const WEBHOOK_HEADERS: SignatureHeaderNames = Object.freeze({
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
});
const SVIX_HEADERS: SignatureHeaderNames = Object.freeze({
  id: 'svix-id',
  timestamp: 'svix-timestamp',
  signature: 'svix-signature',
});

/** The header name sets to emit for `mode`, `webhook-*` first when both. */
export function signatureHeaderNames(mode: SignatureHeaderMode): SignatureHeaderNames[] {
  switch (mode) {
    case 'webhook':
      return [WEBHOOK_HEADERS];
    case 'svix':
      return [SVIX_HEADERS];
    case 'both':
      return [WEBHOOK_HEADERS, SVIX_HEADERS];
    default:
      throw new SigningError(`Unknown signature header mode ${JSON.stringify(mode)}`);
  }
}

export interface BuildSignatureHeadersInput {
  mode: SignatureHeaderMode;
  msgId: string;
  timestampSeconds: number;
  /** The value from {@link signPayload}. */
  signature: string;
}

/** The id, timestamp and signature headers (lower-case names) for one attempt. */
export function buildSignatureHeaders(input: BuildSignatureHeadersInput): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const names of signatureHeaderNames(input.mode)) {
    headers[names.id] = input.msgId;
    headers[names.timestamp] = String(input.timestampSeconds);
    headers[names.signature] = input.signature;
  }
  return headers;
}
