// Use cases for endpoints: CRUD, secret and rotation, custom headers, stats, recover. Sending an
// example to one endpoint is a message (messages.ts), which reads endpoints through this module.
import { listenSessionIdOf } from '../domain/listen.js';
import { restingConcurrency, type EndpointConcurrency } from '../delivery/delivery-lanes.js';
import { newId } from '../domain/ids.js';
import type { Application, Endpoint, Message } from '../domain/types.js';
import { customHeaderRefusal } from '../domain/transformation.js';
import { TapwireError, notFound, validationError } from '../errors/tapwire-error.js';
import { checkEndpointUrl } from '../delivery/ssrf-guard.js';
import { SigningError, generateSecret, normalizeSecret, verificationKeyOf } from '../signing/standard-webhooks.js';
import type { EndpointStats, FifoLine, ListQuery, Page, Store } from '../storage/store.js';
import { checkUid, getApplication, isConflict, throttleRateOf } from './applications.js';
import { seesFeatures } from '../domain/token-scopes.js';
import { OPERATIONAL_EVENT_TYPES } from '../operational/operational-events.js';
import type { ServiceContext } from './context.js';

/** Fields a client may set on an endpoint; undefined = not given (aliases already merged). */
export interface EndpointInput {
  url?: string;
  description?: string;
  uid?: string | null;
  disabled?: boolean;
  eventTypes?: string[] | null;
  channels?: string[] | null;
  throttleRate?: number | null;
  /** null = back to the server default (TAPWIRE_ENDPOINT_CONCURRENCY). */
  concurrencyLimit?: number | null;
  /** A FIFO endpoint (docs/fifo.md); absent: false on create, unchanged on PUT and PATCH. */
  fifo?: boolean;
  version?: number;
  metadata?: Record<string, string>;
  secret?: string | null;
  headers?: Record<string, string>;
  /**
   * Not a field: set when an application's (portal) token makes the change, with its feature flags.
   * An event type behind another flag is refused as if it did not exist, and concurrencyLimit may not
   * exceed the worker's slots. Absent: the admin token, not restricted.
   */
  portal?: { featureFlags: readonly string[] };
  /**
   * Not a field: an operational webhook endpoint. Its eventTypes name operational events
   * (endpoint.created…, OPERATIONAL_EVENT_TYPES), not the event-type catalogue.
   */
  operational?: boolean;
}

/** The most an endpoint's metadata may hold, as JSON: it is stored and sent back with every read. */
export const MAX_METADATA_BYTES = 4096;

/** Endpoints resealed per transaction (see resealEndpointSecrets). */
const RESEAL_BATCH = 500;

/**
 * Seal every endpoint's secrets and header values, and every integration's key, under the store's current key, in batches of
 * RESEAL_BATCH (one transaction each, holding its rows), until none is left or `stop()` says so
 * between batches. Returns how many endpoints and integrations were rewritten. `tapwire key rotate` and the pass of
 * every server at start run this.
 */
export async function resealEndpointSecrets(store: Store, stop: () => boolean = () => false): Promise<number> {
  // Integration keys (services/integrations.ts) and ingest sources' provider secrets and URL tokens
  // (services/ingest.ts) are sealed the same way.
  let resealed = 0;
  for (const pass of [store.resealEndpoints, store.resealIntegrationKeys, store.resealIngestSources]) {
    resealed += await resealInBatches((input) => pass.call(store, input), stop);
  }
  return resealed;
}

/** One reseal pass over a table: batches after the last id until none is left or `stop()` says so. */
async function resealInBatches(
  reseal: (input: { afterId: string | null; limit: number }) => Promise<{ resealed: number; lastId: string | null }>,
  stop: () => boolean,
): Promise<number> {
  let resealed = 0;
  let afterId: string | null = null;
  do {
    if (stop()) break;
    const batch: { resealed: number; lastId: string | null } = await reseal({ afterId, limit: RESEAL_BATCH });
    resealed += batch.resealed;
    afterId = batch.lastId;
  } while (afterId !== null);
  return resealed;
}

/** Default grace period for the previous secret after a rotation: 24 h. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
/** At most this many previous secrets may still be valid at once. */
export const MAX_OLD_SECRETS = 10;

/**
 * Headers whose values are never returned by GET …/headers: Svix's list, cookies, and any name that
 * says it carries a credential. Erring on the side of hiding costs only a value the tenant already knows.
 */
const SENSITIVE_HEADERS = new Set([
  'authorization', 'cookie', 'x-api-key', 'x-auth-token', 'www-authenticate', 'proxy-authenticate', 'proxy-authorization',
]);
const SENSITIVE_HEADER_PATTERN = /secret|token|key|auth|password|signature|cookie/i;

/** Whether GET …/headers hides this header's value (and lists its name under `sensitive`). */
function isSensitiveHeader(name: string): boolean {
  return SENSITIVE_HEADERS.has(name.toLowerCase()) || SENSITIVE_HEADER_PATTERN.test(name);
}

export async function createEndpoint(ctx: ServiceContext, appIdOrUid: string, input: EndpointInput): Promise<Endpoint> {
  const app = await getApplication(ctx, appIdOrUid);
  const now = ctx.clock.now();
  const endpoint: Endpoint = {
    id: newId('ep', now.getTime()),
    appId: app.id,
    uid: input.uid ?? null,
    url: '',
    description: input.description ?? '',
    disabled: input.disabled ?? false,
    eventTypes: null,
    channels: null,
    throttleRate: throttleRateOf(input.throttleRate),
    version: input.version ?? 1,
    metadata: input.metadata ?? {},
    secret: input.secret ? checkSecret(input.secret) : generateSecret(),
    oldSecrets: [],
    headers: input.headers ? checkHeaders(input.headers) : {},
    createdAt: now,
    updatedAt: now,
  };
  setConcurrencyLimit(endpoint, input.concurrencyLimit ?? null);
  setFifo(endpoint, input.fifo ?? false);
  await applyChecked(ctx, endpoint, input, true);
  await checkRoomForEndpoint(ctx, app);
  return saveWithEvents(ctx, await operationalEvents(ctx, app, null, endpoint, now), (messages) => ctx.store.createEndpoint(endpoint, { messages }));
}

export async function getEndpoint(ctx: ServiceContext, appIdOrUid: string, endpointIdOrUid: string): Promise<Endpoint> {
  return (await findEndpoint(ctx, appIdOrUid, endpointIdOrUid)).endpoint;
}

/** The endpoint and its application (operational events name both). */
async function findEndpoint(ctx: ServiceContext, appIdOrUid: string, endpointIdOrUid: string): Promise<{ app: Application; endpoint: Endpoint }> {
  const app = await getApplication(ctx, appIdOrUid);
  const endpoint = await ctx.store.getEndpoint(app.id, endpointIdOrUid);
  if (!endpoint) throw notFound('Endpoint');
  return { app, endpoint };
}

/** PUT: replace the endpoint's settings (the secret is kept), or create it when missing (201). */
export async function upsertEndpoint(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  input: EndpointInput,
): Promise<{ endpoint: Endpoint; created: boolean }> {
  const app = await getApplication(ctx, appIdOrUid);
  let existing = await ctx.store.getEndpoint(app.id, endpointIdOrUid);
  if (!existing) {
    // Ids are ours to assign: a PUT naming an unknown id cannot create it under that id.
    if (endpointIdOrUid.startsWith('ep_')) throw notFound('Endpoint');
    try {
      return { endpoint: await createEndpoint(ctx, app.id, { ...input, uid: input.uid ?? endpointIdOrUid }), created: true };
    } catch (error) {
      // A concurrent PUT created it in the meantime: replace that one, as if we had come second.
      existing = isConflict(error) ? await ctx.store.getEndpoint(app.id, endpointIdOrUid) : null;
      if (!existing) throw error;
    }
  }
  const endpoint: Endpoint = {
    ...existing,
    uid: input.uid === undefined ? existing.uid : input.uid,
    description: input.description ?? '',
    disabled: input.disabled ?? false,
    eventTypes: null,
    channels: null,
    throttleRate: throttleRateOf(input.throttleRate),
    version: input.version ?? existing.version,
    metadata: input.metadata ?? {},
    updatedAt: ctx.clock.now(),
  };
  setConcurrencyLimit(endpoint, input.concurrencyLimit ?? null);
  // Unlike the other fields of a PUT, an absent fifo is kept: Svix's clients do not know the field
  // and never send it, and a URL change through one must not release a FIFO line behind its owner's back.
  if (input.fifo !== undefined) setFifo(endpoint, input.fifo);
  await applyChecked(ctx, endpoint, input, true);
  const messages = await operationalEvents(ctx, app, existing, endpoint, endpoint.updatedAt);
  return { endpoint: await saveWithEvents(ctx, messages, (m) => ctx.store.updateEndpoint(endpoint, { messages: m })), created: false };
}

/** PATCH: absent fields stay, null clears a nullable field. */
export async function patchEndpoint(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  input: EndpointInput,
): Promise<Endpoint> {
  const { app, endpoint: existing } = await findEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const endpoint: Endpoint = {
    ...existing,
    uid: input.uid === undefined ? existing.uid : input.uid,
    description: input.description ?? existing.description,
    disabled: input.disabled ?? existing.disabled,
    throttleRate: input.throttleRate === undefined ? existing.throttleRate : throttleRateOf(input.throttleRate),
    version: input.version ?? existing.version,
    metadata: input.metadata ?? existing.metadata,
    updatedAt: ctx.clock.now(),
  };
  if (input.secret) {
    endpoint.secret = checkSecret(input.secret);
  }
  if (input.concurrencyLimit !== undefined) setConcurrencyLimit(endpoint, input.concurrencyLimit);
  if (input.fifo !== undefined) setFifo(endpoint, input.fifo);
  await applyChecked(ctx, endpoint, input, false);
  const messages = await operationalEvents(ctx, app, existing, endpoint, endpoint.updatedAt);
  return saveWithEvents(ctx, messages, (m) => ctx.store.updateEndpoint(endpoint, { messages: m }));
}

export async function deleteEndpoint(ctx: ServiceContext, appIdOrUid: string, endpointIdOrUid: string): Promise<void> {
  const { app, endpoint } = await findEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const now = ctx.clock.now();
  await saveWithEvents(ctx, await operationalEvents(ctx, app, endpoint, null, now), (messages) =>
    ctx.store.deleteEndpoint(endpoint.appId, endpoint.id, now, { messages }),
  );
}

export async function listEndpoints(ctx: ServiceContext, appIdOrUid: string, query: ListQuery): Promise<Page<Endpoint>> {
  const app = await getApplication(ctx, appIdOrUid);
  return ctx.store.listEndpoints(app.id, query);
}

/**
 * Install a new signing key: the one given, of either kind (HMAC or ed25519, whatever the current
 * one is), or a generated `whsec_` secret (Svix's default kind). The current key keeps signing
 * deliveries, next to the new one, for `gracePeriodSeconds` (default 24 h; 0 drops it at once).
 */
export async function rotateEndpointSecret(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  input: { key?: string | null; gracePeriodSeconds?: number },
): Promise<void> {
  const { app, endpoint } = await findEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const now = ctx.clock.now();
  const grace = input.gracePeriodSeconds ?? DEFAULT_ROTATION_GRACE_SECONDS;
  const stillValid = endpoint.oldSecrets.filter((s) => s.expiresAt > now);
  if (grace > 0) stillValid.unshift({ secret: endpoint.secret, expiresAt: new Date(now.getTime() + grace * 1000) });
  if (stillValid.length > MAX_OLD_SECRETS) {
    throw new TapwireError('limit_reached', {
      detail: `At most ${MAX_OLD_SECRETS} previous secrets may be valid at once; rotate with gracePeriodSeconds=0 or wait`,
    });
  }
  const rotated: Endpoint = {
    ...endpoint,
    secret: input.key ? checkSecret(input.key, ['body', 'key']) : generateSecret(),
    oldSecrets: stillValid,
    updatedAt: now,
  };
  // Svix sends endpoint.updated on rotation too (svix-webhooks#816).
  await saveWithEvents(ctx, await operationalEvents(ctx, app, endpoint, rotated, now), (messages) => ctx.store.updateEndpoint(rotated, { messages }));
}

/** The headers to show: sensitive values are hidden and only their names listed. */
export function describeHeaders(endpoint: Endpoint): { headers: Record<string, string>; sensitive: string[] } {
  const headers: Record<string, string> = {};
  const sensitive: string[] = [];
  for (const [name, value] of Object.entries(endpoint.headers)) {
    if (isSensitiveHeader(name)) sensitive.push(name);
    else headers[name] = value;
  }
  return { headers, sensitive };
}

/** PUT replaces every custom header; PATCH merges and a null value removes that header. */
export async function updateEndpointHeaders(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  headers: Record<string, string | null>,
  mode: 'replace' | 'merge',
): Promise<void> {
  const { app, endpoint } = await findEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const next: Record<string, string | null> = mode === 'replace' ? {} : { ...endpoint.headers };
  for (const [name, value] of Object.entries(headers)) {
    for (const existing of Object.keys(next)) {
      if (existing.toLowerCase() === name.toLowerCase()) delete next[existing];
    }
    if (value !== null) next[name] = value;
  }
  const cleaned = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== null)) as Record<string, string>;
  const updated: Endpoint = { ...endpoint, headers: checkHeaders(cleaned), updatedAt: ctx.clock.now() };
  await saveWithEvents(ctx, await operationalEvents(ctx, app, endpoint, updated, updated.updatedAt), (messages) => ctx.store.updateEndpoint(updated, { messages }));
}

/** Longest stats window (28 days), with 5 minutes of slack for clock skew. */
const MAX_STATS_WINDOW_MS = 28 * 86_400_000 + 5 * 60_000;

export async function getEndpointStats(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  window: { since?: Date | null; until?: Date | null },
): Promise<EndpointStats & { concurrency: EndpointConcurrency | null }> {
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const until = window.until ?? new Date(ctx.clock.now().getTime() + 60_000);
  const since = window.since ?? new Date(until.getTime() - 28 * 86_400_000);
  if (since > until) throw validationError(['query', 'since'], 'since must be before until');
  if (until.getTime() - since.getTime() > MAX_STATS_WINDOW_MS) {
    throw validationError(['query', 'since'], 'the window between since and until may be at most 28 days');
  }
  const stats = await ctx.store.getEndpointStats(endpoint.appId, endpoint.id, since, until);
  // This process's worker's view (with several worker processes, each has its own limit and requests).
  const concurrency = ctx.deliveryConcurrency
    ? (ctx.deliveryConcurrency(endpoint.id) ??
      restingConcurrency({ endpointCeiling: ctx.config.endpointConcurrencyMax, fixedLimit: ctx.config.endpointConcurrency }, endpoint.concurrencyLimit ?? null))
    : null;
  return { ...stats, concurrency };
}

/** Furthest back a recover may reach: 14 days. */
const MAX_RECOVER_WINDOW_MS = 14 * 86_400_000;

/**
 * The window of a recover ([since, until), until defaulting to now), after checking it and that the
 * endpoint may receive: 422 for a window reaching back more than 14 days or ending before it
 * starts, 400 for a disabled endpoint. The work itself is a background task (background-tasks.ts).
 */
export function checkRecoverWindow(endpoint: Endpoint, input: { since: Date; until?: Date | null }, now: Date): { since: Date; until: Date } {
  const until = input.until ?? now;
  if (input.since > until) throw validationError(['body', 'since'], 'since must be before until');
  if (now.getTime() - input.since.getTime() > MAX_RECOVER_WINDOW_MS) {
    throw validationError(['body', 'since'], 'since may be at most 14 days in the past');
  }
  if (endpoint.disabled) {
    throw new TapwireError('generic_error', { detail: 'The endpoint is disabled; enable it before recovering messages' });
  }
  return { since: input.since, until };
}

/**
 * The operational events an endpoint change raises, to be stored in the same transaction:
 * created (no `before`), deleted (no `after`), or updated plus enabled / disabled (trigger
 * `manual`) when the change flips `disabled`. None when operational webhooks are off, or for the
 * operational application's own endpoints.
 */
async function operationalEvents(ctx: ServiceContext, app: Application, before: Endpoint | null, after: Endpoint | null, now: Date): Promise<Message[]> {
  const ops = ctx.operational;
  if (!ops || !(await ops.ready()) || !ops.covers(app.id)) return [];
  if (!before) return after ? [ops.endpointEvent('endpoint.created', app, after, now)] : [];
  if (!after) return [ops.endpointEvent('endpoint.deleted', app, before, now)];
  const events = [ops.endpointEvent('endpoint.updated', app, after, now)];
  if (before.disabled && !after.disabled) events.push(ops.endpointEvent('endpoint.enabled', app, after, now));
  if (!before.disabled && after.disabled) events.push(ops.endpointDisabled(app, after, before.failingSince ?? null, 'manual', now));
  return events;
}

/** Run the store change with its events, then wake the worker for the events' deliveries. */
async function saveWithEvents<T>(ctx: ServiceContext, messages: Message[], save: (messages: Message[]) => Promise<T>): Promise<T> {
  const result = await save(messages);
  if (messages.length > 0) ctx.notifyDeliveriesQueued();
  return result;
}

/** Apply url / eventTypes / channels / headers from input after checking them. */
async function applyChecked(ctx: ServiceContext, endpoint: Endpoint, input: EndpointInput, replace: boolean): Promise<void> {
  checkUid(endpoint.uid, 'ep');
  if (Buffer.byteLength(JSON.stringify(endpoint.metadata), 'utf8') > MAX_METADATA_BYTES) {
    throw validationError(['body', 'metadata'], `metadata may hold at most ${MAX_METADATA_BYTES} bytes (as JSON)`, 'value_error.metadata');
  }
  // One endpoint can never hold more than the worker's slots; beyond that only the admin may go
  // (a deployment of several workers on PostgreSQL).
  const ceiling = ctx.config.workerConcurrency;
  if (input.portal && input.concurrencyLimit != null && input.concurrencyLimit > ceiling) {
    throw validationError(['body', 'concurrencyLimit'], `concurrencyLimit may be at most ${ceiling} (TAPWIRE_WORKER_CONCURRENCY)`, 'value_error.number.not_le');
  }
  if (listenSessionIdOf(endpoint.url) !== null) {
    // A `tapwire listen` session's endpoint: the session owns its URL (the worker pushes to the
    // session through it). Everything else may change; ending the session removes the endpoint.
    if (input.url !== undefined && input.url !== endpoint.url) {
      throw validationError(['body', 'url'], "this endpoint is a tapwire listen session's; its URL cannot change (end the session instead)", 'value_error.url');
    }
  } else if (input.url !== undefined || replace) {
    if (input.url === undefined) throw validationError(['body', 'url'], 'field required', 'value_error.missing');
    const problem = checkEndpointUrl(input.url, { httpsOnly: ctx.config.httpsOnly, policy: ctx.policy });
    if (problem) throw validationError(['body', 'url'], problem, 'value_error.url');
    endpoint.url = input.url;
  }
  if (input.eventTypes !== undefined) {
    // The operational application's endpoints filter on operational events, whichever API made them.
    const operational = input.operational === true || (ctx.operational?.appId != null && ctx.operational.appId === endpoint.appId);
    endpoint.eventTypes = operational
      ? checkOperationalEventTypes(input.eventTypes)
      : await checkEventTypes(ctx, input.eventTypes, input.portal?.featureFlags ?? null);
  }
  if (input.channels !== undefined) {
    endpoint.channels = input.channels && input.channels.length > 0 ? [...new Set(input.channels)] : null;
  }
  // Given on PATCH too: the set replaces the endpoint's custom headers (…/headers merges).
  if (input.headers !== undefined) endpoint.headers = checkHeaders(input.headers);
}

/** Every filter entry must name an existing, non-archived event type. An empty list means "all". */
async function checkEventTypes(ctx: ServiceContext, names: string[] | null, featureFlags: readonly string[] | null): Promise<string[] | null> {
  if (names === null || names.length === 0) return null;
  const unique = [...new Set(names)];
  for (const [index, name] of unique.entries()) {
    const type = await ctx.store.getEventType(name);
    if (!type || type.archived || !seesFeatures(type.featureFlags, featureFlags)) {
      throw validationError(['body', 'filterTypes', index], `Event type '${name}' does not exist; create it first`, 'value_error');
    }
  }
  return unique;
}

/** An operational endpoint's filter: operational event types only. An empty list means "all". */
function checkOperationalEventTypes(names: string[] | null): string[] | null {
  if (names === null || names.length === 0) return null;
  const unique = [...new Set(names)];
  for (const [index, name] of unique.entries()) {
    if (!(OPERATIONAL_EVENT_TYPES as readonly string[]).includes(name)) {
      throw validationError(['body', 'filterTypes', index], `'${name}' is not an operational event type (${OPERATIONAL_EVENT_TYPES.join(', ')})`, 'value_error');
    }
  }
  return unique;
}

/**
 * A signing key as given by a client, checked and in the form it is stored: an HMAC secret
 * (`whsec_` + base64 of 24–75 bytes, or that base64 alone, stored with the prefix) or an ed25519
 * secret key (`whsk_` + base64 of the 64-byte seed and public key). 422 at `loc` otherwise, saying
 * what is wrong without echoing the key. Exported for every route that takes a key (endpoint
 * create, PATCH and rotation, and the operational webhook endpoints).
 */
export function checkSecret(secret: string, loc: string[] = ['body', 'secret']): string {
  try {
    return normalizeSecret(secret);
  } catch (error) {
    if (!(error instanceof SigningError)) throw error;
    throw validationError(
      loc,
      `${error.message}. Give 'whsec_' + base64 of 24 to 75 bytes (or that base64 alone), or 'whsk_' + base64 of a 64-byte ed25519 key (seed, then public key)`,
      'value_error.secret',
    );
  }
}

/**
 * What GET …/secret returns for an endpoint: the HMAC secret (`whsec_…`), or the `whpk_` public key of
 * an ed25519 endpoint; never its `whsk_` secret key. Receivers verify with this.
 */
export function endpointVerificationKey(endpoint: Endpoint): string {
  return verificationKeyOf(endpoint.secret);
}

function checkHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    const refusal = customHeaderRefusal(name, value, 'an endpoint');
    if (refusal) throw validationError(['body', 'headers', name], refusal);
  }
  return headers;
}

/** Give the endpoint its own concurrency limit, or (null) let it follow the server default. */
/**
 * An application may have at most TAPWIRE_MAX_ENDPOINTS_PER_APP endpoints (each is fanned out to on
 * every message). Two creates at the same moment may both pass: the cap is about abuse, not exact.
 */
async function checkRoomForEndpoint(ctx: ServiceContext, app: Application): Promise<void> {
  const max = ctx.config.maxEndpointsPerApp;
  const page = await ctx.store.listEndpoints(app.id, { limit: max });
  if (page.data.length >= max) {
    throw new TapwireError('limit_reached', { detail: `This application has ${max} endpoints, the most allowed (TAPWIRE_MAX_ENDPOINTS_PER_APP); delete one first` });
  }
}

function setConcurrencyLimit(endpoint: Endpoint, limit: number | null): void {
  if (limit === null) delete endpoint.concurrencyLimit;
  else endpoint.concurrencyLimit = limit;
}

/**
 * FIFO or not (absent = not, like every other stored endpoint). Turning it off releases the held
 * deliveries (the store does, in the same transaction); turning it on holds only deliveries queued
 * from then on (docs/fifo.md).
 */
function setFifo(endpoint: Endpoint, fifo: boolean): void {
  if (fifo) endpoint.fifo = true;
  else delete endpoint.fifo;
}

/** The state of an endpoint's FIFO line (the dashboard's FIFO panel); any endpoint has one, empty when it is not FIFO. */
export async function getFifoLine(ctx: ServiceContext, appIdOrUid: string, endpointIdOrUid: string): Promise<{ endpoint: Endpoint; line: FifoLine }> {
  const { endpoint } = await findEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  return { endpoint, line: await ctx.store.getFifoLine(endpoint.id) };
}
