// The one error a verifier throws. Its `reason` is a stable code saying exactly which check failed, so
// the caller can log it; adapters never send it back to the client (an attacker learns nothing).

/** Why a webhook request was refused. Codes never change meaning once shipped. */
export type VerificationFailureReason =
  /** A required header (named in `header`) is absent or empty. */
  | 'missing_header'
  /** A header is present but cannot be parsed (named in `header`). */
  | 'malformed_header'
  /** The signed timestamp is older than the tolerance allows (a replay, or a very slow queue). */
  | 'timestamp_too_old'
  /** The signed timestamp is further in the future than the tolerance allows (clock skew or forgery). */
  | 'timestamp_too_new'
  /** The headers parse, but no signature matches any configured secret or key. */
  | 'no_matching_signature'
  /** The body is larger than `maxBodyBytes`; nothing was hashed. */
  | 'body_too_large'
  /** The signature is valid but the body is not the JSON the caller asked for. */
  | 'invalid_body';

/** Every reason, in a stable order (for docs and exhaustive tests). */
export const VERIFICATION_FAILURE_REASONS: readonly VerificationFailureReason[] = Object.freeze([
  'missing_header',
  'malformed_header',
  'timestamp_too_old',
  'timestamp_too_new',
  'no_matching_signature',
  'body_too_large',
  'invalid_body',
]);

export interface WebhookVerificationErrorOptions {
  /** The header the failure is about, lower-case, when there is one. */
  header?: string;
  cause?: unknown;
}

/**
 * A webhook request failed verification. `reason` says which check failed, `header` which header it
 * concerns, `scheme` which verifier refused it. The message is for logs: it never contains a secret,
 * an expected signature or the body.
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly reason: VerificationFailureReason;
  readonly header: string | undefined;
  readonly scheme: string;

  constructor(scheme: string, reason: VerificationFailureReason, message: string, options: WebhookVerificationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.scheme = scheme;
    this.reason = reason;
    this.header = options.header;
  }
}

/** Whether `error` is a {@link WebhookVerificationError} (also across duplicated module copies). */
export function isWebhookVerificationError(error: unknown): error is WebhookVerificationError {
  return (
    error instanceof WebhookVerificationError ||
    (error instanceof Error && error.name === 'WebhookVerificationError' && typeof (error as { reason?: unknown }).reason === 'string')
  );
}
