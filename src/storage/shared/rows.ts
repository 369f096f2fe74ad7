// Rows as both databases return them and their conversion to and from domain records, written once:
// both store times as integer milliseconds and use the same column names. The values each holds its
// own way (JSON, booleans, lists) go through the database's ColumnValues (values.ts).
import type { AppEndpointFilters, AppUsageStat, BackgroundTask, BackgroundTaskKind, BackgroundTaskStatus } from '../../domain/background-tasks.js';
import type { Application, Attempt, Delivery, Endpoint, EventType, Message, MessageStatusName, OldSecret, TriggerTypeName } from '../../domain/types.js';
import { idFloorAt } from '../../domain/ids.js';
import { FULL_SCOPE, type PortalCapability } from '../../domain/token-scopes.js';
import type {
  ApplicationUsageInput,
  AttemptCountsInput,
  AttemptListQuery,
  BackgroundTaskLease,
  EndpointLatency,
  EndpointStats,
  FifoLine,
  IdempotentResponse,
  MessageListQuery,
  NewToken,
  StoredToken,
  TokenRevocation,
} from '../store.js';
import { PLAINTEXT, type SecretSealer } from './secret-box.js';
import { jsonText, type ColumnValues } from './values.js';

/** A column whose representation depends on the database (see ColumnValues). */
type Stored = unknown;

export interface ApplicationRow {
  id: string;
  uid: string | null;
  name: string;
  throttle_rate: number | null;
  metadata: Stored;
  created_at: number;
  updated_at: number;
}

export interface EndpointRow {
  id: string;
  app_id: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: Stored;
  event_types: Stored;
  channels: Stored;
  throttle_rate: number | null;
  concurrency_limit: number | null;
  fifo: Stored;
  version: number;
  metadata: Stored;
  secret: string;
  old_secrets: Stored;
  headers: Stored;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  failing_since: number | null;
  transformation_code: string | null;
  transformation_enabled: Stored;
  transformation_updated_at: number | null;
}

export interface EventTypeRow {
  name: string;
  description: string;
  archived: Stored;
  deprecated: Stored;
  schemas: Stored;
  feature_flags: Stored;
  group_name: string | null;
  created_at: number;
  updated_at: number;
}

export interface MessageRow {
  id: string;
  app_id: string;
  event_id: string | null;
  event_type: string;
  payload: string | null;
  channels: Stored;
  created_at: number;
  payload_expires_at: number;
  /** Migration 0008. */
  tags?: Stored;
  deliver_at?: number | string | null;
  content_type?: string | null;
  /** Migration 0013: JSON object, or NULL. */
  forward_headers?: string | null;
}

export interface DeliveryRow {
  id: string;
  msg_id: string;
  app_id: string;
  endpoint_id: string;
  status: MessageStatusName;
  trigger_type: TriggerTypeName;
  attempt_count: number;
  next_attempt_at: number | null;
  locked_until: number | null;
  /** The due time while parked behind its endpoint's limit (next_attempt_at is NULL then); see migration 0002. */
  parked_due_at?: number | null;
  /** Its place in its FIFO endpoint's line; NULL when not queued for a FIFO endpoint (migration 0015). */
  fifo_seq?: number | string | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  msg_id: string;
  app_id: string;
  endpoint_id: string;
  url: string;
  response_status_code: number;
  response: string;
  response_duration_ms: number;
  status: 'success' | 'fail' | 'canceled';
  trigger_type: TriggerTypeName;
  attempted_at: number;
}

export interface TokenRow {
  id: string;
  app_id: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  read_only: Stored;
  capabilities: Stored;
  feature_flags: Stored;
  session_id: string | null;
}

export interface IdempotencyRow {
  status_code: number;
  body: string;
  content_type: string | null;
}

export interface BackgroundTaskRow {
  id: string;
  app_id: string | null;
  task: BackgroundTaskKind;
  status: BackgroundTaskStatus;
  data: Stored;
  cursor: string | null;
  lease_owner: string | null;
  locked_until: number | null;
  created_at: number;
  updated_at: number;
}

export function mapOrNull<R, T>(row: R | undefined, map: (row: R) => T): T | null {
  return row === undefined ? null : map(row);
}

export function toDateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

// Applications ----------------------------------------------------------------------------------

export function toApplication(r: ApplicationRow, values: ColumnValues): Application {
  return {
    id: r.id,
    uid: r.uid,
    name: r.name,
    throttleRate: r.throttle_rate,
    metadata: values.readJson<Record<string, string>>(r.metadata),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function applicationParams(app: Application): Record<string, unknown> {
  return {
    id: app.id,
    uid: app.uid,
    name: app.name,
    throttleRate: app.throttleRate,
    metadata: jsonText(app.metadata),
    createdAt: app.createdAt.getTime(),
    updatedAt: app.updatedAt.getTime(),
  };
}

// Endpoints -------------------------------------------------------------------------------------

/** An endpoint as stored; `secrets` opens its sealed secrets and header values (see secret-box.ts). */
export function toEndpoint(r: EndpointRow, values: ColumnValues, secrets: SecretSealer = PLAINTEXT): Endpoint {
  const oldSecrets = values.readJson<{ secret: string; expiresAt: number }[]>(r.old_secrets);
  return {
    id: r.id,
    appId: r.app_id,
    uid: r.uid,
    url: r.url,
    description: r.description,
    disabled: values.readBoolean(r.disabled),
    eventTypes: values.readTextList(r.event_types),
    channels: values.readTextList(r.channels),
    throttleRate: r.throttle_rate,
    ...(r.concurrency_limit !== null ? { concurrencyLimit: r.concurrency_limit } : {}),
    ...(values.readBoolean(r.fifo) ? { fifo: true } : {}),
    version: r.version,
    metadata: values.readJson<Record<string, string>>(r.metadata),
    secret: secrets.open(r.secret),
    oldSecrets: oldSecrets.map((s): OldSecret => ({ secret: secrets.open(s.secret), expiresAt: new Date(s.expiresAt) })),
    headers: openHeaders(values.readJson<Record<string, string>>(r.headers), secrets),
    ...(r.failing_since !== null ? { failingSince: new Date(r.failing_since) } : {}),
    ...(r.transformation_code !== null
      ? { transformation: { code: r.transformation_code, enabled: values.readBoolean(r.transformation_enabled), updatedAt: new Date(Number(r.transformation_updated_at ?? r.updated_at)) } }
      : {}),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

/** An endpoint's columns; `secrets` seals its secrets and header values. */
export function endpointParams(e: Endpoint, values: ColumnValues, secrets: SecretSealer = PLAINTEXT): Record<string, unknown> {
  return {
    id: e.id,
    appId: e.appId,
    uid: e.uid,
    url: e.url,
    description: e.description,
    disabled: values.writeBoolean(e.disabled),
    eventTypes: values.writeTextList(e.eventTypes),
    channels: values.writeTextList(e.channels),
    throttleRate: e.throttleRate,
    concurrencyLimit: e.concurrencyLimit ?? null,
    fifo: values.writeBoolean(e.fifo ?? false),
    version: e.version,
    metadata: jsonText(e.metadata),
    secret: secrets.seal(e.secret),
    // Old secrets keep their expiry as epoch ms, like every other time in the database.
    oldSecrets: jsonText(e.oldSecrets.map((s) => ({ secret: secrets.seal(s.secret), expiresAt: s.expiresAt.getTime() }))),
    headers: jsonText(Object.fromEntries(Object.entries(e.headers).map(([name, value]) => [name, secrets.seal(value)]))),
    createdAt: e.createdAt.getTime(),
    updatedAt: e.updatedAt.getTime(),
  };
}

/** The stored columns that hold sealed values (see resealEndpoints). */
export interface EndpointSecretsRow {
  id: string;
  secret: string;
  old_secrets: Stored;
  headers: Stored;
}

/**
 * The sealed columns of an endpoint row rewritten under the sealer's current key, or null when every
 * value is sealed with it already.
 */
export function resealedSecrets(r: EndpointSecretsRow, values: ColumnValues, secrets: SecretSealer): Record<string, unknown> | null {
  const oldSecrets = values.readJson<{ secret: string; expiresAt: number }[]>(r.old_secrets);
  const headers = values.readJson<Record<string, string>>(r.headers);
  const stored = [r.secret, ...oldSecrets.map((s) => s.secret), ...Object.values(headers)];
  if (stored.every((value) => secrets.isCurrent(value))) return null;
  const reseal = (value: string): string => secrets.seal(secrets.open(value));
  return {
    id: r.id,
    secret: reseal(r.secret),
    oldSecrets: jsonText(oldSecrets.map((s) => ({ secret: reseal(s.secret), expiresAt: s.expiresAt }))),
    headers: jsonText(Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, reseal(value)]))),
  };
}

function openHeaders(headers: Record<string, string>, secrets: SecretSealer): Record<string, string> {
  if (secrets === PLAINTEXT) return headers;
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, secrets.open(value)]));
}

// Event types -----------------------------------------------------------------------------------

export function toEventType(r: EventTypeRow, values: ColumnValues): EventType {
  return {
    name: r.name,
    description: r.description,
    archived: values.readBoolean(r.archived),
    deprecated: values.readBoolean(r.deprecated),
    schemas: values.readJsonOrNull<Record<string, unknown>>(r.schemas),
    featureFlags: values.readTextList(r.feature_flags),
    groupName: r.group_name,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function eventTypeParams(t: EventType, values: ColumnValues): Record<string, unknown> {
  return {
    name: t.name,
    description: t.description,
    archived: values.writeBoolean(t.archived),
    deprecated: values.writeBoolean(t.deprecated),
    schemas: t.schemas === null ? null : jsonText(t.schemas),
    featureFlags: values.writeTextList(t.featureFlags),
    // The singular column (before migration 0009) keeps the first flag, for older readers.
    featureFlag: t.featureFlags?.[0] ?? null,
    groupName: t.groupName,
    createdAt: t.createdAt.getTime(),
    updatedAt: t.updatedAt.getTime(),
  };
}

// Messages --------------------------------------------------------------------------------------

export function toMessage(r: MessageRow, values: ColumnValues): Message {
  return {
    id: r.id,
    appId: r.app_id,
    eventId: r.event_id,
    eventType: r.event_type,
    payload: r.payload,
    channels: values.readTextList(r.channels),
    createdAt: new Date(r.created_at),
    payloadExpiresAt: new Date(r.payload_expires_at),
    // Present only when set, so a message without them reads exactly as before 0008.
    ...optionalMessageFields(values.readTextList(r.tags ?? null), r.deliver_at ?? null, r.content_type ?? null),
    ...(r.forward_headers ? { forwardHeaders: JSON.parse(r.forward_headers) as Record<string, string> } : {}),
  };
}

function optionalMessageFields(tags: string[] | null, deliverAt: number | string | null, contentType: string | null): Partial<Message> {
  return {
    ...(tags !== null && tags.length > 0 ? { tags } : {}),
    ...(deliverAt !== null ? { deliverAt: new Date(Number(deliverAt)) } : {}),
    ...(contentType !== null ? { contentType } : {}),
  };
}

export function messageParams(m: Message, values: ColumnValues): Record<string, unknown> {
  return {
    id: m.id,
    appId: m.appId,
    eventId: m.eventId,
    eventType: m.eventType,
    payload: m.payload,
    channels: values.writeTextList(m.channels),
    createdAt: m.createdAt.getTime(),
    payloadExpiresAt: m.payloadExpiresAt.getTime(),
    tags: m.tags && m.tags.length > 0 ? values.writeTextList(m.tags) : null,
    deliverAt: m.deliverAt ? m.deliverAt.getTime() : null,
    contentType: m.contentType ?? null,
    forwardHeaders: m.forwardHeaders ? JSON.stringify(m.forwardHeaders) : null,
  };
}

/** The parameters of the message list and of an endpoint's attempted-message list (`endpointId`). */
export function messageListParams(appId: string, query: MessageListQuery, values: ColumnValues, endpointId?: string): Record<string, unknown> {
  return { appId, ...(endpointId === undefined ? {} : { endpointId }), status: query.status ?? null, ...messageFilterParams(query, values) };
}

/** The optional message filters every message-shaped list accepts (`@before`, `@after`, `@channel`, `@eventTypes`, `@tag`). */
export function messageFilterParams(
  query: { before?: Date | null; after?: Date | null; channel?: string | null; eventTypes?: string[] | null; tag?: string | null },
  values: ColumnValues,
): Record<string, unknown> {
  return {
    before: query.before?.getTime() ?? null,
    after: query.after?.getTime() ?? null,
    channel: query.channel ?? null,
    eventTypes: query.eventTypes ? values.writeTextList(query.eventTypes) : null,
    tag: query.tag ?? null,
  };
}

// Deliveries and attempts -----------------------------------------------------------------------

/**
 * Bulk expunge: which message each key names among `rows` (the messages whose id or eventId is one
 * of the keys), an id winning over an eventId as in getMessage. Keys naming none are left out.
 */
export function messagesByKey(keys: readonly string[], rows: readonly { id: string; event_id: string | null }[]): Map<string, string> {
  const byId = new Set(rows.map((r) => r.id));
  const byEventId = new Map(rows.flatMap((r) => (r.event_id === null ? [] : [[r.event_id, r.id] as const])));
  const named = new Map<string, string>();
  for (const key of keys) {
    const id = byId.has(key) ? key : byEventId.get(key);
    if (id !== undefined) named.set(key, id);
  }
  return named;
}

export function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    msgId: r.msg_id,
    appId: r.app_id,
    endpointId: r.endpoint_id,
    status: r.status,
    triggerType: r.trigger_type,
    attemptCount: r.attempt_count,
    // A parked delivery is still due: it shows its due time like any other waiting one.
    nextAttemptAt: toDateOrNull(r.next_attempt_at ?? (r.status === 'pending' || r.status === 'sending' ? r.parked_due_at ?? null : null)),
    lockedUntil: toDateOrNull(r.locked_until),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    ...(r.fifo_seq !== null && r.fifo_seq !== undefined ? { fifoSeq: Number(r.fifo_seq) } : {}),
  };
}

/** The head of a FIFO line as selectFifoHead reads it. */
export interface FifoHeadRow {
  id: string;
  msg_id: string;
  attempt_count: number;
  blocked_since: number | string | null;
}

export function toFifoHead(r: FifoHeadRow): NonNullable<FifoLine['head']> {
  return {
    deliveryId: r.id,
    msgId: r.msg_id,
    attemptCount: r.attempt_count,
    blockedSince: r.blocked_since === null ? null : new Date(Number(r.blocked_since)),
  };
}

export function toAttempt(r: AttemptRow): Attempt {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    msgId: r.msg_id,
    appId: r.app_id,
    endpointId: r.endpoint_id,
    url: r.url,
    responseStatusCode: r.response_status_code,
    response: r.response,
    responseDurationMs: r.response_duration_ms,
    status: r.status,
    triggerType: r.trigger_type,
    timestamp: new Date(r.attempted_at),
  };
}

export function attemptParams(a: Attempt): Record<string, unknown> {
  return {
    id: a.id,
    deliveryId: a.deliveryId,
    msgId: a.msgId,
    appId: a.appId,
    endpointId: a.endpointId,
    url: a.url,
    responseStatusCode: a.responseStatusCode,
    response: a.response,
    responseDurationMs: a.responseDurationMs,
    status: a.status,
    triggerType: a.triggerType,
    attemptedAt: a.timestamp.getTime(),
  };
}

/** The parameters of an attempt list. */
export function attemptListParams(appId: string, query: AttemptListQuery, values: ColumnValues): Record<string, unknown> {
  return {
    appId,
    msgId: query.msgId ?? null,
    endpointId: query.endpointId ?? null,
    status: query.status ?? null,
    statusCodeClass: query.statusCodeClass ?? null,
    ...messageFilterParams(query, values),
  };
}

/** The parameters of a manual delivery (a resend). */
export function manualDeliveryParams(input: { deliveryId: string; appId: string; msgId: string; endpointId: string; now: Date }): Record<string, unknown> {
  return { id: input.deliveryId, appId: input.appId, msgId: input.msgId, endpointId: input.endpointId, now: input.now.getTime() };
}

// Statistics ------------------------------------------------------------------------------------

/** The parameters of countAttemptsOverTime's statements (each uses those of its scope). */
export function attemptCountsParams(input: AttemptCountsInput): Record<string, unknown> {
  return {
    since: input.since.getTime(),
    until: input.until.getTime(),
    bucketMs: Math.max(1, Math.round(input.bucketMs)),
    appId: input.appId ?? null,
    endpointId: input.endpointId ?? null,
    // Attempt ids start with their time (the worker makes both from one clock reading), so the
    // (app_id, id) and (endpoint_id, id) indexes give the window as a range.
    minId: idFloorAt('atmpt', input.since.getTime()),
  };
}

export interface EndpointLatencyRow {
  endpoint_id: string;
  app_id: string;
  attempts: number;
  avg_ms: number;
  max_ms: number;
}

export function toEndpointLatency(r: EndpointLatencyRow): EndpointLatency {
  return { endpointId: r.endpoint_id, appId: r.app_id, attempts: r.attempts, avgDurationMs: r.avg_ms, maxDurationMs: r.max_ms };
}

/** An endpoint's counts of latest deliveries by status, from `(status, n)` rows. */
export function toEndpointStats(rows: { status: MessageStatusName; n: number }[]): EndpointStats {
  const stats: EndpointStats = { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 };
  for (const { status, n } of rows) stats[status] = n;
  return stats;
}

// Auth ------------------------------------------------------------------------------------------

export function toStoredToken(r: TokenRow, values: ColumnValues): StoredToken {
  return {
    id: r.id,
    appId: r.app_id,
    createdAt: new Date(r.created_at),
    expiresAt: toDateOrNull(r.expires_at),
    revokedAt: toDateOrNull(r.revoked_at),
    readOnly: values.readBoolean(r.read_only),
    capabilities: values.readTextList(r.capabilities) as PortalCapability[] | null,
    featureFlags: values.readTextList(r.feature_flags) ?? [],
    sessionId: r.session_id,
  };
}

export function tokenParams(input: NewToken, values: ColumnValues): Record<string, unknown> {
  const scope = input.scope ?? FULL_SCOPE;
  return {
    id: input.id,
    tokenHash: input.tokenHash,
    appId: input.appId,
    createdAt: input.createdAt.getTime(),
    expiresAt: input.expiresAt?.getTime() ?? null,
    readOnly: values.writeBoolean(scope.readOnly),
    capabilities: values.writeTextList(scope.capabilities),
    featureFlags: values.writeTextList(scope.featureFlags),
    sessionId: scope.sessionId,
  };
}

export function tokenRevocationParams(input: TokenRevocation, values: ColumnValues): Record<string, unknown> {
  if (!input.tokenHash && !input.id && !input.appId && !input.adminOnly) throw new Error('revokeTokens needs a token hash, an id, an application or adminOnly');
  return {
    at: input.at.getTime(),
    tokenHash: input.tokenHash ?? null,
    id: input.id ?? null,
    appId: input.appId ?? null,
    adminOnly: values.writeBoolean(input.adminOnly ?? false),
    sessionIds: input.sessionIds ? values.writeTextList(input.sessionIds) : null,
  };
}

export function toIdempotentResponse(r: IdempotencyRow): IdempotentResponse {
  return { statusCode: r.status_code, body: r.body, contentType: r.content_type };
}

export function idempotentResponseParams(keyHash: string, response: IdempotentResponse, expiresAt: Date): Record<string, unknown> {
  return {
    keyHash,
    statusCode: response.statusCode,
    body: response.body,
    contentType: response.contentType,
    expiresAt: expiresAt.getTime(),
  };
}

// Background tasks ------------------------------------------------------------------------------

export function toBackgroundTask(r: BackgroundTaskRow, values: ColumnValues): BackgroundTask {
  return {
    id: r.id,
    appId: r.app_id,
    task: r.task,
    status: r.status,
    data: values.readJson<Record<string, unknown>>(r.data),
    cursor: r.cursor,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

/** A new task's columns, with the lease its creator holds from the start, if any. */
export function newBackgroundTaskParams(task: BackgroundTask, lease: BackgroundTaskLease | null): Record<string, unknown> {
  return { ...backgroundTaskParams(task), leaseOwner: lease?.owner ?? null, lockedUntil: lease?.until.getTime() ?? null };
}

/** The parameters of claimBackgroundTasks. */
export function taskClaimParams(input: { now: Date; leaseOwner: string; leaseMs: number; limit: number }): Record<string, unknown> {
  return { now: input.now.getTime(), leaseOwner: input.leaseOwner, lockedUntil: input.now.getTime() + input.leaseMs, limit: input.limit };
}

/** The parameters of a replay batch's candidates: the next `limit` messages of the window after the task's cursor. */
export function replayCandidateParams(task: BackgroundTask, window: { appId: string; endpointId: string; since: Date; until: Date }, limit: number): Record<string, unknown> {
  return {
    appId: window.appId,
    endpointId: window.endpointId,
    cursor: task.cursor ?? idFloorAt('msg', window.since.getTime()),
    since: window.since.getTime(),
    until: window.until.getTime(),
    limit,
  };
}

/** The parameters of a bulk-replay batch's candidates: the next `limit` messages of the window sent to the endpoint, after the cursor. */
export function bulkReplayCandidateParams(
  task: BackgroundTask,
  replay: { endpointId: string; sinceDate: Date; untilDate: Date; channel: string | null; eventTypes: string[] | null; tag?: string | null },
  limit: number,
  values: ColumnValues,
): Record<string, unknown> {
  return {
    ...messageFilterParams({ channel: replay.channel, eventTypes: replay.eventTypes, tag: replay.tag ?? null }, values),
    appId: task.appId,
    endpointId: replay.endpointId,
    cursor: task.cursor ?? idFloorAt('msg', replay.sinceDate.getTime()),
    since: replay.sinceDate.getTime(),
    until: replay.untilDate.getTime(),
    limit,
  };
}

/** The parameters of a purge batch: the next `limit` messages of the application after the cursor, created up to `until`. */
export function purgeBatchParams(task: BackgroundTask, limit: number): Record<string, unknown> {
  return { appId: task.appId, cursor: task.cursor ?? '', until: Date.parse((task.data as { until: string }).until), limit };
}

/** A task's columns; the lease (`@leaseOwner`, `@lockedUntil`) is the caller's to add. */
export function backgroundTaskParams(t: BackgroundTask): Record<string, unknown> {
  return {
    id: t.id,
    appId: t.appId,
    task: t.task,
    status: t.status,
    data: jsonText(t.data),
    cursor: t.cursor,
    createdAt: t.createdAt.getTime(),
    updatedAt: t.updatedAt.getTime(),
  };
}

/**
 * `load`, asked at most once per id: later calls with the same id return the first answer. For a
 * claimed batch, whose deliveries mostly share a few endpoints.
 */
export function onceById<T>(load: (id: string) => T): (id: string) => T {
  const answers = new Map<string, T>();
  return (id) => {
    if (!answers.has(id)) answers.set(id, load(id));
    return answers.get(id) as T;
  };
}

/** A row of countApplicationUsage (PostgreSQL counts are bigint, read as text). */
export interface AppUsageRow {
  app_id: string;
  app_uid: string | null;
  messages: number | string;
  destinations: number | string;
  attempts: number | string;
}

export function toAppUsageStat(r: AppUsageRow): AppUsageStat {
  return { appId: r.app_id, appUid: r.app_uid, messageDestinations: Number(r.destinations), messages: Number(r.messages), attempts: Number(r.attempts) };
}

/** The parameters of countApplicationUsage: the window as times and as the id floors of its indexes. */
export function applicationUsageParams(input: ApplicationUsageInput, values: ColumnValues): Record<string, unknown> {
  const since = input.since.getTime();
  return {
    cursor: input.afterAppId ?? '',
    appIds: input.appIds === null ? null : values.writeTextList(input.appIds),
    since,
    until: input.until.getTime(),
    minMsgId: idFloorAt('msg', since),
    minAttemptId: idFloorAt('atmpt', since),
    limit: input.limit,
  };
}

/** A row of selectApplicationEndpointFilters: an application, and one live endpoint of it or none. */
export interface AppEndpointFilterRow {
  app_id: string;
  endpoint_id: string | null;
  event_types: unknown;
}

/** The rows (by application, then endpoint) grouped per application. */
export function toAppEndpointFilters(rows: AppEndpointFilterRow[], values: ColumnValues): AppEndpointFilters[] {
  const apps: AppEndpointFilters[] = [];
  for (const row of rows) {
    let app = apps.at(-1);
    if (app?.appId !== row.app_id) apps.push((app = { appId: row.app_id, filters: [] }));
    if (row.endpoint_id !== null) app.filters.push(values.readTextList(row.event_types));
  }
  return apps;
}
