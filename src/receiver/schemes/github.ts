// Receiving GitHub webhooks: `X-Hub-Signature-256: sha256=<hex>` is HMAC-SHA256 of the raw body with
// the webhook secret. GitHub signs no timestamp, so replays can only be caught by deduping on
// `X-GitHub-Delivery` (the inbox does). It is the generic HMAC scheme with GitHub's header names.
import { genericHmac } from './generic-hmac.js';
import type { CommonVerifierOptions, Verifier } from '../types.js';

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
  return genericHmac({
    ...options,
    name: 'github',
    header: 'x-hub-signature-256',
    prefix: 'sha256=',
    algorithm: 'sha256',
    encoding: 'hex',
    idHeader: 'x-github-delivery',
    typeHeader: 'x-github-event',
  });
}
