// Receiving Stripe webhooks without the Stripe SDK: `Stripe-Signature: t=…,v1=…` is HMAC-SHA256 over
// `{t}.{body}`, keyed with the endpoint secret text as-is (unlike Standard Webhooks, `whsec_…` is not
// base64-decoded).
import {
  HMAC_DIGEST_BYTES,
  checkBodySize,
  checkTimestamp,
  createVerifiedWebhook,
  decodeSignature,
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

const SCHEME = 'stripe';
const HEADER = 'stripe-signature';

/** Options of {@link stripe}. Give `secret`, `secrets`, or both (all are accepted). */
export interface StripeOptions extends CommonVerifierOptions {
  /** The endpoint's signing secret (`whsec_…`), used exactly as written. */
  secret?: string;
  /**
   * Signing secrets to accept: while Stripe rolls an endpoint secret it sends one `v1` signature per
   * active secret, and a match with any configured one is enough.
   */
  secrets?: readonly string[];
}

/**
 * A verifier for Stripe webhook events, equivalent to `stripe.webhooks.constructEvent` (without
 * needing the SDK).
 *
 * Parses `Stripe-Signature` (`t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`): a missing `t`, a
 * repeated `t`, or no `v1` entry is `malformed_header`; other keys (`v0`) are ignored. `t` must be
 * within `toleranceSeconds` (default 300) of now in either direction (Stripe's library checks only the
 * past). The request passes when any `v1` matches HMAC-SHA256(secret, `{t}.{raw body}`) for any
 * configured secret. The body cap defaults to 1 MiB.
 *
 * The VerifiedWebhook's `id` is the event's JSON `id` (`evt_…`, stable across retries) and `type` its
 * JSON `type`; `timestamp` is `t`.
 *
 * `sign()` uses the first secret and emits `stripe-signature: t=…,v1=…`. Stripe carries the event id in
 * the body, so `SignInput.id` is not used: put `id` and `type` in the body you sign.
 *
 * @throws TypeError when no secret is given or a common option is invalid.
 */
export function stripe(options: StripeOptions): Verifier {
  const { maxBodyBytes, toleranceSeconds, now } = resolveCommonOptions(options);
  const secrets = resolveSecrets(SCHEME, options);

  return {
    scheme: SCHEME,
    maxBodyBytes,
    verify(request) {
      checkBodySize(SCHEME, request.body, maxBodyBytes);
      const headers = normalizeHeaders(request.headers);
      const { timestampText, signatures } = parseStripeSignature(requireHeader(SCHEME, headers, HEADER));
      const timestamp = checkTimestamp(SCHEME, HEADER, timestampText, now(), toleranceSeconds);

      const body = toBuffer(request.body);
      const candidates = signatures.flatMap((text) => {
        const bytes = decodeSignature(text, 'hex', HMAC_DIGEST_BYTES.sha256);
        return bytes === undefined ? [] : [bytes];
      });
      const expected = secrets.map((secret) => hmacDigest('sha256', secret, `${timestampText}.`, body));
      if (!matchesAny(candidates, expected)) {
        throw new WebhookVerificationError(SCHEME, 'no_matching_signature', `No v1 signature in ${HEADER} matches a configured secret`, {
          header: HEADER,
        });
      }
      const event = tryParseJsonObject(body);
      return createVerifiedWebhook({
        scheme: SCHEME,
        id: stringField(event, 'id'),
        type: stringField(event, 'type'),
        timestamp,
        body,
        headers,
      });
    },
    sign(input: SignInput): SignedRequest {
      const seconds = signingSeconds(input.timestamp, now);
      const body = toBuffer(input.body);
      const signature = hmacDigest('sha256', secrets[0]!, `${seconds}.`, body).toString('hex');
      return { body, headers: { [HEADER]: `t=${seconds},v1=${signature}` } };
    },
  };
}

/** `t` and the `v1` values of a `Stripe-Signature` header; items without `=` are ignored. */
function parseStripeSignature(header: string): { timestampText: string; signatures: string[] } {
  let timestampText: string | undefined;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const equals = item.indexOf('=');
    if (equals === -1) continue;
    const key = item.slice(0, equals).trim();
    const value = item.slice(equals + 1).trim();
    if (key === 't') {
      if (timestampText !== undefined) {
        throw new WebhookVerificationError(SCHEME, 'malformed_header', `${HEADER} has more than one t=`, { header: HEADER });
      }
      timestampText = value;
    } else if (key === 'v1') {
      signatures.push(value);
    }
  }
  if (timestampText === undefined) {
    throw new WebhookVerificationError(SCHEME, 'malformed_header', `${HEADER} has no t= timestamp`, { header: HEADER });
  }
  if (signatures.length === 0) {
    throw new WebhookVerificationError(SCHEME, 'malformed_header', `${HEADER} has no v1= signature`, { header: HEADER });
  }
  return { timestampText, signatures };
}
