// Use cases for ingest sources (Svix's Ingest API): webhooks from a provider (Stripe, GitHub, Shopify,
// Slack, a Standard Webhooks sender or anything else) received at the source's ingest URL, verified
// with `tapwire/receiver`'s scheme for the provider, kept as messages of the source's own application
// and delivered to the source's ingest endpoints, which are ordinary endpoints of that application:
// signing, retries, the attempt log, replay, the dashboard and metrics are the outgoing ones.
import { randomBytes } from 'node:crypto';
import { newId } from '../domain/ids.js';
import { INGEST_SOURCE_TYPES, type IngestSource, type IngestSourceConfig, type IngestSourceType } from '../domain/ingest.js';
import type { Endpoint, Message } from '../domain/types.js';
import { TapwireError, notFound, validationError } from '../errors/tapwire-error.js';
import { WebhookVerificationError } from '../receiver/errors.js';
import { github } from '../receiver/schemes/github.js';
import { shopify } from '../receiver/schemes/shopify.js';
import { slack } from '../receiver/schemes/slack.js';
import { standardWebhooks } from '../receiver/schemes/standard-webhooks.js';
import { stripe } from '../receiver/schemes/stripe.js';
import type { Verifier, VerifiedWebhook } from '../receiver/types.js';
import { normalizeHeaders } from '../receiver/core.js';
import type { ListQuery, Page } from '../storage/store.js';
import { createApplication, deleteApplication, isConflict } from './applications.js';
import { createAppToken, hashToken } from './auth.js';
import type { ServiceContext } from './context.js';
import * as endpoints from './endpoints.js';
import { createMessage } from './messages.js';

/** The path an ingest URL's token follows (the URL is TAPWIRE_PUBLIC_URL + this + token). */
export const INGEST_PATH = '/ingest/in/';
/** After a token rotation the previous token is still accepted this long (as Svix documents: 48 hours). */
export const PREVIOUS_TOKEN_GRACE_MS = 48 * 3_600_000;
/** The header a generic-webhook source dedupes on when the sender gives it (the Standard Webhooks id header). */
export const GENERIC_ID_HEADER = 'webhook-id';

/**
 * The provider headers an ingested event is delivered with, by source type, under their own
 * (lower-cased) names: what a handler written for the provider reads besides the body (event type,
 * delivery id, shop, retry count). Signature headers are never forwarded: the forwarded request is
 * signed by Tapwire (webhook-signature) with the ingest endpoint's secret, and the provider's
 * signature would only let a handler check a secret it should not need. Standard Webhooks senders
 * (`svix`) and generic sources forward none: their `webhook-*` names are Tapwire's own.
 */
export const FORWARDED_HEADERS: Readonly<Record<IngestSourceType, readonly string[]>> = {
  'generic-webhook': [],
  svix: [],
  stripe: [],
  github: ['x-github-event', 'x-github-delivery', 'x-github-hook-id', 'x-github-hook-installation-target-id', 'x-github-hook-installation-target-type'],
  shopify: ['x-shopify-topic', 'x-shopify-webhook-id', 'x-shopify-shop-domain', 'x-shopify-api-version', 'x-shopify-event-id', 'x-shopify-triggered-at'],
  slack: ['x-slack-retry-num', 'x-slack-retry-reason'],
};

/** What a client sets on a source (Svix's IngestSourceIn). */
export interface IngestSourceInput {
  name: string;
  uid?: string | null;
  type: string;
  config?: Record<string, unknown> | null;
  metadata?: Record<string, string>;
}

/** A new URL token: 32 random bytes, base64url (unguessable, safe in a path). */
function generateIngestToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The URL a provider is given for this source. */
export function ingestUrlOf(ctx: ServiceContext, source: Pick<IngestSource, 'token'>): string {
  return `${ctx.config.publicUrl.replace(/\/+$/, '')}${INGEST_PATH}${source.token}`;
}

/** The provider's signature check for a source, or null for a source that verifies nothing. */
export function verifierOf(type: IngestSourceType, config: IngestSourceConfig, maxBodyBytes: number, now?: () => number): Verifier | null {
  const secret = config.secret ?? null;
  const common = { maxBodyBytes, ...(now ? { now } : {}) };
  switch (type) {
    case 'generic-webhook':
      return null;
    case 'github':
      return secret ? github({ secret, ...common }) : null;
    case 'svix':
      return standardWebhooks({ secret: secret!, ...common });
    case 'stripe':
      return stripe({ secret: secret!, ...common });
    case 'shopify':
      return shopify({ secret: secret!, ...common });
    case 'slack':
      return slack({ secret: secret!, ...common });
  }
}

/** 422 unless the type is one Tapwire verifies and its config carries what Svix's config of that type requires. */
function checkSourceInput(ctx: ServiceContext, input: IngestSourceInput): { type: IngestSourceType; config: IngestSourceConfig } {
  if (!(INGEST_SOURCE_TYPES as readonly string[]).includes(input.type)) {
    throw validationError(['body', 'type'], `type '${input.type}' is not supported; Tapwire verifies ${INGEST_SOURCE_TYPES.join(', ')}`, 'value_error.not_supported');
  }
  const type = input.type as IngestSourceType;
  const given = input.config ?? {};
  const secretValue = given['secret'];
  if (secretValue !== undefined && secretValue !== null && typeof secretValue !== 'string') {
    throw validationError(['body', 'config', 'secret'], 'secret must be a string', 'type_error.str');
  }
  const secret = typeof secretValue === 'string' && secretValue.length > 0 ? secretValue : null;
  if (type === 'generic-webhook') return { type, config: {} };
  if (type === 'github') {
    const config = { secret };
    checkVerifier(ctx, type, config);
    return { type, config };
  }
  if (!secret) throw validationError(['body', 'config', 'secret'], `a ${type} source needs config.secret, the provider's signing secret`, 'value_error.missing');
  const config = { secret };
  checkVerifier(ctx, type, config);
  return { type, config };
}

function checkVerifier(ctx: ServiceContext, type: IngestSourceType, config: IngestSourceConfig): void {
  try {
    verifierOf(type, config, ctx.config.maxPayloadBytes);
  } catch (error) {
    throw validationError(['body', 'config', 'secret'], `not a usable ${type} signing secret: ${(error as Error).message}`, 'value_error');
  }
}

export async function listIngestSources(ctx: ServiceContext, query: ListQuery): Promise<Page<IngestSource>> {
  return ctx.store.listIngestSources(query);
}

/**
 * Create a source and its application (uid `ingest-<source id>`, hidden from the application list;
 * its messages and attempts are reachable under /api/v1/app/ingest-<source id>/…).
 */
export async function createIngestSource(ctx: ServiceContext, input: IngestSourceInput): Promise<IngestSource> {
  const { type, config } = checkSourceInput(ctx, input);
  const now = ctx.clock.now();
  const id = newId('src', now.getTime());
  const { app } = await createApplication(ctx, { uid: `ingest-${id}`, name: `Ingest source: ${input.name}` });
  const token = generateIngestToken();
  const source: IngestSource = { id, uid: input.uid ?? null, name: input.name, type, config, metadata: input.metadata ?? {}, appId: app.id, token, createdAt: now, updatedAt: now };
  try {
    const created = await ctx.store.createIngestSource(source, hashToken(token));
    ctx.logger.info({ sourceId: id, appId: app.id, type }, 'ingest source created');
    return created;
  } catch (error) {
    // The uid is taken: the application made for it goes.
    await deleteApplication(ctx, app.id).catch(() => undefined);
    throw error;
  }
}

export async function getIngestSource(ctx: ServiceContext, idOrUid: string): Promise<IngestSource> {
  const source = await ctx.store.getIngestSource(idOrUid);
  if (!source) throw notFound('Ingest source');
  return source;
}

/** PUT: replace name, uid, type, config and metadata (token, application and endpoints stay), or create it with this uid. */
export async function upsertIngestSource(ctx: ServiceContext, idOrUid: string, input: IngestSourceInput): Promise<{ source: IngestSource; created: boolean }> {
  const existing = await ctx.store.getIngestSource(idOrUid);
  if (!existing) {
    if (idOrUid.startsWith('src_')) throw notFound('Ingest source');
    try {
      return { source: await createIngestSource(ctx, { ...input, uid: input.uid ?? idOrUid }), created: true };
    } catch (error) {
      const raced = isConflict(error) ? await ctx.store.getIngestSource(idOrUid) : null;
      if (!raced) throw error;
      return upsertIngestSource(ctx, raced.id, input);
    }
  }
  const { type, config } = checkSourceInput(ctx, input);
  const updated = await ctx.store.updateIngestSource({
    id: existing.id,
    uid: input.uid === undefined ? existing.uid : input.uid,
    name: input.name,
    type,
    config,
    metadata: input.metadata ?? {},
    updatedAt: ctx.clock.now(),
  });
  if (!updated) throw notFound('Ingest source');
  return { source: updated, created: false };
}

/** Delete the source with its application: its endpoints, messages and attempts go too, and its URL answers 404. */
export async function deleteIngestSource(ctx: ServiceContext, idOrUid: string): Promise<void> {
  const source = await getIngestSource(ctx, idOrUid);
  // The application first: its deletion takes the source row along (ON DELETE CASCADE), so no
  // failure in between can leave the application without its source, listed among the others.
  await deleteApplication(ctx, source.appId).catch((error: unknown) => {
    if (!(error instanceof TapwireError && error.code === 'not_found')) throw error;
  });
  await ctx.store.deleteIngestSource(source.id);
  ctx.logger.info({ sourceId: source.id }, 'ingest source deleted');
}

/** New URL token; the previous one is still accepted for PREVIOUS_TOKEN_GRACE_MS. Returns the new ingest URL. */
export async function rotateIngestToken(ctx: ServiceContext, idOrUid: string): Promise<string> {
  const source = await getIngestSource(ctx, idOrUid);
  const now = ctx.clock.now();
  const token = generateIngestToken();
  const rotated = await ctx.store.rotateIngestSourceToken({
    id: source.id,
    token,
    tokenHash: hashToken(token),
    previousExpiresAt: new Date(now.getTime() + PREVIOUS_TOKEN_GRACE_MS),
    updatedAt: now,
  });
  if (!rotated) throw notFound('Ingest source');
  ctx.logger.info({ sourceId: source.id }, 'ingest source token rotated');
  return ingestUrlOf(ctx, rotated);
}

/** Svix's default lifetime of a source's portal token: 7 days. */
export const SOURCE_PORTAL_TTL_SECONDS = 7 * 86_400;

/**
 * A portal link for the source (Svix's ingest dashboard / consumerPortalAccess): a token of the
 * source's application, so the portal shows its events, attempts and ingest endpoints.
 */
export async function sourcePortalAccess(ctx: ServiceContext, idOrUid: string, input: { expiry?: number | null; readOnly?: boolean | null }): Promise<{ url: string; token: string }> {
  const source = await getIngestSource(ctx, idOrUid);
  const { token } = await createAppToken(ctx, source.appId, { ttlMs: (input.expiry ?? SOURCE_PORTAL_TTL_SECONDS) * 1000, scope: { readOnly: input.readOnly ?? false } });
  // The token travels in the fragment, as app-portal-access's does.
  return { url: `${ctx.config.publicUrl.replace(/\/+$/, '')}/portal#token=${token}`, token };
}

// Ingest endpoints: ordinary endpoints of the source's application -------------------------

export async function listIngestEndpoints(ctx: ServiceContext, sourceIdOrUid: string, query: ListQuery): Promise<Page<Endpoint>> {
  return endpoints.listEndpoints(ctx, (await getIngestSource(ctx, sourceIdOrUid)).appId, query);
}

export async function createIngestEndpoint(ctx: ServiceContext, sourceIdOrUid: string, input: endpoints.EndpointInput): Promise<Endpoint> {
  return endpoints.createEndpoint(ctx, (await getIngestSource(ctx, sourceIdOrUid)).appId, input);
}

export async function getIngestEndpoint(ctx: ServiceContext, sourceIdOrUid: string, endpointIdOrUid: string): Promise<Endpoint> {
  return endpoints.getEndpoint(ctx, (await getIngestSource(ctx, sourceIdOrUid)).appId, endpointIdOrUid);
}

export async function upsertIngestEndpoint(ctx: ServiceContext, sourceIdOrUid: string, endpointIdOrUid: string, input: endpoints.EndpointInput): Promise<{ endpoint: Endpoint; created: boolean }> {
  return endpoints.upsertEndpoint(ctx, (await getIngestSource(ctx, sourceIdOrUid)).appId, endpointIdOrUid, input);
}

export async function deleteIngestEndpoint(ctx: ServiceContext, sourceIdOrUid: string, endpointIdOrUid: string): Promise<void> {
  await endpoints.deleteEndpoint(ctx, (await getIngestSource(ctx, sourceIdOrUid)).appId, endpointIdOrUid);
}

export async function rotateIngestEndpointSecret(
  ctx: ServiceContext,
  sourceIdOrUid: string,
  endpointIdOrUid: string,
  input: { key?: string | null; gracePeriodSeconds?: number },
): Promise<void> {
  await endpoints.rotateEndpointSecret(ctx, (await getIngestSource(ctx, sourceIdOrUid)).appId, endpointIdOrUid, input);
}

export async function setIngestEndpointHeaders(ctx: ServiceContext, sourceIdOrUid: string, endpointIdOrUid: string, headers: Record<string, string>): Promise<void> {
  await endpoints.updateEndpointHeaders(ctx, (await getIngestSource(ctx, sourceIdOrUid)).appId, endpointIdOrUid, headers, 'replace');
}

// Receiving --------------------------------------------------------------------------------

/** What the sender is answered. */
export type IngestOutcome =
  | { kind: 'accepted'; message: Message }
  /** The provider's retry of an event already accepted: nothing new is stored. */
  | { kind: 'duplicate'; message: Message | null }
  /** Slack's URL verification handshake: answered with its challenge, nothing stored. */
  | { kind: 'challenge'; challenge: string };

/**
 * Take one request at a source's ingest URL: find the source by token (404), refuse a body over
 * TAPWIRE_MAX_PAYLOAD_BYTES (413), verify the provider's signature from the raw bytes (401, nothing
 * stored), then store the event as a message of the source's application, eventId = the provider's
 * event id (so a retry is a duplicate) and the bytes as its payload with the request's content type,
 * with one delivery per ingest endpoint queued in the same transaction. Forwarding happens later,
 * from the queue: the sender is answered as soon as the message is committed.
 */
export async function receiveIngestEvent(
  ctx: ServiceContext,
  token: string,
  request: { body: Buffer; headers: Record<string, string | string[] | undefined> },
): Promise<IngestOutcome> {
  const now = ctx.clock.now();
  const source = await ctx.store.findIngestSourceByToken(hashToken(token), now);
  if (!source) throw notFound('Ingest source');
  if (request.body.length > ctx.config.maxPayloadBytes) throw new TapwireError('payload_too_large');
  const verifier = verifierOf(source.type, source.config, ctx.config.maxPayloadBytes, () => ctx.clock.now().getTime());
  let verified: VerifiedWebhook | null = null;
  if (verifier) {
    try {
      verified = verifier.verify({ body: request.body, headers: request.headers });
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      // No detail: which check failed would help a forger.
      ctx.logger.info({ sourceId: source.id, reason: error.reason }, 'ingest request refused: signature not verified');
      throw new TapwireError('authentication_failed', { detail: 'Signature verification failed' });
    }
  }
  const headers = verified?.headers ?? normalizeHeaders(request.headers);
  let payload: string;
  try {
    payload = new TextDecoder('utf-8', { fatal: true }).decode(request.body);
  } catch {
    throw validationError(['body'], 'the body is not valid UTF-8 (ingest payloads are stored and forwarded as text)', 'value_error');
  }
  // Unverified (generic-webhook, or github without a secret): the same ids and types, from the headers.
  const unverifiedGithub = !verified && source.type === 'github';
  const eventId = verified ? verified.id : headers[unverifiedGithub ? 'x-github-delivery' : GENERIC_ID_HEADER];
  const eventType = verified?.type ?? (unverifiedGithub ? headers['x-github-event'] : undefined) ?? source.type;
  if (source.type === 'slack' && eventType === 'url_verification') {
    const challenge = verified?.json<{ challenge?: unknown }>().challenge;
    if (typeof challenge === 'string') return { kind: 'challenge', challenge };
  }
  if (eventId) {
    const existing = await ctx.store.getMessage(source.appId, eventId);
    if (existing && existing.eventId === eventId) return { kind: 'duplicate', message: existing };
  }
  try {
    const message = await createMessage(
      ctx,
      source.appId,
      { eventType, payloadRaw: payload, eventId: eventId ?? null, contentType: headers['content-type'] || 'application/octet-stream', forwardHeaders: forwardedHeadersOf(source.type, headers) },
      { providerEventId: true },
    );
    ctx.logger.info({ sourceId: source.id, appId: source.appId, msgId: message.id, eventType }, 'ingest event accepted');
    return { kind: 'accepted', message };
  } catch (error) {
    // The same event arriving twice at once: the second insert clashes on the eventId.
    if (eventId && isConflict(error)) return { kind: 'duplicate', message: await ctx.store.getMessage(source.appId, eventId) };
    throw error;
  }
}

/** The allow-listed provider headers of a request (FORWARDED_HEADERS), as received. */
export function forwardedHeadersOf(type: IngestSourceType, headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS[type]) {
    const value = headers[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}
