// Receiving GitHub webhooks: `X-Hub-Signature-256: sha256=<hex>` is HMAC-SHA256 of the raw body with
// the webhook secret. GitHub signs no timestamp, so replays can only be caught by deduping on
// `X-GitHub-Delivery` (the inbox does).
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

const SCHEME = 'github';
const SIGNATURE_HEADER = 'x-hub-signature-256';
const DELIVERY_HEADER = 'x-github-delivery';
const EVENT_HEADER = 'x-github-event';
const PREFIX = 'sha256=';

/**
 * Options of {@link github}. Give `secret`, `secrets`, or both (all are accepted). `toleranceSeconds`
 * and `now` have no effect: GitHub signs no timestamp.
 */
export interface GitHubOptions extends CommonVerifierOptions {
  /** The webhook secret, used as UTF-8 text. */
  secret?: string;
  /** Secrets to accept (a match with any is enough): list the old and the new one while rotating. */
  secrets?: readonly string[];
}

/**
 * A verifier for GitHub webhooks (repository, organization and GitHub App hooks).
 *
 * Requires `X-Hub-Signature-256: sha256=<64 hex digits>`, HMAC-SHA256(secret, raw body); a value
 * without the `sha256=` prefix is `malformed_header`. The legacy SHA-1 `X-Hub-Signature` is not
 * accepted. The body cap defaults to 1 MiB (GitHub itself sends up to 25 MB: raise `maxBodyBytes` if
 * you subscribe to events with big payloads).
 *
 * The VerifiedWebhook's `id` is `X-GitHub-Delivery` (redeliveries keep it), `type` is `X-GitHub-Event`
 * as sent (e.g. `push`, `pull_request`; the `action` stays in the body), `timestamp` is undefined.
 *
 * `sign()` uses the first secret and emits `x-hub-signature-256` and `x-github-delivery` (default: a
 * random UUID, as GitHub uses).
 *
 * @throws TypeError when no secret is given or a common option is invalid.
 */
export function github(options: GitHubOptions): Verifier {
  const { maxBodyBytes } = resolveCommonOptions(options);
  const secrets = resolveSecrets(SCHEME, options);

  return {
    scheme: SCHEME,
    maxBodyBytes,
    verify(request) {
      checkBodySize(SCHEME, request.body, maxBodyBytes);
      const headers = normalizeHeaders(request.headers);
      const value = requireHeader(SCHEME, headers, SIGNATURE_HEADER);
      if (!value.startsWith(PREFIX)) {
        throw new WebhookVerificationError(SCHEME, 'malformed_header', `${SIGNATURE_HEADER} must start with "${PREFIX}"`, {
          header: SIGNATURE_HEADER,
        });
      }
      const candidate = decodeSignature(value.slice(PREFIX.length), 'hex', HMAC_DIGEST_BYTES.sha256);
      const body = toBuffer(request.body);
      const expected = secrets.map((secret) => hmacDigest('sha256', secret, body));
      if (candidate === undefined || !matchesAny([candidate], expected)) {
        throw new WebhookVerificationError(SCHEME, 'no_matching_signature', `${SIGNATURE_HEADER} matches no configured secret`, {
          header: SIGNATURE_HEADER,
        });
      }
      return createVerifiedWebhook({
        scheme: SCHEME,
        id: optionalHeader(headers, DELIVERY_HEADER),
        type: optionalHeader(headers, EVENT_HEADER),
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
          [SIGNATURE_HEADER]: PREFIX + hmacDigest('sha256', secrets[0]!, body).toString('hex'),
          [DELIVERY_HEADER]: input.id ?? randomUUID(),
        },
      };
    },
  };
}
