// Receiving Shopify webhooks: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body with
// the app's client secret. Shopify signs no timestamp, so replays are caught by deduping on
// `X-Shopify-Webhook-Id` (the inbox does).
import { randomUUID } from 'node:crypto';
import {
  HMAC_DIGEST_BYTES,
  checkBodySize,
  createVerifiedWebhook,
  decodeSignature,
  hmacDigest,
  matchesAny,
  normalizeHeaders,
  optionalHeader,
  requireHeader,
  resolveCommonOptions,
  resolveSecrets,
  toBuffer,
} from '../core.js';
import { WebhookVerificationError } from '../errors.js';
import type { CommonVerifierOptions, SignInput, SignedRequest, Verifier } from '../types.js';

const SCHEME = 'shopify';
const SIGNATURE_HEADER = 'x-shopify-hmac-sha256';
/** The newer Events product sends the same headers without the `X-` prefix. */
const EVENTS_SIGNATURE_HEADER = 'shopify-hmac-sha256';
const ID_HEADERS = ['x-shopify-webhook-id', 'shopify-webhook-id'] as const;
const TOPIC_HEADERS = ['x-shopify-topic', 'shopify-topic'] as const;

/**
 * Options of {@link shopify}. Give `secret`, `secrets`, or both (all are accepted). `toleranceSeconds`
 * and `now` have no effect: Shopify signs no timestamp.
 */
export interface ShopifyOptions extends CommonVerifierOptions {
  /** The app's client secret (API secret key), used as UTF-8 text. */
  secret?: string;
  /**
   * Secrets to accept (a match with any is enough). After rotating the client secret, Shopify may
   * keep signing with the old one for up to an hour: list both meanwhile.
   */
  secrets?: readonly string[];
}

/**
 * A verifier for Shopify webhooks (and deliveries of the newer Events product).
 *
 * Requires `X-Shopify-Hmac-Sha256` (or `Shopify-Hmac-Sha256`): base64 of HMAC-SHA256(secret, raw
 * body). The body cap defaults to 1 MiB.
 *
 * The VerifiedWebhook's `id` is `X-Shopify-Webhook-Id` (or `Shopify-Webhook-Id`), unique per delivery
 * and kept on retries; `X-Shopify-Event-Id` is deliberately not used, because Shopify shares it
 * between all deliveries one merchant action produces (several topics or subscriptions), so deduping
 * on it would drop events. `type` is `X-Shopify-Topic` (or `Shopify-Topic`), `timestamp` undefined
 * (`X-Shopify-Triggered-At` is not signed).
 *
 * `sign()` uses the first secret and emits `x-shopify-hmac-sha256` and `x-shopify-webhook-id`
 * (default: a random UUID).
 *
 * @throws TypeError when no secret is given or a common option is invalid.
 */
export function shopify(options: ShopifyOptions): Verifier {
  const { maxBodyBytes } = resolveCommonOptions(options);
  const secrets = resolveSecrets(SCHEME, options);

  return {
    scheme: SCHEME,
    maxBodyBytes,
    verify(request) {
      checkBodySize(SCHEME, request.body, maxBodyBytes);
      const headers = normalizeHeaders(request.headers);
      const header = headers[SIGNATURE_HEADER] === undefined && headers[EVENTS_SIGNATURE_HEADER] !== undefined
        ? EVENTS_SIGNATURE_HEADER
        : SIGNATURE_HEADER;
      const candidate = decodeSignature(requireHeader(SCHEME, headers, header), 'base64', HMAC_DIGEST_BYTES.sha256);
      const body = toBuffer(request.body);
      const expected = secrets.map((secret) => hmacDigest('sha256', secret, body));
      if (candidate === undefined || !matchesAny([candidate], expected)) {
        throw new WebhookVerificationError(SCHEME, 'no_matching_signature', `${header} matches no configured secret`, { header });
      }
      return createVerifiedWebhook({
        scheme: SCHEME,
        id: firstHeader(headers, ID_HEADERS),
        type: firstHeader(headers, TOPIC_HEADERS),
        timestamp: undefined,
        body,
        headers,
      });
    },
    sign(input: SignInput): SignedRequest {
      const body = toBuffer(input.body);
      return {
        body,
        headers: {
          [SIGNATURE_HEADER]: hmacDigest('sha256', secrets[0]!, body).toString('base64'),
          [ID_HEADERS[0]]: input.id ?? randomUUID(),
        },
      };
    },
  };
}

function firstHeader(headers: Readonly<Record<string, string>>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = optionalHeader(headers, name);
    if (value !== undefined) return value;
  }
  return undefined;
}
