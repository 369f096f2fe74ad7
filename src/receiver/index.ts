// `tapwire/receiver`: everything an app that RECEIVES webhooks needs, and nothing of the server.
// Verify a sender's signature from the raw bytes, acknowledge at once, process each event once.
// Imports only node: builtins at load time; a database driver loads only when an inbox is created.

// The contract every scheme, adapter and the inbox share.
export type {
  CommonVerifierOptions,
  HeaderValue,
  HeadersInput,
  ReceiveResult,
  SchemeName,
  SignInput,
  SignedRequest,
  VerifiedWebhook,
  Verifier,
  WebhookRequest,
  WebhookSink,
} from './types.js';
export {
  VERIFICATION_FAILURE_REASONS,
  WebhookVerificationError,
  isWebhookVerificationError,
  type VerificationFailureReason,
} from './errors.js';
export { DEFAULT_MAX_BODY_BYTES, DEFAULT_TOLERANCE_SECONDS, normalizeHeaders } from './core.js';
export type { HmacAlgorithm } from './core.js';

// Signature schemes.
export { standardWebhooks, type StandardWebhooksOptions } from './schemes/standard-webhooks.js';
export { stripe, type StripeOptions } from './schemes/stripe.js';
export { github, type GitHubOptions } from './schemes/github.js';
export { shopify, type ShopifyOptions } from './schemes/shopify.js';
export { slack, type SlackOptions } from './schemes/slack.js';
export { genericHmac, type GenericHmacOptions } from './schemes/generic-hmac.js';

// Adapters that read the raw body with a size cap, verify, and answer.
export {
  DEFAULT_READ_TIMEOUT_MS,
  RequestBodyError,
  handleWebhookRequest,
  readRawBody,
  type RawWebhookRequest,
  type ReadRawBodyOptions,
  type RequestBodyErrorCode,
  type WebhookHandlerOptions,
  type WebhookRequestInfo,
  type WebhookResponse,
} from './adapters/handle.js';
export { createNodeHandler } from './adapters/node.js';
export { expressWebhook, type ExpressWebhookMiddleware } from './adapters/express.js';
export { fastifyWebhook, type FastifyWebhookOptions } from './adapters/fastify.js';
export { honoWebhook, type HonoWebhookMiddleware, type HonoWebhookVariables } from './adapters/hono.js';
export { createWebHandler, verifyWebRequest } from './adapters/web.js';

// The durable inbox.
export {
  InboxError,
  createInbox,
  isInboxError,
  type BackoffOptions,
  type Inbox,
  type InboxClock,
  type InboxErrorCode,
  type InboxEvent,
  type InboxHandler,
  type InboxKey,
  type InboxOptions,
  type InboxRecord,
  type InboxStats,
  type InboxStatus,
} from './inbox/inbox.js';
