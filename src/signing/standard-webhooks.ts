// Standard Webhooks signing (https://www.standardwebhooks.com), the scheme Svix uses: over
// `{msg_id}.{timestamp}.{body}`, HMAC-SHA256 with a `whsec_` secret (`v1,` entries) or ed25519 with a
// `whsk_` secret key (`v1a,` entries, the spec's asymmetric mode). Shared by the delivery worker and
// the receiver library, so it imports only node:crypto. Bodies are signed as raw bytes: the upstream JS
// library turns a Buffer into a string first, which silently changes any non-UTF-8 payload.
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as ed25519Sign, timingSafeEqual, verify as ed25519Verify, type KeyObject } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
/** An ed25519 secret key: `whsk_` + base64 of the 32-byte seed followed by the 32-byte public key. */
const ED25519_SECRET_PREFIX = 'whsk_';
/** An ed25519 public key: `whpk_` + base64 of its 32 bytes. What a receiver of `v1a` signatures holds. */
const ED25519_PUBLIC_PREFIX = 'whpk_';
/** Bytes in a generated secret (Svix and the spec: 24). */
const GENERATED_SECRET_BYTES = 24;
/** Accepted decoded lengths of a supplied secret, as the Svix server allows. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 75;
const ED25519_KEY_BYTES = 32;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
/**
 * Parsed ed25519 keys by their `whsk_` text, newest last. Importing a key costs about as much as a
 * signature (OpenSSL's key import, ~0.1–1 ms), and a delivery signs with the same few keys over and
 * over. Bounded; the texts are the keys the worker already holds in its endpoint rows.
 */
const ED25519_KEY_CACHE = new Map<string, { kind: 'ed25519'; privateKey: KeyObject; publicKey: Buffer }>();
const ED25519_KEY_CACHE_SIZE = 256;
/** Default tolerance between the signed timestamp and the verifier's clock, in either direction. */
const DEFAULT_TOLERANCE_SECONDS = 300;

/** A secret or signing input is malformed. Thrown for configuration and caller bugs, never for a bad signature. */
export class SigningError extends Error {
  override readonly name = 'SigningError';
}

/** The kinds of endpoint signing key: HMAC-SHA256 (`whsec_`, `v1`) or ed25519 (`whsk_`, `v1a`). */
export type SigningKeyKind = 'hmac' | 'ed25519';

/** A parsed signing key. */
export type SigningKey =
  | { kind: 'hmac'; key: Buffer }
  | { kind: 'ed25519'; privateKey: KeyObject; publicKey: Buffer };

/**
 * A new random endpoint secret. `hmac` (the default, as Svix): `whsec_` + standard base64 of 24 random
 * bytes (38 characters). `ed25519`: `whsk_` + standard base64 of a fresh key pair's 32-byte seed and
 * 32-byte public key.
 */
export function generateSecret(kind: SigningKeyKind = 'hmac'): string {
  if (kind === 'ed25519') {
    const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    return ED25519_SECRET_PREFIX + Buffer.concat([Buffer.from(jwk.d!, 'base64url'), Buffer.from(jwk.x!, 'base64url')]).toString('base64');
  }
  return SECRET_PREFIX + randomBytes(GENERATED_SECRET_BYTES).toString('base64');
}

/** Standard base64 (padding optional) to bytes; `what` names the text in the error. */
function decodeBase64(encoded: string, what: string): Buffer {
  // Buffer.from(…, 'base64') skips characters it does not know; check the alphabet first so a typo
  // is an error rather than a different key.
  if (!BASE64_PATTERN.test(encoded)) throw new SigningError(`${what} must be standard base64`);
  return Buffer.from(encoded, 'base64');
}

/**
 * The key bytes of an HMAC secret: `whsec_` + base64, or the base64 alone (Svix takes both). The
 * base64 must be standard (padding optional) and decode to 24–75 bytes.
 *
 * @throws SigningError saying what is wrong (never echoing the secret), also for an ed25519 key.
 */
export function parseSecret(secret: string): Buffer {
  if (typeof secret !== 'string') throw new SigningError('Signing secret must be a string');
  if (secret.startsWith(ED25519_SECRET_PREFIX) || secret.startsWith(ED25519_PUBLIC_PREFIX)) {
    throw new SigningError(`An ed25519 key ("${secret.slice(0, 5)}") is not an HMAC secret`);
  }
  const prefixed = secret.startsWith(SECRET_PREFIX);
  const key = decodeBase64(
    prefixed ? secret.slice(SECRET_PREFIX.length) : secret,
    prefixed ? `Signing secret after "${SECRET_PREFIX}"` : `Signing secret without a "${SECRET_PREFIX}" or "${ED25519_SECRET_PREFIX}" prefix`,
  );
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new SigningError(
      `Signing secret must decode to ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes, got ${key.length}`,
    );
  }
  return key;
}

/**
 * Any endpoint signing key: an HMAC secret (see {@link parseSecret}) or an ed25519 secret key,
 * `whsk_` + standard base64 of exactly 64 bytes (the 32-byte seed, then the public key that seed
 * makes; Svix and Standard Webhooks define it so). A `whpk_` public key cannot sign and is refused.
 *
 * @throws SigningError saying what is wrong (never echoing the key).
 */
export function parseSigningKey(secret: string): SigningKey {
  if (typeof secret === 'string' && secret.startsWith(ED25519_PUBLIC_PREFIX)) {
    throw new SigningError(`A "${ED25519_PUBLIC_PREFIX}" public key only verifies; signing needs the "${ED25519_SECRET_PREFIX}" secret key`);
  }
  if (typeof secret !== 'string' || !secret.startsWith(ED25519_SECRET_PREFIX)) return { kind: 'hmac', key: parseSecret(secret) };
  const cached = ED25519_KEY_CACHE.get(secret);
  if (cached) return cached;
  const raw = decodeBase64(secret.slice(ED25519_SECRET_PREFIX.length), `Signing key after "${ED25519_SECRET_PREFIX}"`);
  if (raw.length !== 2 * ED25519_KEY_BYTES) {
    throw new SigningError(
      `An ed25519 key after "${ED25519_SECRET_PREFIX}" must decode to ${2 * ED25519_KEY_BYTES} bytes (seed, then public key), got ${raw.length}`,
    );
  }
  const seed = raw.subarray(0, ED25519_KEY_BYTES);
  const publicKey = Buffer.from(raw.subarray(ED25519_KEY_BYTES));
  // node:crypto derives the public key from the seed (JWK `d`) whatever `x` says; compare them.
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: publicKey.toString('base64url') }, format: 'jwk' });
  const derived = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x ?? '', 'base64url');
  // A public half from another seed would make every signature fail to verify for the receiver.
  if (!derived.equals(publicKey)) {
    throw new SigningError(`The public half of the "${ED25519_SECRET_PREFIX}" key does not belong to its seed`);
  }
  const key = { kind: 'ed25519' as const, privateKey, publicKey };
  if (ED25519_KEY_CACHE.size >= ED25519_KEY_CACHE_SIZE) ED25519_KEY_CACHE.delete(ED25519_KEY_CACHE.keys().next().value!);
  ED25519_KEY_CACHE.set(secret, key);
  return key;
}

/** Which kind of key `secret` is, or null when {@link parseSigningKey} refuses it. */
export function signingKeyKind(secret: string): SigningKeyKind | null {
  try {
    return parseSigningKey(secret).kind;
  } catch {
    return null;
  }
}

/** Whether {@link parseSigningKey} accepts `secret` (any kind). */
export function isValidSecret(secret: string): boolean {
  return signingKeyKind(secret) !== null;
}

/**
 * The form to store and show of a valid signing key: a bare base64 HMAC secret gets the `whsec_`
 * prefix (as Svix returns it), anything else is kept as given.
 *
 * @throws SigningError when the key is not valid.
 */
export function normalizeSecret(secret: string): string {
  const key = parseSigningKey(secret);
  return key.kind === 'hmac' && !secret.startsWith(SECRET_PREFIX) ? SECRET_PREFIX + secret : secret;
}

/**
 * What a receiver needs to verify signatures by this key: the HMAC secret itself (`whsec_…`), or
 * for an ed25519 key its public key, `whpk_` + base64 of 32 bytes (the secret key never leaves).
 *
 * @throws SigningError when the key is not valid.
 */
export function verificationKeyOf(secret: string): string {
  const key = parseSigningKey(secret);
  if (key.kind === 'ed25519') return ED25519_PUBLIC_PREFIX + key.publicKey.toString('base64');
  return secret.startsWith(SECRET_PREFIX) ? secret : SECRET_PREFIX + secret;
}

export interface SignPayloadInput {
  /** The message id (`msg_…`), stable across attempts. Must not contain `.`. */
  msgId: string;
  /** Unix seconds of this attempt; a fresh one on every attempt. */
  timestampSeconds: number;
  /** The exact bytes sent; a string is signed as its UTF-8 encoding. */
  body: Buffer | string;
  /**
   * Signing keys (`whsec_…`, bare base64, or `whsk_…`), current first, then old ones still inside
   * their rotation grace period.
   */
  secrets: readonly string[];
}

/**
 * The `webhook-signature` value: one entry per key, space-separated, in the order given:
 * `v1,<base64 HMAC-SHA256>` for an HMAC secret, `v1a,<base64 ed25519 signature>` for a `whsk_` key.
 *
 * @throws SigningError on an invalid key, an empty key list, a `msgId` that is empty or contains
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
    .map((secret) => {
      const key = parseSigningKey(secret);
      if (key.kind === 'hmac') return `v1,${computeSignature(key.key, msgId, String(timestampSeconds), body)}`;
      return `v1a,${ed25519Sign(null, signedContent(msgId, String(timestampSeconds), body), key.privateKey).toString('base64')}`;
    })
    .join(' ');
}

function signedContent(msgId: string, timestamp: string, body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${msgId}.${timestamp}.`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
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
  /**
   * Keys to accept; a match with any of them is enough (rotation). HMAC secrets (`whsec_…` or bare
   * base64) check `v1` entries; ed25519 keys, `whpk_…` public or `whsk_…` secret, check `v1a` entries.
   */
  secrets: readonly string[];
  /** Allowed clock difference in either direction, in seconds. Default 300 (5 minutes). */
  toleranceSeconds?: number;
  /** The verifier's clock in Unix seconds. Default: the current time. */
  nowSeconds?: number;
}

/**
 * Whether the header carries a valid signature of this message by any of `secrets` (`v1` for HMAC
 * secrets, `v1a` for ed25519 keys), with a timestamp within `toleranceSeconds` of now. HMAC comparison
 * is constant-time; entries of other versions are ignored. A forged, stale or garbled request gives
 * `false`.
 *
 * @throws SigningError when a configured key is malformed: that is a setup bug, and silently
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
  const hmacKeys: Buffer[] = [];
  const publicKeys: KeyObject[] = [];
  for (const secret of secrets) {
    if (typeof secret === 'string' && secret.startsWith(ED25519_PUBLIC_PREFIX)) {
      publicKeys.push(parsePublicKey(secret));
      continue;
    }
    const key = parseSigningKey(secret);
    if (key.kind === 'hmac') hmacKeys.push(key.key);
    else publicKeys.push(createPublicKey(key.privateKey));
  }

  const timestamp = String(input.timestampSeconds).trim();
  if (!/^\d+$/.test(timestamp)) return false;
  const timestampSeconds = Number(timestamp);
  if (Math.abs(nowSeconds - timestampSeconds) > toleranceSeconds) return false;

  const v1: Buffer[] = [];
  const v1a: Buffer[] = [];
  for (const entry of signatureHeader.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma === -1) continue;
    const version = entry.slice(0, comma);
    if (version === 'v1') v1.push(Buffer.from(entry.slice(comma + 1), 'utf8'));
    else if (version === 'v1a' && BASE64_PATTERN.test(entry.slice(comma + 1))) v1a.push(Buffer.from(entry.slice(comma + 1), 'base64'));
  }

  let matched = false;
  for (const key of hmacKeys) {
    const expected = Buffer.from(computeSignature(key, msgId, timestamp, body), 'utf8');
    for (const candidate of v1) {
      // timingSafeEqual throws on different lengths; the length of a base64 HMAC is public anyway.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  if (publicKeys.length > 0 && v1a.length > 0) {
    const content = signedContent(msgId, timestamp, body);
    for (const publicKey of publicKeys) {
      for (const candidate of v1a) {
        if (candidate.length === 2 * ED25519_KEY_BYTES && ed25519Verify(null, content, publicKey, candidate)) matched = true;
      }
    }
  }
  return matched;
}

/** A `whpk_` public key as node:crypto takes it. */
function parsePublicKey(secret: string): KeyObject {
  const raw = decodeBase64(secret.slice(ED25519_PUBLIC_PREFIX.length), `Public key after "${ED25519_PUBLIC_PREFIX}"`);
  if (raw.length !== ED25519_KEY_BYTES) {
    throw new SigningError(`A "${ED25519_PUBLIC_PREFIX}" key must decode to ${ED25519_KEY_BYTES} bytes, got ${raw.length}`);
  }
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch (error) {
    throw new SigningError(`The "${ED25519_PUBLIC_PREFIX}" key is not a usable ed25519 public key`, { cause: error });
  }
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
