// The Store interface: every domain operation Tapwire needs from its database, each one atomic.
// SQLite and PostgreSQL implement it; one contract suite (test/store-contract/) runs against both.
// Driver errors never leave an implementation: uid collisions become TapwireError('conflict'),
// an unreachable database becomes TapwireError('store_unavailable').
import type {
  Application,
  Attempt,
  Delivery,
  Endpoint,
  EventType,
  Message,
  MessageStatusName,
} from '../domain/types.js';
import type { AppEndpointFilters, AppUsageStat, BackgroundTask, BackgroundTaskKind, BackgroundTaskStatus } from '../domain/background-tasks.js';
import type { TokenScope } from '../domain/token-scopes.js';
import type { IngestSource } from '../domain/ingest.js';
import type { Integration } from '../domain/integrations.js';
import type { ListenSession } from '../domain/listen.js';

/** The subset of a pino logger the stores use (migrations, connection trouble). */
export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** One page of a cursor-paginated list, shaped like Svix's ListResponse. */
export interface Page<T> {
  data: T[];
  /** Cursor for the next page (the last item's key); null when the page is empty. */
  iterator: string | null;
  /** Cursor for the previous page (`-` + the first item's key); null when the page is empty. */
  prevIterator: string | null;
  /** True when there is nothing after this page. */
  done: boolean;
}

/**
 * Cursor query. `iterator` is a key from a previous page; a leading `-` pages backwards
 * (towards the start of the requested order).
 */
export interface ListQuery {
  limit: number;
  iterator?: string | null;
  order?: 'ascending' | 'descending';
}

export interface MessageListQuery extends ListQuery {
  /** Only messages created strictly before / after these times. */
  before?: Date | null;
  after?: Date | null;
  channel?: string | null;
  eventTypes?: string[] | null;
  /** Only messages carrying this tag. */
  tag?: string | null;
  /**
   * Only messages with a live destination whose latest delivery has this status (e.g. `fail`:
   * messages that failed for at least one endpoint). Used by the message list only.
   */
  status?: MessageStatusName | null;
}

export interface EventTypeListQuery extends ListQuery {
  includeArchived: boolean;
  /** null or absent: every type, whatever its feature flag. */
  featureFlags?: string[] | null;
}

export interface AttemptListQuery extends ListQuery {
  msgId?: string | null;
  endpointId?: string | null;
  status?: MessageStatusName | null;
  /** 0 = no response, 100/200/300/400/500 = that class of status code. */
  statusCodeClass?: number | null;
  channel?: string | null;
  eventTypes?: string[] | null;
  /** Only attempts of messages carrying this tag. */
  tag?: string | null;
  before?: Date | null;
  after?: Date | null;
}

/** What a worker needs to make one attempt, read in the same statement that leased it. */
export interface DeliveryJob {
  delivery: Delivery;
  message: Message;
  /** null when the endpoint was deleted after the delivery was queued. */
  endpoint: Endpoint | null;
}

export interface ClaimDeliveriesInput {
  now: Date;
  /** Deliveries to lease at most. */
  limit: number;
  /** Each lease lasts until `now + leaseMs`. */
  leaseMs: number;
  /** Retries (attemptCount > 0) among them at most. Default: no separate limit. */
  maxRetries?: number;
  /**
   * Attempts in flight at once per endpoint that sets no limit of its own. Default: no limit
   * (only endpoints with their own concurrencyLimit are limited).
   */
  endpointConcurrency?: number | null;
  /**
   * Leases an endpoint may hold, by endpoint id, in place of its own concurrencyLimit and
   * `endpointConcurrency`: the delivery worker's adaptive limits, each with room for a small buffer.
   */
  endpointBudgets?: Record<string, number> | null;
  /**
   * Applications whose deliveries are not to be leased now (the worker holds its share of each):
   * their due deliveries are parked like those of an endpoint at its limit, so a claim steps over
   * their backlog to other applications' work.
   */
  fullApplications?: readonly string[] | null;
}

/**
 * A worker in the accepting process offers to take an accept's new deliveries at once: those it may
 * have start leased to it, as if claimed in the same statement, and come back as jobs
 * (CreateMessageResult.handedOff). It saves the worker a claim per delivery and the accept's
 * deliveries the trip through the due order. The rules are a claim's: only endpoints with no parked
 * deliveries and no throttleRate, of applications not in `fullApplications` and without a
 * throttleRate, each up to its lease
 * budget counted across every process (see ClaimDeliveriesInput), and at most `limit` in all.
 */
export interface DeliveryHandoff extends Pick<ClaimDeliveriesInput, 'endpointConcurrency' | 'endpointBudgets' | 'fullApplications'> {
  /** When the leases of handed-off deliveries end. */
  lockedUntil: Date;
  /** Deliveries handed off at most (the worker's free room). */
  limit: number;
}

export interface CreateMessageResult {
  message: Message;
  /** Every delivery queued, handed off or not. */
  deliveries: Delivery[];
  /** The deliveries handed off (leased until DeliveryHandoff.lockedUntil), with what sending them needs. */
  handedOff: DeliveryJob[];
}

/** The limits of a claim that decide when it can next take something. */
export type NextDueInput = { now: Date } & Pick<ClaimDeliveriesInput, 'endpointConcurrency' | 'endpointBudgets' | 'fullApplications'>;

/** A delivery a worker holds leased, and the lease it was given (its lockedUntil). */
export interface HeldLease {
  id: string;
  lockedUntil: Date;
}

export interface RenewLeasesInput {
  leases: readonly HeldLease[];
  /** The new end of each lease; null gives the deliveries back to be claimed at once. */
  lockedUntil: Date | null;
}

/** What becomes of a delivery after an attempt. */
export type DeliveryOutcome =
  | { status: 'success' }
  | { status: 'sending'; nextAttemptAt: Date }
  | { status: 'fail' }
  /** Dropped unsent: the endpoint was deleted or disabled, or the payload was gone (no request made). */
  | { status: 'canceled' };

export interface CompleteAttemptInput {
  attempt: Attempt;
  outcome: DeliveryOutcome;
  /** Disable the endpoint in the same transaction (the receiver answered 410 Gone). */
  disableEndpoint: boolean;
  now: Date;
  /**
   * What the attempt says about the endpoint's health (default `'none'`): `'success'` clears its
   * failingSince, `'failure'` sets it to `now` when unset. `'none'` (no request was made, or the
   * receiver aborted the message on purpose) leaves it. Disabled and deleted endpoints are left alone.
   */
  health?: 'success' | 'failure' | 'none';
  /**
   * Auto-disable: disable the endpoint if it is still failing since exactly this time (the
   * failingSince the caller read when it claimed the delivery and found old enough). A success
   * recorded meanwhile cleared it, and then nothing happens.
   */
  autoDisableFailingSince?: Date | null;
  /** Messages (operational events) to accept in the same transaction; see {@link QueueMessagesOptions}. */
  messages?: Message[];
  /** Messages to accept in the same transaction only if this call disabled the endpoint. */
  messagesIfEndpointDisabled?: Message[];
  /**
   * The delivery has a place in its endpoint's FIFO line (its fifoSeq is set). When the outcome is
   * final (success, fail, canceled) the next held delivery of the line becomes due now, in the
   * same transaction (docs/fifo.md).
   */
  fifo?: boolean;
}

/** An endpoint's FIFO line, as getFifoLine reads it. */
export interface FifoLine {
  head: {
    deliveryId: string;
    msgId: string;
    attemptCount: number;
    /** Its first failed attempt: since when it has blocked the line; null while it has not failed. */
    blockedSince: Date | null;
  } | null;
  /** Deliveries held behind the head. */
  held: number;
}

export interface CompleteAttemptResult {
  /** This call disabled the endpoint (it was enabled before): 410 or auto-disable. */
  endpointDisabled: boolean;
}

/**
 * Messages accepted in the same transaction as a state change (operational events about it):
 * each is stored and fanned out exactly as {@link Store.createMessage} does, due at its createdAt.
 * A message whose application no longer exists is dropped, so a deleted target never fails the
 * change it reports on.
 */
export interface QueueMessagesOptions {
  messages?: Message[];
}

/** A (destination, state) pair: one endpoint and its latest delivery of one message. */
export interface MessageDestination {
  endpoint: Endpoint;
  delivery: Delivery;
}

/** A (message, state) pair: one message and its latest delivery to one endpoint. */
export interface AttemptedMessage {
  message: Message;
  delivery: Delivery;
}

export interface EndpointStats {
  success: number;
  pending: number;
  sending: number;
  fail: number;
  /** Dropped unsent (see MessageStatus.canceled). */
  canceled: number;
}

/** A stored token (its hash only) and what it may do. */
export interface StoredToken extends TokenScope {
  id: string;
  /** null = admin (full access). */
  appId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  /** When it was (or will be) revoked; null when it never was. */
  revokedAt: Date | null;
}

/** Input of {@link Store.createToken}. */
export interface NewToken {
  id: string;
  tokenHash: string;
  appId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  /** Default: every capability, no feature flags, no session. */
  scope?: TokenScope;
}

/**
 * Which tokens {@link Store.revokeTokens} ends, and when. Every filter given must match; at least
 * one of `tokenHash`, `id`, `appId` or `adminOnly` must be given.
 */
export interface TokenRevocation {
  /** From this time on the tokens are refused (now, or later for a grace period). */
  at: Date;
  tokenHash?: string | null;
  id?: string | null;
  appId?: string | null;
  /** Only admin tokens (appId null). */
  adminOnly?: boolean;
  /** Only tokens minted with one of these session ids. */
  sessionIds?: string[] | null;
}

/** What PUT on an ingest source replaces. */
export type IngestSourceUpdate = Pick<IngestSource, 'id' | 'uid' | 'name' | 'type' | 'config' | 'metadata' | 'updatedAt'>;

/** A new ingest URL token: the token in clear (sealed by the store), its hash, and until when the previous one works. */
export interface IngestTokenRotation {
  id: string;
  token: string;
  tokenHash: string;
  previousExpiresAt: Date;
  updatedAt: Date;
}

/** The token row of an integration's key: its id, the hash of the key and when it was made. */
export interface IntegrationKeyToken {
  id: string;
  tokenHash: string;
  createdAt: Date;
}

export interface IdempotentResponse {
  statusCode: number;
  body: string;
  contentType: string | null;
}

export interface StoreHealth {
  ok: boolean;
  detail?: string;
}

export interface Store {
  /** Which backend this is, for logs and health reports. */
  readonly kind: 'sqlite' | 'postgres';

  /**
   * Apply pending numbered migrations. Idempotent, and safe when several processes start at once.
   * Throws TapwireError('schema_too_new') when the database holds migrations this version does
   * not know (a newer Tapwire migrated it): running against it could corrupt data.
   */
  migrate(): Promise<{ applied: number[] }>;
  /**
   * Call `listener` soon after deliveries are queued by any process sharing this database, so
   * workers start without a polling delay. Returns a function that stops listening. Backends
   * that cannot notify across processes return a no-op (workers then rely on their slow poll).
   */
  onDeliveriesQueued(listener: () => void): Promise<() => Promise<void>>;
  /** Cheap liveness probe used by `/api/v1/health`. */
  ping(): Promise<StoreHealth>;
  close(): Promise<void>;

  // Applications ----------------------------------------------------------------------------
  /** Insert; `conflict` when the uid is taken. */
  createApplication(app: Application): Promise<Application>;
  /** By id or uid. */
  getApplication(idOrUid: string): Promise<Application | null>;
  /** Replace the mutable fields of an existing application; `conflict` when the new uid is taken. */
  updateApplication(app: Application): Promise<Application>;
  /** Delete the application and everything it owns. False when it did not exist. */
  deleteApplication(id: string): Promise<boolean>;
  /** Every application but the reserved operational one (uid OPERATIONAL_APP_UID, domain/operational.ts). */
  listApplications(query: ListQuery): Promise<Page<Application>>;

  // Endpoints -------------------------------------------------------------------------------
  /** Insert; `conflict` when the uid is taken within the application. */
  createEndpoint(endpoint: Endpoint, options?: QueueMessagesOptions): Promise<Endpoint>;
  /** By id or uid within the application; deleted endpoints are not found. */
  getEndpoint(appId: string, idOrUid: string): Promise<Endpoint | null>;
  /**
   * Replace every mutable field; `conflict` on uid collision. failingSince is not written from
   * `endpoint`: it is cleared when the update re-enables a disabled endpoint and kept otherwise.
   */
  updateEndpoint(endpoint: Endpoint, options?: QueueMessagesOptions): Promise<Endpoint>;
  /**
   * Soft-delete: the endpoint disappears from reads, its uid is freed, its deliveries still waiting
   * (pending or sending, leased or not) become canceled. Attempts keep pointing at it. False when it did not exist (and then
   * `options.messages` are not queued either).
   */
  deleteEndpoint(appId: string, endpointId: string, now: Date, options?: QueueMessagesOptions): Promise<boolean>;
  /**
   * Set a live endpoint's transformation: its code (null removes it) and switch, stamped `now`.
   * Touches nothing else of the endpoint, so it never races an update of its other fields. The
   * endpoint as it now is, or null when it does not exist.
   */
  setEndpointTransformation(input: { appId: string; endpointId: string; code: string | null; enabled: boolean; now: Date }): Promise<Endpoint | null>;
  listEndpoints(appId: string, query: ListQuery): Promise<Page<Endpoint>>;
  /**
   * Whether a message of this event type and channels would reach at least one endpoint of the
   * application now: a live, enabled endpoint that the fan-out rule of {@link Store.createMessage}
   * matches (message precheck).
   */
  hasActiveEndpointFor(appId: string, eventType: string, channels: string[] | null): Promise<boolean>;
  /**
   * Seal the secrets and header values of the next `limit` endpoints after `afterId` (by id, deleted
   * ones included) under the store's first encryption key, rewriting only those not sealed with it
   * already; each row in the same transaction as its read, so a concurrent change is never undone.
   * `lastId` is the cursor for the next batch, null when there is none.
   */
  resealEndpoints(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }>;

  // Event types -----------------------------------------------------------------------------
  /** Insert; `conflict` when the name exists (archived or not). */
  createEventType(eventType: EventType): Promise<EventType>;
  getEventType(name: string): Promise<EventType | null>;
  /** Insert or replace by name. */
  saveEventType(eventType: EventType): Promise<EventType>;
  /** Hard delete. False when it did not exist. */
  deleteEventType(name: string): Promise<boolean>;
  /**
   * Ordered by name; the iterator is a name. With `featureFlags`, only types behind none of the
   * flags or behind one of these (what a portal token with those flags may see).
   */
  listEventTypes(query: EventTypeListQuery): Promise<Page<EventType>>;
  /**
   * Insert or replace each event type by name as {@link Store.saveEventType} does (keeping an
   * existing one's creation time), all in one transaction: an import either lands whole or not at all.
   */
  saveEventTypes(eventTypes: EventType[]): Promise<void>;

  // Messages and fan-out --------------------------------------------------------------------
  /**
   * Insert the message (its tags filterable at once) and, in the same transaction, one scheduled
   * delivery (due `now`, or at `message.deliverAt` when it has one) for each
   * endpoint of the application that is neither disabled nor deleted and that matches: its
   * eventTypes is null or contains the type, and its channels is null or overlaps the message's
   * channels. `conflict` when the eventId is taken in the application.
   * With `options.endpointIds`, only those endpoints get a delivery (filters still apply to the
   * disabled/deleted state but not to event types or channels): used by send-example. With
   * `options.handoff`, deliveries the accepting process's worker may take start leased to it; those
   * of a message with a deliverAt never are (nor do they join a parked queue): they wait for their time.
   */
  createMessage(message: Message, now: Date, options?: { endpointIds?: string[]; handoff?: DeliveryHandoff | null }): Promise<CreateMessageResult>;
  /** By id or eventId within the application. */
  getMessage(appId: string, idOrEventId: string): Promise<Message | null>;
  /** These messages of the application by id (those that exist), in no particular order. */
  getMessagesByIds(appId: string, ids: readonly string[]): Promise<Message[]>;
  /** Newest first by default. */
  listMessages(appId: string, query: MessageListQuery): Promise<Page<Message>>;
  /** Drop the payload (it reads as null afterwards). False when the message does not exist. */
  expungeMessageContent(appId: string, msgId: string): Promise<boolean>;
  /**
   * Drop the payloads of several messages of the application at once, each named by id or eventId
   * (an id wins over an eventId, as in getMessage). Returns the keys that named a message; the
   * others were not found. One transaction.
   */
  expungeMessageContents(appId: string, keys: string[]): Promise<string[]>;
  /**
   * Drop payloads whose retention has passed, at most `limit` per call (rows another process is
   * working on are skipped, so cleanup never waits on deliveries). Returns how many.
   */
  expireMessagePayloads(now: Date, limit: number): Promise<number>;
  /**
   * Delete attempts recorded before `before`, at most `limit` per call, skipping locked rows.
   * Returns how many. Messages and deliveries stay (their state is still shown).
   */
  pruneAttempts(before: Date, limit: number): Promise<number>;
  /** Endpoints this message was queued for, each with its latest delivery; ordered by endpoint id. */
  listMessageDestinations(appId: string, msgId: string, query: ListQuery): Promise<Page<MessageDestination>>;
  /** Messages queued for this endpoint, each with its latest delivery; newest first. */
  listAttemptedMessages(appId: string, endpointId: string, query: MessageListQuery): Promise<Page<AttemptedMessage>>;

  // Queue -----------------------------------------------------------------------------------
  /** Queue a manual delivery (resend) of one message to one endpoint, due now. */
  createManualDelivery(input: { deliveryId: string; appId: string; msgId: string; endpointId: string; now: Date }): Promise<Delivery>;
  /**
   * Queue a manual delivery for every message whose latest delivery to this endpoint failed or was
   * canceled and which was created in [since, until). Returns how many were queued.
   */
  recoverFailedDeliveries(input: { appId: string; endpointId: string; since: Date; until: Date; now: Date }): Promise<number>;
  /**
   * Lease up to `limit` deliveries that are due (status pending or sending, nextAttemptAt ≤ now,
   * lease free or expired), oldest due first, until `now + leaseMs`; each claim increments nothing
   * (the attempt count moves in completeAttempt). Concurrent callers never get the same delivery.
   *
   * Endpoint limits hold across every process sharing the store: an endpoint never has more leased
   * deliveries than its concurrency limit (its own, else `input.endpointConcurrency`), and attempts
   * start no faster than its throttleRate allows. Due deliveries of an endpoint at its limit are
   * parked (see {@link Delivery.nextAttemptAt}) and taken first, oldest first, once it has room.
   * At most `maxRetries` of the claimed deliveries are retries (attemptCount > 0).
   */
  claimDueDeliveries(input: ClaimDeliveriesInput): Promise<DeliveryJob[]>;
  /**
   * In one transaction: insert the attempt, increment the delivery's attempt count, set its status
   * and next due time from `outcome`, clear the lease, track the endpoint's health (`health`,
   * `disableEndpoint`, `autoDisableFailingSince`) and queue the given messages.
   * On success, older deliveries of the same message to the same endpoint that are waiting to
   * retry (not leased) end as success without an attempt: a resend that got through makes the
   * scheduled retries of that message pointless.
   */
  completeAttempt(input: CompleteAttemptInput): Promise<CompleteAttemptResult>;
  /**
   * Extend (or give back, with `lockedUntil: null`) leases a worker still holds: each delivery whose
   * lease is still exactly the one given, and which still waits for an attempt. Returns the ids
   * renewed; a lease that ran out and was claimed again, or a delivery finished meanwhile, is not
   * (the worker must then drop it).
   */
  renewLeases(input: RenewLeasesInput): Promise<string[]>;
  /**
   * When the next delivery becomes claimable: the earliest max(nextAttemptAt, lockedUntil) among
   * deliveries waiting to run (a leased one is claimable again when its lease ends); null when none.
   * A parked delivery counts from when its endpoint may start another attempt without any attempt
   * in flight finishing first: its throttle allows one, and it has a free slot or, when not, its
   * first lease ends. Without `input` (no time to judge leases by), parked ones count as due.
   */
  nextDueAt(input?: NextDueInput): Promise<Date | null>;
  /**
   * The queue for /metrics: deliveries waiting for an attempt and not leased (`pending`), how many
   * of those are due at `now`, and the due time of the oldest due one.
   */
  queueSnapshot(now: Date): Promise<{ pending: number; due: number; oldestDueAt: Date | null }>;
  /**
   * An endpoint's FIFO line (docs/fifo.md): its head (the lowest-placed one, if turning fifo off and
   * on again left several) and how many deliveries are held behind it.
   */
  getFifoLine(endpointId: string): Promise<FifoLine>;
  /** For /metrics: live FIFO endpoints whose head has failed at least once and waits for a retry. */
  countBlockedFifoEndpoints(): Promise<number>;
  getDelivery(id: string): Promise<Delivery | null>;

  // Attempts and stats ----------------------------------------------------------------------
  /** Newest first. */
  listAttempts(appId: string, query: AttemptListQuery): Promise<Page<Attempt>>;
  getAttempt(appId: string, msgId: string, attemptId: string): Promise<Attempt | null>;
  /**
   * Replace the stored response body of one attempt of this message with `EXPUNGED` (what Svix
   * stores). False when there is no such attempt.
   */
  expungeAttemptContent(appId: string, msgId: string, attemptId: string): Promise<boolean>;
  /** Counts of this endpoint's deliveries by status (latest delivery per message), for messages created in [since, until). */
  getEndpointStats(appId: string, endpointId: string, since: Date, until: Date): Promise<EndpointStats>;

  // Auth and idempotency --------------------------------------------------------------------
  /** Store a token by its hash (the token itself is never stored), with its scope. */
  createToken(input: NewToken): Promise<void>;
  /** The token with this hash, if it exists and has neither expired nor been revoked at `now`. */
  findToken(tokenHash: string, now: Date): Promise<StoredToken | null>;
  /** True when an admin token (appId null) has been stored and not revoked. */
  hasAdminToken(): Promise<boolean>;
  /** One application's tokens (or with `appId` null, the stored admin tokens) live at `now`, newest first, at most `limit`. */
  listTokens(query: { appId: string | null; now: Date; limit: number }): Promise<StoredToken[]>;
  /**
   * Revoke the tokens the filters match from `at` on (a token already revoked earlier keeps its
   * earlier time). Returns how many changed.
   */
  revokeTokens(input: TokenRevocation): Promise<number>;

  // Integrations ----------------------------------------------------------------------------
  // An integration's key is an app-scoped token row (never expiring, every capability, the
  // integration's feature flags) that names the integration: revokeTokens and listTokens leave such
  // rows alone; only rotating the key or deleting the integration (or its application) ends them.
  /** Insert the integration (its key sealed) and its key's token row, in one transaction. */
  createIntegration(integration: Integration, token: IntegrationKeyToken): Promise<Integration>;
  getIntegration(appId: string, id: string): Promise<Integration | null>;
  /** Newest first by default. */
  listIntegrations(appId: string, query: ListQuery): Promise<Page<Integration>>;
  /** New name and feature flags (the key's token gets the flags too); null when it does not exist. */
  updateIntegration(input: { appId: string; id: string; name: string; featureFlags: string[]; updatedAt: Date }): Promise<Integration | null>;
  /** Replace the key: the old token row is deleted and `token` inserted, in one transaction; null when it does not exist. */
  rotateIntegrationKey(input: { appId: string; id: string; key: string; token: IntegrationKeyToken; updatedAt: Date }): Promise<Integration | null>;
  /** Delete the integration and its key's token row. False when it did not exist. */
  deleteIntegration(appId: string, id: string): Promise<boolean>;
  /** As {@link Store.resealEndpoints}, for the sealed keys of integrations. */
  resealIntegrationKeys(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }>;

  // Ingest sources --------------------------------------------------------------------------
  // A source owns one application (appId) whose endpoints are its ingest endpoints; config and token
  // are sealed at rest, token_hash finds the source from an ingest URL.
  /** Insert the source (config and token sealed, `tokenHash` for lookups). Conflict on a taken uid. */
  createIngestSource(source: IngestSource, tokenHash: string): Promise<IngestSource>;
  /** By id or uid. */
  getIngestSource(idOrUid: string): Promise<IngestSource | null>;
  /** The source whose current token hashes to `tokenHash`, or whose previous one does and has not expired at `now`. */
  findIngestSourceByToken(tokenHash: string, now: Date): Promise<IngestSource | null>;
  /** Oldest first by default. */
  listIngestSources(query: ListQuery): Promise<Page<IngestSource>>;
  /** Replace name, uid, type, config and metadata; null when it does not exist. Conflict on a taken uid. */
  updateIngestSource(input: IngestSourceUpdate): Promise<IngestSource | null>;
  /** New token; the current one becomes the previous one, honoured until `previousExpiresAt`. Null when it does not exist. */
  rotateIngestSourceToken(input: IngestTokenRotation): Promise<IngestSource | null>;
  /** Delete the source row (its application is deleted by the caller). False when it did not exist. */
  deleteIngestSource(id: string): Promise<boolean>;
  /** As {@link Store.resealEndpoints}, for the sealed config and token of ingest sources. */
  resealIngestSources(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }>;
  // Listen sessions ------------------------------------------------------------------------
  // A `tapwire listen` session and its endpoint (see domain/listen.ts). Deleting the endpoint or
  // the application deletes the session row with it.
  /**
   * Insert the session, or replace every field of the one with its id except createdAt (a CLI
   * reattaching after a reconnect). Returns it as stored.
   */
  saveListenSession(session: ListenSession): Promise<ListenSession>;
  getListenSession(id: string): Promise<ListenSession | null>;
  /** Newest first, at most `limit`; only those of `appId` when given. */
  listListenSessions(query: { appId?: string | null; limit: number }): Promise<ListenSession[]>;
  /** Heartbeat: lastSeenAt = now and detachedAt = null for each of `ids` that exists. */
  touchListenSessions(input: { ids: string[]; now: Date }): Promise<void>;
  /** The socket closed: detachedAt = now (lastSeenAt too). False when it does not exist. */
  markListenSessionDetached(input: { id: string; now: Date }): Promise<boolean>;
  /** Sessions last seen before `lastSeenBefore` (vanished), oldest first, at most `limit`. */
  listExpiredListenSessions(input: { lastSeenBefore: Date; limit: number }): Promise<ListenSession[]>;
  /** Delete the session row only (its endpoint is deleted by the caller). False when it did not exist. */
  deleteListenSession(id: string): Promise<boolean>;

  /** The cached 2xx response for this key, if any and not expired. */
  getIdempotentResponse(keyHash: string, now: Date): Promise<IdempotentResponse | null>;
  /** Cache the first 2xx response for this key; a later save for the same key keeps the first. */
  saveIdempotentResponse(keyHash: string, response: IdempotentResponse, expiresAt: Date): Promise<void>;
  /** Delete expired idempotency entries, at most `limit`. */
  pruneIdempotency(now: Date, limit: number): Promise<number>;

  // Background tasks ------------------------------------------------------------------------
  /**
   * Insert a task. With `lease`, the calling process holds it from the start (it runs the task
   * itself); without, any process's {@link Store.claimBackgroundTasks} may take it.
   */
  createBackgroundTask(task: BackgroundTask, lease?: BackgroundTaskLease | null): Promise<BackgroundTask>;
  getBackgroundTask(id: string): Promise<BackgroundTask | null>;
  /** Newest first by default; only one application's with `appId`. */
  listBackgroundTasks(query: BackgroundTaskListQuery): Promise<Page<BackgroundTask>>;
  /**
   * Lease up to `limit` running tasks whose lease is free or expired (left by a process that
   * stopped), oldest first, until `now + leaseMs`. Concurrent callers never get the same task.
   */
  claimBackgroundTasks(input: { now: Date; leaseOwner: string; leaseMs: number; limit: number }): Promise<BackgroundTask[]>;
  /**
   * One batch of an `endpoint.replay` task, in one transaction: the next `limit` messages of the
   * window after the task's cursor (by id), one manual delivery due `now` for each that has no
   * delivery to the endpoint, is accepted by the endpoint's current filters (the fan-out rule of
   * {@link Store.createMessage}) and still has its payload; then the progress, the cursor and the
   * lease (`now + leaseMs`) are saved, and the task finishes when the batch was not full. A batch
   * run twice queues nothing twice: "has no delivery" is checked in the same transaction. If the
   * endpoint was deleted or disabled meanwhile the task fails instead. Null (and nothing done)
   * when the task is not running or `leaseOwner` no longer holds it.
   */
  runReplayMissingBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null>;
  /**
   * One batch of an `endpoint.bulk-replay` task, in one transaction: the next `limit` messages of
   * the window after the cursor (by id) that have a delivery to the endpoint, and one manual
   * delivery due `now` for each that matches the task's filters (event types, channel, status of the
   * latest delivery, status code class of the latest attempt) and still has its payload. Progress,
   * cursor and lease as in {@link Store.runReplayMissingBatch}; the task fails when the endpoint was
   * deleted or disabled meanwhile. Null (nothing done) when the task is not running or
   * `leaseOwner` does not hold it.
   */
  runBulkReplayBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null>;
  /**
   * One batch of an `application.purge_content` task, in one transaction: the payloads of the next
   * `limit` messages of the application after the cursor (by id) created up to the task's `until`
   * are dropped, as {@link Store.expungeMessageContent} drops one. Null as for the other batches;
   * `queued` is always 0.
   */
  runPurgeContentBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null>;
  /**
   * Give up `leaseOwner`'s lease of a running task: it stays running and any process may resume it
   * at once, or with `error` it ends as failed with `data.error` set. False when that owner did not
   * hold a running task of this id.
   */
  releaseBackgroundTask(input: { id: string; leaseOwner: string; now: Date; error?: string | null }): Promise<boolean>;
  /**
   * End a running task `leaseOwner` holds as finished, with `data` merged into its data (a task
   * done in one step, such as `endpoint.recover`). Null (and nothing changed) when that owner does
   * not hold a running task of this id.
   */
  finishBackgroundTask(input: { id: string; leaseOwner: string; now: Date; data: Record<string, unknown> }): Promise<BackgroundTask | null>;
  /**
   * Save the progress of a running task `leaseOwner` holds (status, data, cursor, updatedAt as
   * given), renewing the lease until `now + leaseMs` while it stays running and freeing it once it
   * ends. Null (and nothing saved) when the task is not running or that owner no longer holds it.
   * For tasks whose batches only read (the statistics), so no write lock is held while they read.
   */
  saveBackgroundTaskProgress(input: { task: BackgroundTask; leaseOwner: string; now: Date; leaseMs: number }): Promise<BackgroundTask | null>;
  /**
   * What the next applications used in [since, until), for an `application.stats` task: up to
   * `limit` applications by id after `afterAppId` (only those in `appIds` unless null), each with
   * its messages created in the window, the distinct (message, endpoint) pairs those messages
   * were queued for, and the attempts made in the window. Reads only.
   */
  countApplicationUsage(input: ApplicationUsageInput): Promise<AppUsageStat[]>;
  /**
   * The event-type filters of the live endpoints of the next `limit` applications by id after
   * `afterAppId`, for an `event-type.aggregate` task (an application without endpoints has none).
   * Reads only.
   */
  listApplicationEndpointFilters(input: { afterAppId: string | null; limit: number }): Promise<AppEndpointFilters[]>;

  // Operator health (the dashboard) -----------------------------------------------------------
  /**
   * Attempts made in [since, until), counted by outcome per `bucketMs`-long bucket counted from
   * `since`, ascending; buckets without attempts are left out. Only one application's or one
   * endpoint's with `appId` / `endpointId`. Reads an index range of the window only.
   */
  countAttemptsOverTime(input: AttemptCountsInput): Promise<AttemptBucket[]>;
  /**
   * Live endpoints in trouble, at most `limit` of each kind: enabled ones failing right now
   * (failingSince set), longest failing first, and disabled ones, most recently changed first.
   */
  listUnhealthyEndpoints(limit: number): Promise<{ failing: Endpoint[]; disabled: Endpoint[] }>;
  /** The endpoints whose attempts in [since, until) took longest on average, slowest first, at most `limit`. */
  listSlowestEndpoints(input: { since: Date; until: Date; limit: number }): Promise<EndpointLatency[]>;
}

/** Input of {@link Store.countAttemptsOverTime}. */
export interface AttemptCountsInput {
  since: Date;
  until: Date;
  /** Bucket width; bucket `i` covers [since + i × bucketMs, since + (i + 1) × bucketMs). */
  bucketMs: number;
  appId?: string | null;
  /** Requires `appId`. */
  endpointId?: string | null;
}

/** Attempts of one time bucket by outcome. */
export interface AttemptBucket {
  /** Index of the bucket from `since` (0 = the first). */
  index: number;
  success: number;
  fail: number;
}

/** How long one endpoint's attempts took in a window. */
export interface EndpointLatency {
  endpointId: string;
  appId: string;
  attempts: number;
  avgDurationMs: number;
  maxDurationMs: number;
}

// Background tasks --------------------------------------------------------------------------

/** Which process runs a task, and until when its claim holds. */
export interface BackgroundTaskLease {
  owner: string;
  until: Date;
}

export interface BackgroundTaskListQuery extends ListQuery {
  /** Only this application's tasks (app-scoped tokens); null = all. */
  appId?: string | null;
  status?: BackgroundTaskStatus | null;
  task?: BackgroundTaskKind | null;
}

/** Input of {@link Store.countApplicationUsage}. */
export interface ApplicationUsageInput {
  afterAppId: string | null;
  /** Only these applications (ids); null = every application. */
  appIds: string[] | null;
  since: Date;
  until: Date;
  limit: number;
}

/** Input of {@link Store.runReplayMissingBatch}. */
export interface ReplayMissingBatchInput {
  taskId: string;
  leaseOwner: string;
  now: Date;
  leaseMs: number;
  limit: number;
}
