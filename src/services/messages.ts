// Use cases for messages: accept (with fan-out in the same transaction), an example sent to one
// endpoint, read, expunge, resend, and the per-destination views. A 202 from createMessage means
// the message and its deliveries are committed.
import { newId } from '../domain/ids.js';
import type { Attempt, Message } from '../domain/types.js';
import { seesFeatures } from '../domain/token-scopes.js';
import { TapwireError, notFound, validationError } from '../errors/tapwire-error.js';
import type { AttemptListQuery, AttemptedMessage, ListQuery, MessageDestination, MessageListQuery, Page } from '../storage/store.js';
import { checkUid, createApplication, getApplication, type ApplicationInput } from './applications.js';
import type { ServiceContext } from './context.js';
import { getEndpoint } from './endpoints.js';
import { lookUpApplication } from './lookup-cache.js';

export interface MessageInput {
  eventType: string;
  /** The payload's JSON text exactly as submitted (or the rawPayload string). */
  payloadRaw: string;
  eventId?: string | null;
  channels?: string[] | null;
  /** Payload retention in days (5..90, default 90). */
  payloadRetentionPeriod?: number | null;
  /** Payload retention in hours; wins over days when both are given. */
  payloadRetentionHours?: number | null;
  /** Create the application on the fly when the path names an unknown uid. */
  application?: ApplicationInput | null;
  /** Free-form labels the lists filter by (validated by the API: at most 5, unique). */
  tags?: string[] | null;
  /** Scheduled delivery: see DELIVER_AT_MIN_AHEAD_MS and DELIVER_AT_MAX_AHEAD_MS for its bounds. */
  deliverAt?: Date | null;
  /** The Content-Type to deliver the payload with (a raw payload's); null: application/json. */
  contentType?: string | null;
  /** Headers delivered with the payload (an ingested event's provider headers; never from the API). */
  forwardHeaders?: Record<string, string> | null;
}

const DEFAULT_RETENTION_DAYS = 90;

/** A deliverAt must be at least this far ahead of the server's clock (as Svix documents: one minute)… */
export const DELIVER_AT_MIN_AHEAD_MS = 60_000;
/** …and at most this far (24 hours). */
export const DELIVER_AT_MAX_AHEAD_MS = 24 * 3_600_000;
/**
 * Allowance on both bounds for the sender's clock and the request's transit: a sender computing
 * "now + 1 minute" on its own clock is not refused because the request took a few milliseconds.
 */
export const DELIVER_AT_SKEW_MS = 5_000;

/** Accept a message: store it and queue one delivery per matching endpoint, atomically. */
export async function createMessage(
  ctx: ServiceContext,
  appIdOrUid: string,
  input: MessageInput,
  options: { onlyEndpointId?: string; providerEventId?: boolean } = {},
): Promise<Message> {
  let app = await lookUpApplication(ctx, appIdOrUid);
  if (!app) {
    if (!input.application) throw notFound('Application');
    if (appIdOrUid.startsWith('app_')) throw notFound('Application');
    if (input.application.uid && input.application.uid !== appIdOrUid) {
      throw validationError(['body', 'application', 'uid'], 'application.uid must equal the uid in the path');
    }
    app = (await createApplication(ctx, { ...input.application, uid: appIdOrUid }, { getIfExists: true })).app;
  }
  // An ingested event keeps its provider's id as eventId whatever it looks like (a Standard Webhooks
  // sender's `webhook-id` is often `msg_…`): the client did not choose it.
  if (!options.providerEventId) checkUid(input.eventId, 'msg');
  const now = ctx.clock.now();
  if (input.payloadRetentionHours != null && input.payloadRetentionPeriod != null) {
    // Svix's two ways of saying how long the payload is kept exclude each other.
    throw validationError(['body', 'payloadRetentionHours'], 'payloadRetentionHours and payloadRetentionPeriod exclude each other; give one', 'value_error');
  }
  const deliverAt = input.deliverAt ?? null;
  if (deliverAt) checkDeliverAt(deliverAt, now);
  const retentionMs = input.payloadRetentionHours
    ? input.payloadRetentionHours * 3600_000
    : (input.payloadRetentionPeriod ?? DEFAULT_RETENTION_DAYS) * 86_400_000;
  // A scheduled message's retention counts from its delivery time, so it cannot expire unsent.
  const retentionFrom = deliverAt ?? now;
  const tags = input.tags && input.tags.length > 0 ? [...new Set(input.tags)] : null;
  const message: Message = {
    id: newId('msg', now.getTime()),
    appId: app.id,
    eventId: input.eventId ?? null,
    eventType: input.eventType,
    payload: input.payloadRaw,
    channels: input.channels && input.channels.length > 0 ? input.channels : null,
    createdAt: now,
    payloadExpiresAt: new Date(retentionFrom.getTime() + retentionMs),
    ...(tags ? { tags } : {}),
    ...(deliverAt ? { deliverAt } : {}),
    ...(input.contentType ? { contentType: input.contentType } : {}),
    ...(input.forwardHeaders && Object.keys(input.forwardHeaders).length > 0 ? { forwardHeaders: input.forwardHeaders } : {}),
  };
  const created = await ctx.store.createMessage(message, now, {
    ...(options.onlyEndpointId ? { endpointIds: [options.onlyEndpointId] } : {}),
    // A scheduled message's deliveries wait for their time: the worker is not offered them.
    handoff: deliverAt ? null : (ctx.deliveryHandoff?.() ?? null),
  });
  if (created.handedOff.length > 0) ctx.adoptDeliveries?.(created.handedOff);
  if (created.deliveries.length > created.handedOff.length) ctx.notifyDeliveriesQueued();
  return created.message;
}

/** 422 unless `deliverAt` lies between one minute and 24 hours after `now` (give or take DELIVER_AT_SKEW_MS). */
function checkDeliverAt(deliverAt: Date, now: Date): void {
  const aheadMs = deliverAt.getTime() - now.getTime();
  if (aheadMs < DELIVER_AT_MIN_AHEAD_MS - DELIVER_AT_SKEW_MS) {
    throw validationError(['body', 'deliverAt'], 'deliverAt must be at least one minute in the future', 'value_error');
  }
  if (aheadMs > DELIVER_AT_MAX_AHEAD_MS + DELIVER_AT_SKEW_MS) {
    throw validationError(['body', 'deliverAt'], 'deliverAt must be no more than 24 hours in the future', 'value_error');
  }
}

/**
 * Send an example of an event type to this one endpoint. `svix.ping` sends `{"success": true}`;
 * other types use an example of their newest schema version that has one: `examples[exampleIndex]`
 * (default the first), or its single `example`, where the index is ignored as Svix ignores it
 * without an array of examples. An index past the end of `examples` is a 422 naming exampleIndex.
 * With `featureFlags` (a portal token's), a type behind another flag is not found.
 */
export async function sendExample(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  eventType: string,
  options: { exampleIndex?: number; featureFlags?: readonly string[] | null } = {},
) {
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  let payload: string;
  if (eventType === 'svix.ping') {
    payload = '{"success": true}';
  } else {
    const type = await ctx.store.getEventType(eventType);
    if (!type || !seesFeatures(type.featureFlags, options.featureFlags ?? null)) throw notFound('Event type');
    const found = findExamples(type.schemas);
    if (found === undefined) {
      throw new TapwireError('invalid_scheme', { detail: `Event type '${eventType}' has no example in its schema` });
    }
    const index = options.exampleIndex ?? 0;
    let example: unknown;
    if (Array.isArray(found)) {
      if (index >= found.length) {
        throw validationError(['body', 'exampleIndex'], `exampleIndex must be less than ${found.length}, the number of examples of '${eventType}'`, 'value_error.number.not_lt');
      }
      example = found[index];
    } else {
      example = found.example;
    }
    payload = JSON.stringify(example);
  }
  return createMessage(ctx, endpoint.appId, { eventType, payloadRaw: payload }, { onlyEndpointId: endpoint.id });
}

/**
 * The examples of the newest schema version that has any: its `examples` array, or `{example}`
 * when it has a single `example` only; undefined when no version has one.
 */
function findExamples(schemas: Record<string, unknown> | null): unknown[] | { example: unknown } | undefined {
  if (!schemas) return undefined;
  const versions = Object.keys(schemas).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const schema = schemas[version] as { examples?: unknown[]; example?: unknown } | null;
    if (schema && Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples;
    if (schema && schema.example !== undefined) return { example: schema.example };
  }
  return undefined;
}

export async function getMessage(ctx: ServiceContext, appIdOrUid: string, msgIdOrEventId: string): Promise<Message> {
  const app = await getApplication(ctx, appIdOrUid);
  const message = await ctx.store.getMessage(app.id, msgIdOrEventId);
  if (!message) throw notFound('Message');
  return message;
}

export async function listMessages(ctx: ServiceContext, appIdOrUid: string, query: MessageListQuery): Promise<Page<Message>> {
  const app = await getApplication(ctx, appIdOrUid);
  return ctx.store.listMessages(app.id, query);
}

export async function expungeMessageContent(ctx: ServiceContext, appIdOrUid: string, msgIdOrEventId: string): Promise<void> {
  const message = await getMessage(ctx, appIdOrUid, msgIdOrEventId);
  await ctx.store.expungeMessageContent(message.appId, message.id);
}

export async function listMessageDestinations(
  ctx: ServiceContext,
  appIdOrUid: string,
  msgIdOrEventId: string,
  query: ListQuery,
): Promise<Page<MessageDestination>> {
  const message = await getMessage(ctx, appIdOrUid, msgIdOrEventId);
  return ctx.store.listMessageDestinations(message.appId, message.id, query);
}

/** Queue one manual attempt of this message to this endpoint (never retried). */
export async function resendMessage(ctx: ServiceContext, appIdOrUid: string, msgIdOrEventId: string, endpointIdOrUid: string): Promise<void> {
  const message = await getMessage(ctx, appIdOrUid, msgIdOrEventId);
  const endpoint = await getEndpoint(ctx, message.appId, endpointIdOrUid);
  if (message.payload === null) throw new TapwireError('missing_payload');
  if (endpoint.disabled) {
    throw new TapwireError('generic_error', { detail: 'The endpoint is disabled; enable it before resending' });
  }
  const now = ctx.clock.now();
  await ctx.store.createManualDelivery({ deliveryId: newId('msgep', now.getTime()), appId: message.appId, msgId: message.id, endpointId: endpoint.id, now });
  ctx.notifyDeliveriesQueued();
}

export async function listAttemptedMessages(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  query: MessageListQuery & { status?: AttemptListQuery['status'] },
): Promise<Page<AttemptedMessage>> {
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  return ctx.store.listAttemptedMessages(endpoint.appId, endpoint.id, query);
}

/** The messages of these attempts (without payloads), by id: `with_msg=true` on the attempt lists. */
export async function messagesOfAttempts(ctx: ServiceContext, attempts: readonly Attempt[]): Promise<Map<string, Message>> {
  const appId = attempts[0]?.appId;
  if (appId === undefined) return new Map();
  const found = await ctx.store.getMessagesByIds(appId, attempts.map((a) => a.msgId));
  return new Map(found.map((m) => [m.id, m]));
}

export async function listAttemptsByMessage(
  ctx: ServiceContext,
  appIdOrUid: string,
  msgIdOrEventId: string,
  query: AttemptListQuery,
): Promise<Page<Attempt>> {
  const message = await getMessage(ctx, appIdOrUid, msgIdOrEventId);
  let endpointId = query.endpointId ?? null;
  if (endpointId) {
    const endpoint = await ctx.store.getEndpoint(message.appId, endpointId);
    endpointId = endpoint ? endpoint.id : endpointId;
  }
  return ctx.store.listAttempts(message.appId, { ...query, msgId: message.id, endpointId });
}

export async function listAttemptsByEndpoint(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  query: AttemptListQuery,
): Promise<Page<Attempt>> {
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  return ctx.store.listAttempts(endpoint.appId, { ...query, endpointId: endpoint.id });
}

export async function getAttempt(ctx: ServiceContext, appIdOrUid: string, msgIdOrEventId: string, attemptId: string): Promise<Attempt> {
  const message = await getMessage(ctx, appIdOrUid, msgIdOrEventId);
  const attempt = await ctx.store.getAttempt(message.appId, message.id, attemptId);
  if (!attempt) throw notFound('Message attempt');
  return attempt;
}

/**
 * Message precheck: whether a message of this event type and channels, sent now, would reach at
 * least one endpoint (live, enabled, and matched by fan-out's filters). Nothing is stored.
 */
export async function precheckMessage(ctx: ServiceContext, appIdOrUid: string, input: { eventType: string; channels?: string[] | null }): Promise<boolean> {
  const app = await getApplication(ctx, appIdOrUid);
  const channels = input.channels && input.channels.length > 0 ? input.channels : null;
  return ctx.store.hasActiveEndpointFor(app.id, input.eventType, channels);
}

/** Messages whose payloads one transaction of bulk expunge drops at most. */
const BULK_EXPUNGE_CHUNK = 500;

/** How bulk expunge answers for each key: Svix's BulkExpungeStatus. */
export type BulkExpungeStatus = 'expunged' | 'not-found';

/**
 * Drop the payloads of the messages named by id or eventId, as DELETE …/msg/{id}/content does for
 * one (deliveries still pending send nothing). Answers each key as given: `expunged`, or
 * `not-found` when it names no message of the application. Keys are handled in transactions of
 * 500; a key that was expunged before reads `expunged` again.
 */
export async function bulkExpungeContents(ctx: ServiceContext, appIdOrUid: string, keys: string[]): Promise<Record<string, BulkExpungeStatus>> {
  const app = await getApplication(ctx, appIdOrUid);
  // A Map, then own properties: a key may be any uid, `__proto__` included.
  const results = new Map<string, BulkExpungeStatus>();
  for (let start = 0; start < keys.length; start += BULK_EXPUNGE_CHUNK) {
    const chunk = keys.slice(start, start + BULK_EXPUNGE_CHUNK);
    const found = new Set(await ctx.store.expungeMessageContents(app.id, chunk));
    for (const key of chunk) results.set(key, found.has(key) ? 'expunged' : 'not-found');
  }
  return Object.fromEntries(results);
}

/** Replace one attempt's stored response body with `EXPUNGED` (the endpoint answered something sensitive). */
export async function expungeAttemptContent(ctx: ServiceContext, appIdOrUid: string, msgIdOrEventId: string, attemptId: string): Promise<void> {
  const message = await getMessage(ctx, appIdOrUid, msgIdOrEventId);
  if (!(await ctx.store.expungeAttemptContent(message.appId, message.id, attemptId))) throw notFound('Message attempt');
}
