// Receiving Slack requests (Events API, slash commands, interactivity): `X-Slack-Signature: v0=<hex>`
// is HMAC-SHA256 with the app's signing secret over `v0:{X-Slack-Request-Timestamp}:{body}`.
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

const SCHEME = 'slack';
const SIGNATURE_HEADER = 'x-slack-signature';
const TIMESTAMP_HEADER = 'x-slack-request-timestamp';
const VERSION = 'v0';

/** Options of {@link slack}. Give `secret`, `secrets`, or both (all are accepted). */
export interface SlackOptions extends CommonVerifierOptions {
  /** The app's signing secret (not the deprecated verification token), used as UTF-8 text. */
  secret?: string;
  /** Signing secrets to accept (a match with any is enough): list the old and the new one while rotating. */
  secrets?: readonly string[];
}

/**
 * A verifier for requests Slack sends to an app, as the official SDKs' `SignatureVerifier`.
 *
 * Requires `X-Slack-Request-Timestamp` (Unix seconds, within `toleranceSeconds`, default 300, of now
 * in either direction) and `X-Slack-Signature: v0=<64 hex digits>`; a signature without the `v0=`
 * prefix is `malformed_header`. The body cap defaults to 1 MiB.
 *
 * The VerifiedWebhook's `id` is the JSON body's `event_id` (Events API; kept on Slack's retries) and
 * `type` its `event.type`, else its top-level `type` (`url_verification`…). Form-encoded bodies (slash
 * commands, interactivity) get neither; `timestamp` is the signed request timestamp.
 *
 * `sign()` uses the first secret and emits `x-slack-request-timestamp` and `x-slack-signature`;
 * `SignInput.id` is not used (Slack carries `event_id` in the body).
 *
 * @throws TypeError when no secret is given or a common option is invalid.
 */
export function slack(options: SlackOptions): Verifier {
  const { maxBodyBytes, toleranceSeconds, now } = resolveCommonOptions(options);
  const secrets = resolveSecrets(SCHEME, options);

  return {
    scheme: SCHEME,
    maxBodyBytes,
    verify(request) {
      checkBodySize(SCHEME, request.body, maxBodyBytes);
      const headers = normalizeHeaders(request.headers);
      const timestampText = requireHeader(SCHEME, headers, TIMESTAMP_HEADER);
      const signature = requireHeader(SCHEME, headers, SIGNATURE_HEADER);
      if (!signature.startsWith(`${VERSION}=`)) {
        throw new WebhookVerificationError(SCHEME, 'malformed_header', `${SIGNATURE_HEADER} must start with "${VERSION}="`, {
          header: SIGNATURE_HEADER,
        });
      }
      const timestamp = checkTimestamp(SCHEME, TIMESTAMP_HEADER, timestampText, now(), toleranceSeconds);

      const candidate = decodeSignature(signature.slice(VERSION.length + 1), 'hex', HMAC_DIGEST_BYTES.sha256);
      const body = toBuffer(request.body);
      const expected = secrets.map((secret) => hmacDigest('sha256', secret, `${VERSION}:${timestampText}:`, body));
      if (candidate === undefined || !matchesAny([candidate], expected)) {
        throw new WebhookVerificationError(SCHEME, 'no_matching_signature', `${SIGNATURE_HEADER} matches no configured secret`, {
          header: SIGNATURE_HEADER,
        });
      }
      const payload = tryParseJsonObject(body);
      const event = payload?.['event'];
      const innerType =
        event !== null && typeof event === 'object' && !Array.isArray(event) ? stringField(event as Record<string, unknown>, 'type') : undefined;
      return createVerifiedWebhook({
        scheme: SCHEME,
        id: stringField(payload, 'event_id'),
        type: innerType ?? stringField(payload, 'type'),
        timestamp,
        body,
        headers,
      });
    },
    sign(input: SignInput): SignedRequest {
      const seconds = signingSeconds(input.timestamp, now);
      const body = toBuffer(input.body);
      const digest = hmacDigest('sha256', secrets[0]!, `${VERSION}:${seconds}:`, body).toString('hex');
      return { body, headers: { [TIMESTAMP_HEADER]: String(seconds), [SIGNATURE_HEADER]: `${VERSION}=${digest}` } };
    },
  };
}
