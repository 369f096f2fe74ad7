// Receiving webhooks from senders with no dedicated scheme here: the HMAC-over-the-body pattern many
// providers use (Convoy, Hookdeck, home-grown senders…), configured by header, algorithm, encoding,
// prefix and an optional signed timestamp header.
import { randomUUID } from 'node:crypto';
import {
  HMAC_DIGEST_BYTES,
  checkBodySize,
  checkTimestamp,
  createVerifiedWebhook,
  decodeSignature,
  decodeStrict,
  hmacDigest,
  matchesAny,
  normalizeHeaders,
  optionalHeader,
  requireHeader,
  resolveCommonOptions,
  resolveSecrets,
  signingSeconds,
  toBuffer,
  type HmacAlgorithm,
} from '../core.js';
import { WebhookVerificationError } from '../errors.js';
import type { CommonVerifierOptions, SignInput, SignedRequest, Verifier } from '../types.js';

const DEFAULT_NAME = 'generic-hmac';
/** What separates several signatures in one header value. */
const SIGNATURE_SEPARATORS = /[\s,]+/;

/** Options of {@link genericHmac}. Give `secret`, `secrets`, or both (all are accepted). */
export interface GenericHmacOptions extends CommonVerifierOptions {
  /**
   * The scheme name recorded on each VerifiedWebhook and used by the inbox as the id namespace: give
   * each sender its own. Default `'generic-hmac'`.
   */
  name?: string;
  /** The shared secret, decoded according to `secretEncoding`. */
  secret?: string;
  /** Secrets to accept (a match with any is enough): list the old and the new one while rotating. */
  secrets?: readonly string[];
  /** How to turn each secret into key bytes: `'utf8'` (the text itself), `'base64'` or `'hex'`. Default `'utf8'`. */
  secretEncoding?: 'utf8' | 'base64' | 'hex';
  /** The header carrying the signature, e.g. `'x-convoy-signature'` (any case). Required. */
  header: string;
  /** HMAC hash. Default `'sha256'`. */
  algorithm?: HmacAlgorithm;
  /** How the digest is written in the header: `'hex'` (either case) or standard `'base64'`. Default `'hex'`. */
  encoding?: 'hex' | 'base64';
  /**
   * Text in front of each signature, stripped before decoding (e.g. `'sha256='`, `'v1='`). When set,
   * items without it are ignored, and a header with no such item is `malformed_header`. Must not
   * contain a comma or whitespace. Default: none.
   */
  prefix?: string;
  /**
   * A header carrying the Unix-seconds timestamp the sender signs. When set, it is required, must be
   * within `toleranceSeconds` (default 300) of now either way, and the signed content is
   * `{timestamp}{separator}{body}` instead of the body alone. Default: none (no timestamp signed, so
   * replays can only be caught by deduping on `idHeader`).
   */
  timestampHeader?: string;
  /** What joins the timestamp and the body in the signed content. Default `'.'`. */
  separator?: string;
  /** A header with the sender's event or delivery id, stable across retries (becomes `id`). Default: none. */
  idHeader?: string;
  /** A header with the event type (becomes `type`). Default: none. */
  typeHeader?: string;
}

/**
 * A verifier for HMAC-signed webhooks of any sender, configured by {@link GenericHmacOptions}.
 *
 * The header value may carry several signatures separated by commas and/or whitespace (as senders do
 * while rotating secrets, or for several signature versions); each one with the configured `prefix`
 * is tried, and the request passes when any matches the HMAC of the signed content under any
 * configured secret. Signatures that do not decode to exactly one digest are never a match. The body
 * cap defaults to 1 MiB.
 *
 * The VerifiedWebhook's `id` and `type` come from `idHeader` and `typeHeader` (undefined when not
 * configured or absent), `timestamp` from `timestampHeader`.
 *
 * `sign()` uses the first secret and emits `header` (`prefix` + digest), plus `timestampHeader` and
 * `idHeader` (default id: a random UUID) when configured.
 *
 * @throws TypeError when `header` is missing, no secret is given, a secret does not decode in
 *   `secretEncoding`, or an option has an unknown value.
 */
export function genericHmac(options: GenericHmacOptions): Verifier {
  const { maxBodyBytes, toleranceSeconds, now } = resolveCommonOptions(options);
  const scheme = options.name ?? DEFAULT_NAME;
  if (typeof scheme !== 'string' || scheme.trim() === '') throw new TypeError('genericHmac: name must be a non-empty string');
  const where = `genericHmac (${scheme})`;
  const header = headerName(options.header, 'header', where, true)!;
  const timestampHeader = headerName(options.timestampHeader, 'timestampHeader', where, false);
  const idHeader = headerName(options.idHeader, 'idHeader', where, false);
  const typeHeader = headerName(options.typeHeader, 'typeHeader', where, false);
  const algorithm = oneOf(options.algorithm, ['sha256', 'sha512'] as const, 'sha256', 'algorithm', where);
  const encoding = oneOf(options.encoding, ['hex', 'base64'] as const, 'hex', 'encoding', where);
  const secretEncoding = oneOf(options.secretEncoding, ['utf8', 'base64', 'hex'] as const, 'utf8', 'secretEncoding', where);
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string' || SIGNATURE_SEPARATORS.test(prefix)) {
    throw new TypeError(`${where}: prefix must be a string without commas or whitespace`);
  }
  const separator = options.separator ?? '.';
  if (typeof separator !== 'string') throw new TypeError(`${where}: separator must be a string`);
  const keys = resolveSecrets(where, options).map((secret, index) => {
    const key = secretEncoding === 'utf8' ? Buffer.from(secret, 'utf8') : decodeStrict(secret, secretEncoding);
    if (key === undefined || key.length === 0) throw new TypeError(`${where}: secret #${index + 1} is not valid ${secretEncoding}`);
    return key;
  });
  const digestBytes = HMAC_DIGEST_BYTES[algorithm];

  return {
    scheme,
    maxBodyBytes,
    verify(request) {
      checkBodySize(scheme, request.body, maxBodyBytes);
      const headers = normalizeHeaders(request.headers);
      const value = requireHeader(scheme, headers, header);
      const timestampText = timestampHeader === undefined ? undefined : requireHeader(scheme, headers, timestampHeader);

      const items = value.split(SIGNATURE_SEPARATORS).filter((item) => item !== '' && item.startsWith(prefix));
      if (items.length === 0) {
        throw new WebhookVerificationError(scheme, 'malformed_header', `${header} has no signature${prefix === '' ? '' : ` starting with "${prefix}"`}`, {
          header,
        });
      }
      const timestamp =
        timestampText === undefined ? undefined : checkTimestamp(scheme, timestampHeader!, timestampText, now(), toleranceSeconds);

      const candidates = items.flatMap((item) => {
        const bytes = decodeSignature(item.slice(prefix.length), encoding, digestBytes);
        return bytes === undefined ? [] : [bytes];
      });
      const body = toBuffer(request.body);
      const signedPrefix = timestampText === undefined ? '' : `${timestampText}${separator}`;
      const expected = keys.map((key) => hmacDigest(algorithm, key, signedPrefix, body));
      if (!matchesAny(candidates, expected)) {
        throw new WebhookVerificationError(scheme, 'no_matching_signature', `No signature in ${header} matches a configured secret`, {
          header,
        });
      }
      return createVerifiedWebhook({
        scheme,
        id: idHeader === undefined ? undefined : optionalHeader(headers, idHeader),
        type: typeHeader === undefined ? undefined : optionalHeader(headers, typeHeader),
        timestamp,
        body,
        headers,
      });
    },
    sign(input: SignInput): SignedRequest {
      const body = toBuffer(input.body);
      const out: Record<string, string> = {};
      let signedPrefix = '';
      if (timestampHeader !== undefined) {
        const seconds = String(signingSeconds(input.timestamp, now));
        out[timestampHeader] = seconds;
        signedPrefix = `${seconds}${separator}`;
      }
      out[header] = prefix + hmacDigest(algorithm, keys[0]!, signedPrefix, body).toString(encoding);
      if (idHeader !== undefined) out[idHeader] = input.id ?? randomUUID();
      return { body, headers: out };
    },
  };
}

function headerName(value: string | undefined, option: string, where: string, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
    throw new TypeError(`${where}: ${option} must be an HTTP header name`);
  }
  return value.toLowerCase();
}

function oneOf<T extends string>(value: T | undefined, allowed: readonly T[], fallback: T, option: string, where: string): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new TypeError(`${where}: ${option} must be one of ${allowed.join(', ')}`);
  return value;
}
