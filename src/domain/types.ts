// The records Tapwire keeps, as plain types shared by storage, services, delivery and the API.
//
// Glossary
// - application: one tenant of the sender (usually one of their customers). Owns endpoints and messages.
// - endpoint:    a URL registered under an application, with an event-type filter, channels, a signing
//                secret and custom headers. Soft-deleted, so attempts keep pointing at it.
// - event type:  a named kind of message (`invoice.paid`), global to the server, with an optional
//                JSON schema and example.
// - message:     one event sent to an application: an event type and a JSON payload kept byte-for-byte.
// - delivery:    one (message, endpoint) job in the queue: due time, lease, attempt count, final state.
//                Fan-out creates one per matching endpoint; resend and recover add manual ones.
// - attempt:     one HTTP request made for a delivery, with its outcome and response.

import type { EndpointTransformation } from './transformation.js';

/**
 * Delivery (and per-destination) state, numbered as in the Svix API. `canceled` (4): Tapwire dropped
 * the delivery unsent, because its endpoint was deleted or disabled, or its message's payload was
 * expunged or expired, before it could be sent. Final, like success and fail; the attempt recorded
 * for such a drop (response status 0, the reason as response) is canceled too.
 */
export const MessageStatus = { success: 0, pending: 1, fail: 2, sending: 3, canceled: 4 } as const;
export type MessageStatusName = keyof typeof MessageStatus;

/** Why an attempt was made: by the schedule, or by a person (resend / recover). */
export const TriggerType = { scheduled: 0, manual: 1 } as const;
export type TriggerTypeName = keyof typeof TriggerType;

export interface Application {
  id: string;
  uid: string | null;
  name: string;
  /** Messages per second; stored and returned (enforcement belongs to the delivery isolation work). */
  throttleRate: number | null;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

/** A signing key that is no longer current but still signs deliveries until `expiresAt`. */
export interface OldSecret {
  secret: string;
  expiresAt: Date;
}

export interface Endpoint {
  id: string;
  appId: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  /** null = every event type. */
  eventTypes: string[] | null;
  /** null = not restricted to channels. */
  channels: string[] | null;
  /** Messages per second at most; null = not throttled. */
  throttleRate: number | null;
  /**
   * Attempts in flight at once, across every worker; absent = the server default
   * (TAPWIRE_ENDPOINT_CONCURRENCY). A hanging endpoint holds at most this many worker slots.
   */
  concurrencyLimit?: number;
  /**
   * true: a FIFO endpoint (Tapwire's own addition, docs/fifo.md): its deliveries go out one at a
   * time, in the order their messages were accepted. Absent = false.
   */
  fifo?: boolean;
  version: number;
  metadata: Record<string, string>;
  /** Current signing key: a `whsec_…` HMAC secret or a `whsk_…` ed25519 secret key (see signing/). */
  secret: string;
  /** Previous secrets still inside their rotation grace period (pruned lazily). */
  oldSecrets: OldSecret[];
  /** Custom headers added to every delivery. */
  headers: Record<string, string>;
  /**
   * Set while the endpoint keeps failing: the time of the first failed attempt after its last
   * success. Absent while healthy. Drives auto-disable (TAPWIRE_AUTO_DISABLE_AFTER); only the
   * delivery worker moves it, and re-enabling the endpoint clears it.
   */
  failingSince?: Date;
  /**
   * The JavaScript `handler(webhook)` that rewrites each request before it is signed and sent (see
   * domain/transformation.ts). Absent when no code was ever set; kept while disabled. Written only
   * through Store.setEndpointTransformation, never by updateEndpoint.
   */
  transformation?: EndpointTransformation;
  createdAt: Date;
  updatedAt: Date;
}

export interface EventType {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  /** Versioned JSON schemas, e.g. `{"1": {...}}`; may carry `examples`. */
  schemas: Record<string, unknown> | null;
  /**
   * The feature flags that gate it (Svix's `featureFlags`); null = none, seen by every token. A
   * portal token sees it when it carries at least one of them. Svix's older singular `featureFlag`
   * is this list's first element (setting it sets a one-element list).
   */
  featureFlags: string[] | null;
  /** Svix's `groupName`: a label that groups event types in catalogues; null = none. */
  groupName: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Message {
  id: string;
  appId: string;
  /** The sender's `eventId`, unique per application. */
  eventId: string | null;
  eventType: string;
  /** The payload exactly as submitted (JSON text); null once expunged or expired. */
  payload: string | null;
  channels: string[] | null;
  createdAt: Date;
  /** When the payload is purged (payload retention). */
  payloadExpiresAt: Date;
  /** Free-form labels the lists filter by (`tag`); absent or null when none were given. */
  tags?: string[] | null;
  /**
   * Scheduled delivery: its deliveries are due at this time instead of at once (`deliverAt`);
   * absent or null for an ordinary message.
   */
  deliverAt?: Date | null;
  /**
   * The Content-Type the payload is delivered with, when the sender gave one for a raw payload
   * (`transformationsParams`); absent or null: an ordinary JSON payload, sent as application/json.
   */
  contentType?: string | null;
  /**
   * Headers delivered with the payload besides Tapwire's own: an ingested event's provider headers
   * (X-GitHub-Event…, see services/ingest.ts). Absent for every other message.
   */
  forwardHeaders?: Record<string, string> | null;
}

export interface Delivery {
  id: string;
  msgId: string;
  appId: string;
  endpointId: string;
  status: MessageStatusName;
  triggerType: TriggerTypeName;
  /** Attempts made so far for this delivery. */
  attemptCount: number;
  /**
   * When the next attempt is due; null once final (success or fail). A due delivery parked behind
   * its endpoint's limit keeps its due time here, and runs as soon as the endpoint has room.
   */
  nextAttemptAt: Date | null;
  /** A worker holds this delivery until this time; expired leases are claimed again. */
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /**
   * Its place in its FIFO endpoint's line (docs/fifo.md); absent when it was queued while its
   * endpoint was not FIFO. A held one (behind the line's head) has no nextAttemptAt.
   */
  fifoSeq?: number;
}

export interface Attempt {
  id: string;
  deliveryId: string;
  msgId: string;
  appId: string;
  endpointId: string;
  url: string;
  /** 0 when no HTTP response was received. */
  responseStatusCode: number;
  /** Response body (capped) or the transport error text. */
  response: string;
  responseDurationMs: number;
  /** canceled: no request was made (see MessageStatus). */
  status: 'success' | 'fail' | 'canceled';
  triggerType: TriggerTypeName;
  timestamp: Date;
}
