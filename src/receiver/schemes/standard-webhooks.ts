// Receiving Standard Webhooks (and Svix, which sends the same thing under `svix-*` names): symmetric
// `v1` HMAC-SHA256 and asymmetric `v1a` ed25519 signatures over `{id}.{timestamp}.{body}`, with key
// rotation. The sending side lives in src/signing/standard-webhooks.ts; this one checks raw bytes.
import { createPrivateKey, createPublicKey, randomUUID, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import {
  checkBodySize,
  checkTimestamp,
  createVerifiedWebhook,
  decodeSignature,
  decodeStrict,
  hmacDigest,
  matchesAny,
  normalizeHeaders,
  requireHeader,
  resolveCommonOptions,
  resolveSecrets,
  signingSeconds,
  stringField,
  toBuffer,
  tryParseJsonObject,
} from '../core.js';
import { WebhookVerificationError } from '../errors.js';
import type { CommonVerifierOptions, SignInput, SignedRequest, Verifier } from '../types.js';

const SCHEME = 'standard-webhooks';

/** Options of {@link standardWebhooks}. Give `secret`, `secrets`, or both (all are accepted). */
export interface StandardWebhooksOptions extends CommonVerifierOptions {
  /**
   * One key; see `secrets` for the accepted forms.
   */
  secret?: string;
  /**
   * Keys to accept; a signature by any of them is enough, so list the old and the new key while a
   * sender rotates. Each is one of:
   * - `whsec_<base64>`: a symmetric secret, checked against `v1,` entries (HMAC-SHA256). A bare base64
   *   secret without the prefix is taken the same way, as the upstream libraries do.
   * - `whpk_<base64 of the 32-byte ed25519 public key>`: checks `v1a,` entries (verify only).
   * - `whsk_<base64 of the 32-byte seed, or of seed || public key (64 bytes)>`: an ed25519 secret key;
   *   checks `v1a,` entries and can sign them.
   *
   * A malformed key throws TypeError when the verifier is built (the message never contains it).
   */
  secrets?: readonly string[];
}

type ParsedKey =
  | { kind: 'hmac'; key: Buffer }
  | { kind: 'ed25519'; publicKey: KeyObject; privateKey: KeyObject | undefined };

/** Header names of one flavour: the spec's `webhook-*` or Svix's `svix-*`. */
const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;
const SVIX_HEADERS = { id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' } as const;

/** DER wrappers that turn raw ed25519 key bytes into the PKCS#8 / SPKI documents node:crypto takes. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const HMAC_SHA256_BYTES = 32;

/**
 * A verifier for [Standard Webhooks](https://www.standardwebhooks.com) requests, as sent by Tapwire,
 * Svix and every other Standard Webhooks producer.
 *
 * Reads `webhook-id`, `webhook-timestamp` and `webhook-signature`; when none of those is present, the
 * `svix-id`/`svix-timestamp`/`svix-signature` set instead. The signature header is a space-separated
 * list of `version,signature` entries; `v1` (HMAC-SHA256, base64) and `v1a` (ed25519, base64) are
 * checked, other versions ignored, entries without a comma skipped; the request passes when any entry
 * matches any configured key. The timestamp must be within `toleranceSeconds` (default 300) of now,
 * either way; the body cap defaults to 1 MiB.
 *
 * The VerifiedWebhook's `id` is `webhook-id` (dedupe on it), `type` the body's JSON `type` field when
 * there is one, `timestamp` the signed timestamp.
 *
 * `sign()` uses the first key that can sign (`whsec_` → `v1`, `whsk_` → `v1a`) and emits the
 * `webhook-*` headers; the default id is `msg_` plus 32 random hex digits.
 *
 * @throws TypeError when no key is given, a key is malformed, or a common option is invalid.
 */
export function standardWebhooks(options: StandardWebhooksOptions): Verifier {
  const { maxBodyBytes, toleranceSeconds, now } = resolveCommonOptions(options);
  const keys = resolveSecrets(SCHEME, options).map((secret, index) => parseKey(secret, index));
  const hmacKeys = keys.flatMap((key) => (key.kind === 'hmac' ? [key.key] : []));
  const publicKeys = keys.flatMap((key) => (key.kind === 'ed25519' ? [key.publicKey] : []));
  const signer = keys.find((key) => key.kind === 'hmac' || key.privateKey !== undefined);

  return {
    scheme: SCHEME,
    maxBodyBytes,
    verify(request) {
      checkBodySize(SCHEME, request.body, maxBodyBytes);
      const headers = normalizeHeaders(request.headers);
      const names = pickHeaderNames(headers);
      const id = requireHeader(SCHEME, headers, names.id);
      const timestampText = requireHeader(SCHEME, headers, names.timestamp);
      const signatureHeader = requireHeader(SCHEME, headers, names.signature);

      if (id.includes('.')) {
        // The signed content is `{id}.{timestamp}.{body}`: a dot in the id would make it ambiguous.
        throw new WebhookVerificationError(SCHEME, 'malformed_header', `${names.id} must not contain "."`, { header: names.id });
      }
      const entries = parseSignatureHeader(signatureHeader);
      if (entries.length === 0) {
        throw new WebhookVerificationError(SCHEME, 'malformed_header', `${names.signature} has no "version,signature" entry`, {
          header: names.signature,
        });
      }
      const timestamp = checkTimestamp(SCHEME, names.timestamp, timestampText, now(), toleranceSeconds);

      const body = toBuffer(request.body);
      const signedContent = Buffer.concat([Buffer.from(`${id}.${timestampText}.`, 'utf8'), body]);
      if (!signatureMatches(entries, signedContent, hmacKeys, publicKeys)) {
        throw new WebhookVerificationError(SCHEME, 'no_matching_signature', `No ${names.signature} entry matches a configured key`, {
          header: names.signature,
        });
      }
      return createVerifiedWebhook({
        scheme: SCHEME,
        id,
        type: stringField(tryParseJsonObject(body), 'type'),
        timestamp,
        body,
        headers,
      });
    },
    sign(input: SignInput): SignedRequest {
      if (signer === undefined) {
        throw new Error(`${SCHEME}: no configured key can sign (whpk_ public keys only verify); add a whsec_ or whsk_ key`);
      }
      const id = input.id ?? `msg_${randomUUID().replaceAll('-', '')}`;
      if (id === '' || id.includes('.')) throw new TypeError(`${SCHEME}: sign: id must be non-empty and must not contain "."`);
      const seconds = signingSeconds(input.timestamp, now);
      const body = toBuffer(input.body);
      const signedContent = Buffer.concat([Buffer.from(`${id}.${seconds}.`, 'utf8'), body]);
      const signature =
        signer.kind === 'hmac'
          ? `v1,${hmacDigest('sha256', signer.key, signedContent).toString('base64')}`
          : `v1a,${cryptoSign(null, signedContent, signer.privateKey!).toString('base64')}`;
      return {
        body,
        headers: {
          [WEBHOOK_HEADERS.id]: id,
          [WEBHOOK_HEADERS.timestamp]: String(seconds),
          [WEBHOOK_HEADERS.signature]: signature,
        },
      };
    },
  };
}

/** `webhook-*` unless the request carries none of them and some `svix-*` header. */
function pickHeaderNames(headers: Readonly<Record<string, string>>): typeof WEBHOOK_HEADERS | typeof SVIX_HEADERS {
  const has = (names: Record<string, string>): boolean => Object.values(names).some((name) => headers[name] !== undefined);
  return !has(WEBHOOK_HEADERS) && has(SVIX_HEADERS) ? SVIX_HEADERS : WEBHOOK_HEADERS;
}

interface SignatureEntry {
  version: string;
  signature: string;
}

/** The space-separated `version,signature` entries; entries without a comma are skipped. */
function parseSignatureHeader(header: string): SignatureEntry[] {
  const entries: SignatureEntry[] = [];
  for (const entry of header.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma <= 0) continue;
    entries.push({ version: entry.slice(0, comma), signature: entry.slice(comma + 1) });
  }
  return entries;
}

function signatureMatches(
  entries: readonly SignatureEntry[],
  signedContent: Buffer,
  hmacKeys: readonly Buffer[],
  publicKeys: readonly KeyObject[],
): boolean {
  const v1 = entries.flatMap((entry) => {
    if (entry.version !== 'v1') return [];
    const bytes = decodeSignature(entry.signature, 'base64', HMAC_SHA256_BYTES);
    return bytes === undefined ? [] : [bytes];
  });
  if (v1.length > 0 && hmacKeys.length > 0) {
    if (matchesAny(v1, hmacKeys.map((key) => hmacDigest('sha256', key, signedContent)))) return true;
  }
  if (publicKeys.length > 0) {
    for (const entry of entries) {
      if (entry.version !== 'v1a') continue;
      const bytes = decodeSignature(entry.signature, 'base64', ED25519_SIGNATURE_BYTES);
      if (bytes === undefined) continue;
      for (const publicKey of publicKeys) {
        if (cryptoVerify(null, signedContent, publicKey, bytes)) return true;
      }
    }
  }
  return false;
}

/** One configured key by its prefix. Messages name the key's position, never its text. */
function parseKey(secret: string, index: number): ParsedKey {
  const where = `${SCHEME}: key #${index + 1}`;
  const decode = (encoded: string, what: string): Buffer => {
    const bytes = decodeStrict(encoded, 'base64');
    if (bytes === undefined || bytes.length === 0) throw new TypeError(`${where}: ${what} must be non-empty standard base64`);
    return bytes;
  };
  if (secret.startsWith('whpk_')) {
    const raw = decode(secret.slice(5), 'the text after "whpk_"');
    if (raw.length !== ED25519_KEY_BYTES) {
      throw new TypeError(`${where}: a whpk_ key must be a ${ED25519_KEY_BYTES}-byte ed25519 public key, got ${raw.length} bytes`);
    }
    return { kind: 'ed25519', publicKey: ed25519PublicKey(raw, where), privateKey: undefined };
  }
  if (secret.startsWith('whsk_')) {
    const raw = decode(secret.slice(5), 'the text after "whsk_"');
    if (raw.length !== ED25519_KEY_BYTES && raw.length !== 2 * ED25519_KEY_BYTES) {
      throw new TypeError(`${where}: a whsk_ key must be a 32-byte ed25519 seed or 64 bytes of seed and public key, got ${raw.length} bytes`);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({
        key: Buffer.concat([PKCS8_ED25519_PREFIX, raw.subarray(0, ED25519_KEY_BYTES)]),
        format: 'der',
        type: 'pkcs8',
      });
    } catch {
      throw new TypeError(`${where}: not a usable ed25519 secret key`);
    }
    const publicKey = createPublicKey(privateKey);
    if (raw.length === 2 * ED25519_KEY_BYTES) {
      const derived = publicKey.export({ format: 'der', type: 'spki' }).subarray(-ED25519_KEY_BYTES);
      if (!derived.equals(raw.subarray(ED25519_KEY_BYTES))) {
        throw new TypeError(`${where}: the public half of the whsk_ key does not belong to its seed`);
      }
    }
    return { kind: 'ed25519', publicKey, privateKey };
  }
  const encoded = secret.startsWith('whsec_') ? secret.slice(6) : secret;
  return { kind: 'hmac', key: decode(encoded, secret.startsWith('whsec_') ? 'the text after "whsec_"' : 'a secret without prefix') };
}

function ed25519PublicKey(raw: Buffer, where: string): KeyObject {
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    throw new TypeError(`${where}: not a usable ed25519 public key`);
  }
}
