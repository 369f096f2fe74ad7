// The shapes every scheme, adapter and the inbox agree on. A verifier turns raw request bytes plus
// headers into a VerifiedWebhook or throws WebhookVerificationError; adapters only move bytes and
// headers; the inbox only stores VerifiedWebhooks. Nothing here imports server code.

/** One header value as the various HTTP stacks hand it over. */
export type HeaderValue = string | readonly string[] | number | undefined | null;

/**
 * Request headers in any of the usual forms: a Web `Headers`, Node's `IncomingHttpHeaders`, a plain
 * record (any case), or a list of name/value pairs. Names are matched case-insensitively.
 */
export type HeadersInput =
  | { get(name: string): string | null; forEach(callback: (value: string, name: string) => void): void }
  | Readonly<Record<string, HeaderValue>>
  | Iterable<readonly [string, string]>;

/** What a verifier needs: the body exactly as received and the headers. */
export interface WebhookRequest {
  /** The raw body bytes. A string is taken as its UTF-8 encoding: pass bytes when you have them. */
  body: Uint8Array | string;
  headers: HeadersInput;
}

/** Names of the built-in schemes. */
export type SchemeName = 'standard-webhooks' | 'stripe' | 'github' | 'shopify' | 'slack' | 'generic-hmac';

/** A request whose signature checked out. */
export interface VerifiedWebhook {
  /** Which verifier accepted it (a built-in {@link SchemeName} or a generic verifier's `name`). */
  readonly scheme: string;
  /**
   * The sender's id for this event, stable across retries: what to dedupe on. `webhook-id`,
   * Stripe's event `id`, `X-GitHub-Delivery`, `X-Shopify-Webhook-Id`, Slack's `event_id`, or the
   * generic scheme's id header. Undefined when the sender gives none.
   */
  readonly id: string | undefined;
  /** The event type when the scheme carries one (`type` field, `X-GitHub-Event`, `X-Shopify-Topic`…). */
  readonly type: string | undefined;
  /** The signed timestamp, for schemes that sign one. */
  readonly timestamp: Date | undefined;
  /** The exact body bytes that were verified. */
  readonly body: Buffer;
  /** All request headers, names lower-cased, repeated values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body parsed as JSON (parsed once, then cached).
   * @throws WebhookVerificationError with reason `invalid_body` when it is not JSON.
   */
  json<T = unknown>(): T;
  /** The body decoded as UTF-8 text. */
  text(): string;
}

/** Options every scheme accepts. */
export interface CommonVerifierOptions {
  /**
   * Largest body accepted, in bytes, checked before anything is hashed. Default 1 MiB
   * (1,048,576). Adapters use the same cap while reading the request.
   */
  maxBodyBytes?: number;
  /**
   * Largest allowed difference between a signed timestamp and now, in seconds, in either direction.
   * Default 300 (5 minutes). Ignored by schemes that sign no timestamp (GitHub, Shopify, generic
   * without a timestamp header).
   */
  toleranceSeconds?: number;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Input to a scheme's `sign()`: what a test of a webhook handler needs to forge a valid request. */
export interface SignInput {
  /** The body to sign, sent exactly as given. */
  body: Uint8Array | string;
  /** Event/delivery id, for schemes that carry one. Default: a random id in the scheme's style. */
  id?: string;
  /** Timestamp to sign, for schemes that sign one. Default: now (from the verifier's clock). */
  timestamp?: Date;
}

/** A request ready to send: the body and the headers (lower-case names) that make it verify. */
export interface SignedRequest {
  body: Buffer;
  headers: Record<string, string>;
}

/** A configured verifier for one sender. Build one with a scheme factory (`standardWebhooks()`, `stripe()`…). */
export interface Verifier {
  /** The scheme name, also recorded on each VerifiedWebhook and used by the inbox as the id namespace. */
  readonly scheme: string;
  /** Largest body accepted, in bytes (adapters stop reading past it). */
  readonly maxBodyBytes: number;
  /**
   * Check the request. Synchronous: all schemes use node:crypto only.
   * @throws WebhookVerificationError saying which check failed.
   */
  verify(request: WebhookRequest): VerifiedWebhook;
  /**
   * Sign a body the way the sender would, with the first configured secret that can sign: for
   * testing your own handlers.
   * @throws Error when no configured key can sign (e.g. only a `whpk_` public key).
   */
  sign(input: SignInput): SignedRequest;
}

/** What the inbox answers when it takes a verified webhook. */
export interface ReceiveResult {
  /** The id the event is stored under (the webhook's id, or a digest of its body when it has none). */
  id: string;
  /** True when this id was seen before: acknowledged, but not processed again. */
  duplicate: boolean;
}

/**
 * Anything that durably takes verified webhooks: the inbox (`createInbox`). Adapters answer 2xx only
 * after `receive` resolves, so a crash after the answer loses nothing.
 */
export interface WebhookSink {
  receive(webhook: VerifiedWebhook): Promise<ReceiveResult>;
}
