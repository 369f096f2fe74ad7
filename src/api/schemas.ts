// JSON schemas of request bodies and responses. They validate requests (→ 422 with loc/msg/type)
// and are the source of the OpenAPI document, so the docs cannot drift from what is enforced.
import { Type, type TSchema } from '@sinclair/typebox';
import { BACKGROUND_TASK_KINDS } from '../domain/background-tasks.js';
import { PORTAL_CAPABILITIES } from '../domain/token-scopes.js';

/** `schema` or null. Uses a JSON-schema type list, which gives clearer errors than anyOf. */
export function Nullable<T extends TSchema>(schema: T): T {
  const type = (schema as { type?: string | string[] }).type;
  if (typeof type === 'string') return { ...schema, type: [type, 'null'] } as unknown as T;
  return Type.Union([schema, Type.Null()]) as unknown as T;
}

const UID_PATTERN = '^[a-zA-Z0-9\\-_.]+$';
export const Uid = Type.String({ minLength: 1, maxLength: 256, pattern: UID_PATTERN, description: 'Your own identifier; usable in paths instead of the id' });
export const EventTypeName = Type.String({ minLength: 1, maxLength: 256, pattern: UID_PATTERN, description: 'Event type name, e.g. `invoice.paid`' });
const Metadata = Type.Record(Type.String(), Type.String(), { description: 'Free-form string key/values' });
const ThrottleRate = Type.Integer({
  minimum: 0,
  maximum: 65_535,
  description: 'Messages per second; 0 means no limit, as null does (stored and returned as no limit)',
});
const ConcurrencyLimit = Type.Integer({
  minimum: 1,
  maximum: 10_000,
  description: 'Tapwire addition: attempts in flight to this endpoint at once, across every worker; absent or null = the server default (TAPWIRE_ENDPOINT_CONCURRENCY)',
});
/** Svix's channel names: a uid's characters plus `:` and `+` (`project:42`); matched exactly. */
export const CHANNEL_PATTERN = '^[a-zA-Z0-9\\-_.:+]+$';
const Channel = Type.String({ minLength: 1, maxLength: 128, pattern: CHANNEL_PATTERN });
const Channels = Type.Array(Channel, { minItems: 1, maxItems: 10 });
/** The item count limits of an endpoint's channel list, for other lists of channels. */
const channelListLimits = () => ({ minItems: Channels.minItems, maxItems: Channels.maxItems });
const Timestamp = Type.String({ format: 'date-time' });
/** Free text: no NUL (PostgreSQL text cannot store it) nor the other control characters below TAB. */
const NoControlChars = '^[^\\u0000-\\u0008]*$';

export const ApplicationIn = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 1024, pattern: NoControlChars }),
    uid: Type.Optional(Nullable(Uid)),
    throttleRate: Type.Optional(Nullable(ThrottleRate)),
    rateLimit: Type.Optional(Nullable(ThrottleRate)),
    metadata: Type.Optional(Metadata),
  },
  { title: 'ApplicationIn' },
);

export const ApplicationPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, pattern: NoControlChars })),
    uid: Type.Optional(Nullable(Uid)),
    throttleRate: Type.Optional(Nullable(ThrottleRate)),
    rateLimit: Type.Optional(Nullable(ThrottleRate)),
    metadata: Type.Optional(Metadata),
  },
  { title: 'ApplicationPatch' },
);

export const ApplicationOut = Type.Object(
  {
    id: Type.String({ description: 'app_…' }),
    uid: Type.Optional(Uid),
    name: Type.String(),
    throttleRate: Type.Optional(Type.Integer()),
    rateLimit: Type.Optional(Type.Integer()),
    metadata: Metadata,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'ApplicationOut' },
);

const Url = Type.String({ minLength: 1, maxLength: 65_536, description: 'http(s) URL that receives the webhooks' });
const EventTypeList = Type.Array(EventTypeName, { maxItems: 1000 });
const Headers = Type.Record(Type.String(), Type.String());

const FIFO_DESCRIPTION =
  'Tapwire addition: true = a FIFO endpoint. Its deliveries go out one at a time, strictly in the order their messages were accepted; a failing one is retried on the schedule and blocks the ones behind it until it succeeds or fails for good. Resends and recoveries join the back of the line; turning fifo off releases every delivery held. See docs/fifo.md.';

const endpointFields = {
  url: Url,
  description: Type.Optional(Type.String({ maxLength: 4096, pattern: NoControlChars })),
  uid: Type.Optional(Nullable(Uid)),
  disabled: Type.Optional(Type.Boolean()),
  eventTypes: Type.Optional(Nullable(EventTypeList)),
  filterTypes: Type.Optional(Nullable(EventTypeList)),
  channels: Type.Optional(Nullable(Channels)),
  throttleRate: Type.Optional(Nullable(ThrottleRate)),
  rateLimit: Type.Optional(Nullable(ThrottleRate)),
  concurrencyLimit: Type.Optional(Nullable(ConcurrencyLimit)),
  fifo: Type.Optional(Type.Boolean({ description: FIFO_DESCRIPTION + ' Default false. On PUT and PATCH, absent = unchanged (Svix clients do not send it, and their updates must not release a line).' })),
  version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  metadata: Type.Optional(Metadata),
  // Nullable as in Svix's EndpointIn; null = no custom headers. On PATCH the given set replaces them all.
  headers: Type.Optional(Nullable(Headers)),
};

/** What an endpoint's signing key may be, wherever a client gives one. */
const SECRET_FORMATS =
  'HMAC-SHA256 (`v1` signatures): `whsec_` + standard base64 of 24–75 bytes, or the base64 alone (stored and shown with `whsec_`). ' +
  'ed25519 (`v1a` signatures): `whsk_` + standard base64 of 64 bytes, the 32-byte seed then its 32-byte public key. ' +
  'Anything else is refused (422).';

export const EndpointIn = Type.Object(
  { ...endpointFields, secret: Type.Optional(Nullable(Type.String({ description: `The signing key. ${SECRET_FORMATS} Absent or null: a \`whsec_\` secret of 24 random bytes is generated.` }))) },
  { title: 'EndpointIn' },
);
export const EndpointUpdate = Type.Object(endpointFields, { title: 'EndpointUpdate' });
export const EndpointPatch = Type.Object(
  {
    ...endpointFields,
    url: Type.Optional(Url),
    secret: Type.Optional(Nullable(Type.String({ description: `A new signing key, replacing the current one at once (no grace period; rotate for one). ${SECRET_FORMATS} Absent or null: unchanged.` }))),
  },
  { title: 'EndpointPatch' },
);

export const EndpointOut = Type.Object(
  {
    id: Type.String({ description: 'ep_…' }),
    url: Type.String(),
    description: Type.String(),
    uid: Type.Optional(Uid),
    disabled: Type.Boolean(),
    eventTypes: Type.Optional(Type.Array(Type.String())),
    filterTypes: Type.Optional(Type.Array(Type.String())),
    channels: Type.Optional(Type.Array(Type.String())),
    throttleRate: Type.Optional(Type.Integer()),
    rateLimit: Type.Optional(Type.Integer()),
    concurrencyLimit: Type.Optional(Type.Integer({ description: 'Tapwire addition: absent = the server default (TAPWIRE_ENDPOINT_CONCURRENCY)' })),
    fifo: Type.Boolean({ description: FIFO_DESCRIPTION }),
    version: Type.Integer(),
    metadata: Metadata,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'EndpointOut' },
);

export const EndpointFifoOut = Type.Object(
  {
    head: Nullable(
      Type.Object({
        msgId: Type.String({ description: 'msg_… of the delivery at the head of the line' }),
        deliveryId: Type.String({ description: 'msgep_…: the head delivery (an attempt\'s msgEndpointId)' }),
        attemptCount: Type.Integer({ description: 'Attempts made of the head so far' }),
        blockedSince: Nullable(Type.String({ format: 'date-time', description: 'Its first failed attempt: since when it has held up the line; null while it has not failed' })),
      }),
    ),
    held: Type.Integer({ description: 'Deliveries waiting behind the head' }),
  },
  {
    title: 'EndpointFifoOut',
    description: 'Tapwire addition: the state of a FIFO endpoint\'s line (docs/fifo.md). head: null when nothing is queued.',
  },
);

export const EndpointSecretOut = Type.Object(
  {
    key: Type.String({
      description:
        'What a receiver verifies signatures with: the `whsec_…` HMAC secret, or for an endpoint signing with an ed25519 key, ' +
        'its public key `whpk_` + standard base64 of 32 bytes (the `whsk_` secret key is never returned).',
    }),
  },
  { title: 'EndpointSecretOut' },
);
export const EndpointSecretRotateIn = Type.Object(
  {
    key: Type.Optional(Nullable(Type.String({ description: `The new signing key; it may be of another kind than the current one. ${SECRET_FORMATS} Absent or null: a new \`whsec_\` secret is generated, whatever the current kind.` }))),
    gracePeriodSeconds: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 604_800, description: 'How long the old secret keeps signing; default (absent or null) 86400' }))),
  },
  { title: 'EndpointSecretRotateIn' },
);
const REFUSED_HEADERS_NOTE =
  'Refused (422): headers Tapwire sets itself (Content-Type, User-Agent, Host, webhook-*, svix-* …), ' +
  'Content-Encoding, Forwarded, X-Real-IP and X-Forwarded-*.';
export const EndpointHeadersIn = Type.Object({ headers: Type.Record(Type.String(), Type.String(), { description: `Custom headers sent with every delivery. ${REFUSED_HEADERS_NOTE}` }) }, { title: 'EndpointHeadersIn' });
export const EndpointHeadersPatchIn = Type.Object(
  {
    headers: Type.Record(Type.String(), Nullable(Type.String()), { description: `Headers to add or change; null removes one. ${REFUSED_HEADERS_NOTE}` }),
    // The svix clients since 1.5x send removals here instead of as null values.
    deleteHeaders: Type.Optional(Type.Array(Type.String(), { maxItems: 100, description: 'Names of headers to remove' })),
  },
  { title: 'EndpointHeadersPatchIn' },
);
export const EndpointHeadersOut = Type.Object(
  {
    headers: Type.Record(Type.String(), Type.String(), { description: 'The custom headers whose values may be shown' }),
    sensitive: Type.Array(Type.String(), {
      description:
        'Names of the headers whose values are hidden: Authorization, Cookie, and any name containing ' +
        'secret, token, key, auth, password or signature (case-insensitive)',
    }),
  },
  { title: 'EndpointHeadersOut' },
);
export const EndpointTransformationIn = Type.Object(
  {
    code: Type.Optional(
      Nullable(
        Type.String({
          description:
            'JavaScript defining `function handler(webhook)`, which returns `webhook` changed (`method`, `url`, `payload`, `headers`) or sets `webhook.cancel = true`. ' +
            'At most 64 KiB (UTF-8). null removes the transformation (and disables it). See docs/transformations.md',
        }),
      ),
    ),
    enabled: Type.Optional(Type.Boolean({ description: 'Whether deliveries run it; absent keeps the current value (false until set). Enabling needs code' })),
    variables: Type.Optional(
      Nullable(Type.Record(Type.String(), Type.String(), { description: 'Svix 2.x: variables for the code. Not supported: anything but null or an empty object is refused with 422' })),
    ),
  },
  { title: 'EndpointTransformationIn' },
);
export const EndpointTransformationOut = Type.Object(
  {
    code: Nullable(Type.String({ description: 'The code, or null when none is set' })),
    enabled: Type.Boolean(),
    updatedAt: Nullable(Type.String({ format: 'date-time', description: 'When code or switch last changed; null when never set' })),
  },
  { title: 'EndpointTransformationOut' },
);
export const TransformationSimulateIn = Type.Object(
  {
    code: Type.Optional(Type.String({ description: "The code to try (need not be saved); absent: the endpoint's saved code" })),
    msgId: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "A message of the application (id or eventId) to try it on: its payload and event type. Either this or payload" })),
    payload: Type.Optional(Type.Unknown({ description: 'A payload to try it on instead of a message' })),
    eventType: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "The event type given with `payload` (default `example`)" })),
  },
  { title: 'TransformationSimulateIn' },
);
export const TransformationSimulateOut = Type.Object(
  {
    outcome: Type.Union(['ok', 'cancel', 'error', 'timeout', 'memory', 'invalid'].map((o) => Type.Literal(o)), {
      description: 'ok: the request below would be signed and sent; cancel: the delivery would end canceled; otherwise the attempt would fail with `error` as its response',
    }),
    method: Type.Optional(Type.String()),
    url: Type.Optional(Type.String({ description: "Where it would be sent (the SSRF guard still judges it when sending)" })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Headers the code added, after the endpoint's own (signature headers are added when sending)" })),
    payload: Type.Optional(Type.Unknown()),
    body: Type.Optional(Type.String({ description: 'The exact body that would be signed and sent' })),
    error: Type.Optional(Type.String({ description: 'What went wrong, as the attempt would record it' })),
    durationMs: Type.Number(),
  },
  { title: 'TransformationSimulateOut' },
);
export const EndpointConcurrencyOut = Type.Object(
  {
    limit: Type.Integer({ description: 'Requests the endpoint may have in flight now' }),
    ceiling: Type.Integer({ description: 'The most its limit may become: its concurrencyLimit, else TAPWIRE_ENDPOINT_CONCURRENCY_MAX' }),
    adaptive: Type.Boolean({ description: 'Whether the limit adapts to its answers (false under a fixed TAPWIRE_ENDPOINT_CONCURRENCY)' }),
    inFlight: Type.Integer({ description: 'Requests to it in flight now' }),
    buffered: Type.Integer({ description: 'Deliveries leased and waiting for one of its slots' }),
    pausedUntil: Nullable(Type.String({ format: 'date-time', description: 'While it asked to be left alone (429 or 503 with Retry-After): until when' })),
  },
  {
    title: 'EndpointConcurrencyOut',
    description: "Tapwire addition: the endpoint's concurrency as this server's delivery worker sees it; null when this process runs no worker",
  },
);
export const EndpointStats = Type.Object(
  {
    success: Type.Integer(),
    pending: Type.Integer(),
    sending: Type.Integer(),
    fail: Type.Integer(),
    canceled: Type.Integer({ description: 'Deliveries dropped unsent: the endpoint was deleted or disabled, or the payload was expunged or expired, before they could be sent' }),
    concurrency: Type.Optional(Nullable(EndpointConcurrencyOut)),
  },
  { title: 'EndpointStats' },
);
export const RecoverIn = Type.Object({ since: Timestamp, until: Type.Optional(Nullable(Timestamp)) }, { title: 'RecoverIn' });
export const RecoverOut = Type.Object(
  { id: Type.String(), status: Type.String(), task: Type.String(), updatedAt: Timestamp },
  { title: 'RecoverOut' },
);
export const ReplayIn = Type.Object({ since: Timestamp, until: Type.Optional(Nullable(Timestamp)) }, { title: 'ReplayIn' });
export const ReplayOut = Type.Object(
  { id: Type.String({ description: 'qtask_…' }), status: Type.String({ enum: ['running', 'finished', 'failed'] }), task: Type.String(), updatedAt: Timestamp },
  { title: 'ReplayOut' },
);
export const BackgroundTaskOut = Type.Object(
  {
    id: Type.String({ description: 'qtask_…' }),
    status: Type.String({ enum: ['running', 'finished', 'failed'] }),
    task: Type.String({ enum: [...BACKGROUND_TASK_KINDS] }),
    data: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'Progress. endpoint.replay: {endpointId, since, until, scanned, queued, skippedExpired, batches, error?}; ' +
        'endpoint.recover: {endpointId, since, until, recovered}; ' +
        'endpoint.bulk-replay: {endpointId, since, until, eventTypes, channel, status, statusCodeClass, scanned, messagesSent, skippedExpired, batches, error?}; ' +
        'application.purge_content: {until, scanned, messagesPurged, batches, error?}; ' +
        'application.stats: {since, until, appIds, appStats: [{appId, appUid, messageDestinations, messages, attempts}], batches}; ' +
        'event-type.aggregate: {event_types: [{appId, explicitlySubscribedEventTypes, hasCatchAllEndpoint}], batches}',
    }),
    updatedAt: Timestamp,
  },
  { title: 'BackgroundTaskOut' },
);
/** A message tag as Svix allows it: letters, digits and `-_./\\#`, at most 128 characters. */
export const TAG_PATTERN = '^[a-zA-Z0-9\\-_./\\\\#]+$';
const Tag = Type.String({ minLength: 1, maxLength: 128, pattern: TAG_PATTERN });
export const BulkReplayIn = Type.Object(
  {
    since: Timestamp,
    until: Type.Optional(Nullable(Timestamp)),
    eventTypes: Type.Optional(Nullable(Type.Array(EventTypeName, { uniqueItems: true, maxItems: 1000, description: 'Only messages of these event types' }))),
    channel: Type.Optional(Nullable(Channels.items)),
    tag: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128, pattern: TAG_PATTERN, description: 'Only messages carrying this tag' }))),
    status: Type.Optional(Nullable(Type.Integer({ enum: [0, 1, 2, 3, 4], description: "Only messages whose latest delivery to the endpoint has this status: 0 success, 1 pending, 2 fail, 3 sending, 4 canceled" }))),
    statusCodeClass: Type.Optional(
      Nullable(Type.Integer({ enum: [0, 100, 200, 300, 400, 500], description: "Only messages whose latest attempt to the endpoint got an answer of this class (0: no answer)" })),
    ),
  },
  { title: 'BulkReplayIn' },
);
export const ExpungeAllContentsOut = Type.Object(
  { id: Type.String({ description: 'qtask_…' }), status: Type.String({ enum: ['running', 'finished', 'failed'] }), task: Type.String(), updatedAt: Timestamp },
  { title: 'ExpungeAllContentsOut' },
);
export const SendExampleIn = Type.Object(
  {
    eventType: EventTypeName,
    exampleIndex: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1_000_000,
        description:
          "Which of the schema's `examples` to send (default 0, the first); 422 when it has fewer. Ignored when the schema has a single `example` instead",
      }),
    ),
  },
  { title: 'EventExampleIn' },
);


/**
 * What MessageIn.transformationsParams may hold. Tapwire runs no transformations; it honours the two
 * parameters Svix's clients send for a raw payload (messageInRaw) and refuses headers it cannot send.
 */
const TransformationsParams = Type.Object(
  {
    rawPayload: Type.Optional(Type.String({
      description: 'The request body to deliver instead of `payload`, byte-for-byte (as UTF-8): any text, JSON or not. `payload` may then be `{}`',
    })),
    headers: Type.Optional(Nullable(Type.Record(Type.String(), Type.String({ maxLength: 256 }), {
      description:
        'Only `content-type` (any case): the media type the payload is delivered with instead of application/json, ' +
        'e.g. `application/xml` or `text/plain; charset=utf-8`. Any other header is refused (422)',
    }))),
  },
  { additionalProperties: true, description: 'Raw (non-JSON) payloads: see rawPayload and headers. Other keys are ignored, as Svix does without transformations' },
);

export const MessageIn = Type.Object(
  {
    eventType: EventTypeName,
    payload: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Any JSON object; delivered byte-for-byte as sent' })),
    data: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Alias of payload' })),
    eventId: Type.Optional(Nullable(Uid)),
    channels: Type.Optional(Nullable(Type.Array(Channel, { minItems: 1, maxItems: 10, description: 'Up to 10; endpoints listening on any of them get the message' }))),
    payloadRetentionPeriod: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 90, description: 'Days; default 90' }))),
    payloadRetentionHours: Type.Optional(
      Nullable(Type.Integer({ minimum: 1, maximum: 2160, description: 'Hours; instead of payloadRetentionPeriod (giving both is a 422, as in Svix)' })),
    ),
    application: Type.Optional(Nullable(ApplicationIn)),
    tags: Type.Optional(Nullable(Type.Array(Tag, {
      maxItems: 5,
      uniqueItems: true,
      description: 'Free-form labels to filter the message and attempt lists by (`tag`); at most 5, unique',
    }))),
    deliverAt: Type.Optional(Nullable(Type.String({
      format: 'date-time',
      description:
        'Scheduled delivery: the message is accepted (202) and stored at once, and its deliveries are due at this time ' +
        '(best effort; never earlier). Must be at least one minute and no more than 24 hours in the future (5 s of clock ' +
        'skew allowed), else 422. Payload retention counts from this time',
    }))),
    transformationsParams: Type.Optional(Nullable(TransformationsParams)),
  },
  { title: 'MessageIn' },
);

export const MessagePrecheckIn = Type.Object(
  {
    eventType: EventTypeName,
    channels: Type.Optional(Nullable(Type.Array(Channels.items, { ...channelListLimits(), uniqueItems: true }))),
  },
  { title: 'MessagePrecheckIn' },
);
export const MessagePrecheckOut = Type.Object(
  { active: Type.Boolean({ description: 'Whether an enabled endpoint would get a message of this event type and channels' }) },
  { title: 'MessagePrecheckOut' },
);
export const BulkExpungeContentsIn = Type.Object(
  { ids: Type.Optional(Type.Array(Uid, { uniqueItems: true, description: 'Ids or eventIds of the messages whose payloads to delete (default none)' })) },
  { title: 'BulkExpungeContentsIn' },
);
export const BulkExpungeContentsOut = Type.Object(
  {
    results: Type.Record(Type.String(), Type.Union([Type.Literal('expunged'), Type.Literal('not-found')]), {
      description: 'For each id or eventId given: expunged, or not-found when it names no message of the application',
    }),
  },
  { title: 'BulkExpungeContentsOut' },
);

export const MessageOut = Type.Object(
  {
    id: Type.String({ description: 'msg_…' }),
    eventType: Type.String(),
    payload: Type.Object({}, {
      additionalProperties: true,
      description:
        'The JSON payload. Always an object: `{}` with with_content=false, `{"expired": true}` once purged; a raw payload ' +
        '(transformationsParams.rawPayload) reads as its JSON object when it is one, else `{}`, its exact text being in transformationsParams',
    }),
    eventId: Type.Optional(Type.String()),
    channels: Type.Optional(Type.Array(Type.String())),
    tags: Type.Optional(Type.Array(Type.String(), { description: 'The tags given; absent when none' })),
    deliverAt: Type.Optional(Nullable(Type.String({ format: 'date-time', description: 'When a scheduled message is delivered; absent when it was not scheduled' }))),
    transformationsParams: Type.Optional(Type.Object(
      {
        rawPayload: Type.Optional(Type.String({ description: 'The payload exactly as it is delivered (absent with with_content=false or once purged)' })),
        headers: Type.Object({ 'content-type': Type.String() }),
      },
      { description: 'Tapwire addition, only on a message sent with a raw payload or a content-type: the raw payload as sent, in the shape MessageIn takes it' },
    )),
    timestamp: Timestamp,
  },
  { title: 'MessageOut' },
);

const statusFields = {
  status: Type.Integer({ description: '0 success, 1 pending, 2 fail, 3 sending, 4 canceled' }),
  statusText: Type.String(),
  nextAttempt: Type.Optional(Timestamp),
};
export const EndpointMessageOut = Type.Object({ ...MessageOut.properties, ...statusFields }, { title: 'EndpointMessageOut' });
export const MessageEndpointOut = Type.Object({ ...EndpointOut.properties, ...statusFields }, { title: 'MessageEndpointOut' });

export const MessageAttemptOut = Type.Object(
  {
    id: Type.String({ description: 'atmpt_…' }),
    msgId: Type.String(),
    endpointId: Type.String(),
    url: Type.String(),
    response: Type.String({
      description:
        'Response body (capped at 20 000 bytes) or the transport error. An attempt the network policy refused reads ' +
        "\"Blocked: the destination is not allowed by this server's network policy\" to application tokens; the admin token reads why",
    }),
    responseStatusCode: Type.Integer({ description: '0 when no response was received' }),
    responseDurationMs: Type.Integer(),
    status: Type.Integer({ description: '0 success, 2 fail, 4 canceled (no request was made: the endpoint was deleted or disabled, or the payload was gone)' }),
    statusText: Type.String(),
    triggerType: Type.Integer({ description: '0 scheduled, 1 manual' }),
    timestamp: Timestamp,
    msg: Type.Optional(Type.Object(MessageOut.properties, { description: 'With with_msg=true: the attempt\'s message, without its payload (`{}`), as Svix does' })),
  },
  { title: 'MessageAttemptOut' },
);

const FeatureFlags = Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: UID_PATTERN }), {
  maxItems: 100,
  uniqueItems: true,
  description:
    'Feature flags that hide this event type from portal tokens: a token sees it only when minted with at least one of them ' +
    '(AppPortalAccessIn.featureFlags). Empty or null: visible to every token. Wins over featureFlag when both are given',
});
const GroupName = Type.String({ maxLength: 256, pattern: UID_PATTERN, description: 'A group the event type belongs to (a label for catalogues)' });

export const EventTypeIn = Type.Object(
  {
    name: EventTypeName,
    description: Type.String({ maxLength: 8192, pattern: NoControlChars }),
    archived: Type.Optional(Type.Boolean()),
    deprecated: Type.Optional(Type.Boolean()),
    schemas: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
    featureFlag: Type.Optional(Nullable(Type.String({ maxLength: 256, pattern: UID_PATTERN, description: 'Deprecated by Svix: the same as featureFlags with this one flag' }))),
    featureFlags: Type.Optional(Nullable(FeatureFlags)),
    groupName: Type.Optional(Nullable(GroupName)),
  },
  { title: 'EventTypeIn' },
);
export const EventTypeUpdate = Type.Object(
  {
    description: Type.String({ maxLength: 8192, pattern: NoControlChars }),
    archived: Type.Optional(Type.Boolean()),
    deprecated: Type.Optional(Type.Boolean()),
    schemas: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
    featureFlag: Type.Optional(Nullable(Type.String({ maxLength: 256, pattern: UID_PATTERN, description: 'Deprecated by Svix: the same as featureFlags with this one flag' }))),
    featureFlags: Type.Optional(Nullable(FeatureFlags)),
    groupName: Type.Optional(Nullable(GroupName)),
  },
  { title: 'EventTypeUpdate' },
);
export const EventTypePatch = Type.Partial(EventTypeUpdate, { title: 'EventTypePatch' });
export const EventTypeOut = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    archived: Type.Boolean(),
    deprecated: Type.Boolean(),
    schemas: Nullable(Type.Record(Type.String(), Type.Unknown())),
    featureFlags: Type.Optional(Type.Array(Type.String(), { description: 'Absent when the type is behind no flag' })),
    featureFlag: Type.Optional(Type.String({ description: 'The first of featureFlags (Svix’s older field)' })),
    groupName: Type.Optional(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'EventTypeOut' },
);

export const PortalCapability = Type.Union(
  PORTAL_CAPABILITIES.map((capability) => Type.Literal(capability)),
  { title: 'AppPortalCapability', description: 'What a portal token may do besides reading (ViewBase, always required)' },
);
export const AppPortalAccessIn = Type.Object(
  {
    application: Type.Optional(Nullable(ApplicationIn)),
    expiry: Type.Optional(Nullable(Type.Integer({ minimum: 60, maximum: 7 * 86_400, description: 'Token lifetime in seconds; default 7 days, the maximum' }))),
    readOnly: Type.Optional(Nullable(Type.Boolean({ description: 'Deprecated by Svix: the same as capabilities ["ViewBase"]' }))),
    capabilities: Type.Optional(Nullable(Type.Array(PortalCapability, { uniqueItems: true, description: 'Default: every capability' }))),
    featureFlags: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100, uniqueItems: true }))),
    sessionId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 256 }))),
  },
  { title: 'AppPortalAccessIn', additionalProperties: true },
);
export const ApplicationTokenExpireIn = Type.Object(
  {
    expiry: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 7 * 86_400, description: 'Seconds until the tokens stop working; default 0 (at once)' }))),
    sessionIds: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000, description: 'Only tokens minted with one of these sessions' }))),
  },
  { title: 'ApplicationTokenExpireIn', additionalProperties: true },
);
export const AppPortalAccessOut = Type.Object({ url: Type.String(), token: Type.String() }, { title: 'AppPortalAccessOut' });
export const DashboardAccessOut = Type.Object({ url: Type.String(), token: Type.String() }, { title: 'DashboardAccessOut' });

export const HttpErrorOut = Type.Object({ code: Type.String(), detail: Type.String() }, { title: 'HttpErrorOut' });
export const HttpValidationError = Type.Object(
  {
    detail: Type.Array(
      Type.Object(
        {
          loc: Type.Array(Type.String(), { description: 'Where the problem is, e.g. ["body", "channels", "0"]; array indices are strings too' }),
          msg: Type.String(),
          type: Type.String(),
        },
        { title: 'ValidationError' },
      ),
    ),
  },
  { title: 'HTTPValidationError' },
);

/** Wrap an item schema in Svix's list envelope. */
export function ListResponse(item: TSchema, name: string): TSchema {
  return Type.Object(
    {
      data: Type.Array(item),
      iterator: Nullable(Type.String()),
      prevIterator: Type.Optional(Nullable(Type.String())),
      done: Type.Boolean(),
    },
    { title: `ListResponse_${name}_` },
  );
}

// Integrations (keys of one application) and operational webhook endpoints -------------------
const IntegrationFeatureFlags = Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: UID_PATTERN }), {
  maxItems: 25,
  description: 'The feature flags whose event types the key may see (as a portal token with these flags)',
});
const integrationFields = { name: Type.String({ minLength: 1, maxLength: 1024, pattern: NoControlChars }), featureFlags: Type.Optional(Nullable(IntegrationFeatureFlags)) };
export const IntegrationIn = Type.Object(integrationFields, { title: 'IntegrationIn' });
export const IntegrationUpdate = Type.Object(integrationFields, { title: 'IntegrationUpdate' });
export const IntegrationOut = Type.Object(
  { id: Type.String({ description: 'integ_…' }), name: Type.String(), featureFlags: Type.Array(Type.String()), createdAt: Timestamp, updatedAt: Timestamp },
  { title: 'IntegrationOut' },
);
export const IntegrationKeyOut = Type.Object(
  { key: Type.String({ description: 'A bearer token scoped to the application (`tw_integ_…`); it never expires' }) },
  { title: 'IntegrationKeyOut' },
);

const operationalEndpointFields = {
  url: Url,
  description: Type.Optional(Type.String({ maxLength: 4096, pattern: NoControlChars })),
  uid: Type.Optional(Nullable(Uid)),
  disabled: Type.Optional(Type.Boolean()),
  eventTypes: Type.Optional(Nullable(Type.Array(EventTypeName, { maxItems: 100, description: 'Operational event types sent to it (endpoint.created, message.attempt.exhausted…); absent or null: all' }))),
  filterTypes: Type.Optional(Nullable(Type.Array(EventTypeName, { maxItems: 100, description: 'The 1.x name of eventTypes' }))),
  throttleRate: Type.Optional(Nullable(ThrottleRate)),
  rateLimit: Type.Optional(Nullable(ThrottleRate)),
  metadata: Type.Optional(Metadata),
};
export const OperationalWebhookEndpointIn = Type.Object(
  {
    ...operationalEndpointFields,
    secret: Type.Optional(Nullable(Type.String({ description: 'Signing secret; generated when absent (the formats of an endpoint secret)' }))),
    headers: Type.Optional(Nullable(Headers)),
  },
  { title: 'OperationalWebhookEndpointIn' },
);
export const OperationalWebhookEndpointUpdate = Type.Object(operationalEndpointFields, { title: 'OperationalWebhookEndpointUpdate' });
export const OperationalWebhookEndpointOut = Type.Object(
  {
    id: Type.String({ description: 'ep_…' }),
    url: Type.String(),
    description: Type.String(),
    uid: Type.Optional(Uid),
    disabled: Type.Boolean(),
    eventTypes: Type.Optional(Type.Array(Type.String())),
    filterTypes: Type.Optional(Type.Array(Type.String())),
    throttleRate: Type.Optional(Type.Integer()),
    rateLimit: Type.Optional(Type.Integer()),
    metadata: Metadata,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'OperationalWebhookEndpointOut' },
);

// Tapwire additions for the dashboard ---------------------------------------------------------

export const AttemptsOverTimeOut = Type.Object(
  {
    since: Timestamp,
    until: Timestamp,
    bucketSeconds: Type.Number({ description: 'Width of each bucket' }),
    buckets: Type.Array(Type.Object({ start: Timestamp, success: Type.Integer(), fail: Type.Integer() })),
    total: Type.Object({ success: Type.Integer(), fail: Type.Integer() }),
  },
  { title: 'AttemptsOverTimeOut', description: 'Attempts by outcome per time bucket, every bucket of the window included' },
);

export const QueueStatsOut = Type.Object(
  {
    pending: Type.Integer({ description: 'Deliveries waiting for an attempt (due now or later), not counting those in flight' }),
    due: Type.Integer({ description: 'Of those, the ones already due' }),
    oldestDueAt: Nullable(Timestamp),
    oldestDueAgeSeconds: Nullable(Type.Number({ description: 'How long the oldest due delivery has waited past its due time' })),
  },
  { title: 'QueueStatsOut' },
);

const EndpointHealthItemOut = Type.Object({
  appId: Type.String(),
  appName: Nullable(Type.String()),
  endpointId: Type.String(),
  url: Type.String(),
  description: Type.String(),
  disabled: Type.Boolean(),
  failingSince: Nullable(Timestamp),
  updatedAt: Timestamp,
});

export const EndpointHealthOut = Type.Object(
  {
    since: Timestamp,
    until: Timestamp,
    failing: Type.Array(EndpointHealthItemOut, { description: 'Enabled endpoints failing right now, longest first' }),
    disabled: Type.Array(EndpointHealthItemOut, { description: 'Disabled endpoints, most recently changed first' }),
    slowest: Type.Array(
      Type.Object({
        appId: Type.String(),
        appName: Nullable(Type.String()),
        endpointId: Type.String(),
        url: Nullable(Type.String({ description: 'null when the endpoint was deleted since' })),
        attempts: Type.Integer(),
        avgDurationMs: Type.Number(),
        maxDurationMs: Type.Number(),
      }),
      { description: 'Endpoints by average attempt duration in the window, slowest first' },
    ),
  },
  { title: 'EndpointHealthOut' },
);

export const WhoAmIOut = Type.Object(
  {
    kind: Type.Union([Type.Literal('admin'), Type.Literal('app')]),
    app: Type.Optional(ApplicationOut),
    capabilities: Type.Optional(Type.Array(PortalCapability, { description: 'What an app-scoped token may do (the portal hides the rest)' })),
    featureFlags: Type.Optional(Type.Array(Type.String())),
  },
  { title: 'WhoAmIOut', description: 'Who the bearer token acts as; app-scoped tokens also get their application' },
);

export const UiConfigOut = Type.Object(
  {
    brand: Type.Object({ name: Type.String(), color: Type.String({ pattern: '^#[0-9a-f]{3,6}$' }), logoUrl: Nullable(Type.String()) }),
    version: Type.String(),
  },
  { title: 'UiConfigOut' },
);

// Svix's statistics, environment and OpenAPI import operations -----------------------------------

const TaskStatus = Type.String({ enum: ['running', 'finished', 'failed'] });
export const AppUsageStatsIn = Type.Object(
  {
    since: Timestamp,
    until: Timestamp,
    appIds: Type.Optional(
      Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: UID_PATTERN }), { uniqueItems: true, maxItems: 1000, description: 'Application ids or uids; absent or null = every application' })),
    ),
  },
  { title: 'AppUsageStatsIn' },
);
export const AppUsageStatsOut = Type.Object(
  {
    id: Type.String({ description: 'qtask_…' }),
    status: TaskStatus,
    task: Type.String({ enum: ['application.stats'] }),
    updatedAt: Timestamp,
    unresolvedAppIds: Type.Array(Type.String(), { description: 'The given ids or uids that are no application' }),
  },
  { title: 'AppUsageStatsOut' },
);
export const AggregateEventTypesOut = Type.Object(
  { id: Type.String({ description: 'qtask_…' }), status: TaskStatus, task: Type.String({ enum: ['event-type.aggregate'] }), updatedAt: Timestamp },
  { title: 'AggregateEventTypesOut' },
);

export const EventTypeImportOpenApiIn = Type.Object(
  {
    spec: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'The OpenAPI document as a JSON object' }))),
    specRaw: Type.Optional(Nullable(Type.String({ description: 'The OpenAPI document as JSON text (YAML is not read)' }))),
    replaceAll: Type.Optional(Type.Boolean({ description: 'Archive the event types the document does not have (default false)' })),
    dryRun: Type.Optional(Type.Boolean({ description: 'Change nothing; report what would change (default false)' })),
  },
  { title: 'EventTypeImportOpenApiIn' },
);
const EventTypeFromOpenApi = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    schemas: Nullable(Type.Record(Type.String(), Type.Unknown())),
    deprecated: Type.Boolean(),
    featureFlags: Type.Optional(Type.Array(Type.String())),
    groupName: Type.Optional(Type.String()),
  },
  { title: 'EventTypeFromOpenApi' },
);
export const EventTypeImportOpenApiOut = Type.Object(
  {
    data: Type.Object({
      modified: Type.Array(Type.String(), { description: 'Event types created or updated (empty on a dry run)' }),
      to_modify: Nullable(Type.Array(EventTypeFromOpenApi, { description: 'Dry run: the event types that would be created or updated' })),
      archived: Type.Array(Type.String(), { description: 'Tapwire addition: with replaceAll, the event types archived because the document lacks them' }),
      to_archive: Nullable(Type.Array(Type.String(), { description: 'Tapwire addition: dry run with replaceAll, the event types that would be archived' })),
    }),
  },
  { title: 'EventTypeImportOpenApiOut' },
);

export const EnvironmentIn = Type.Object(
  {
    eventTypes: Type.Optional(Nullable(Type.Array(EventTypeIn, { maxItems: 10_000 }))),
    settings: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'Must be empty: Tapwire has no environment settings (they are environment variables)' }))),
    connectors: Type.Optional(Nullable(Type.Array(Type.Unknown(), { description: 'Must be empty: Tapwire has no connectors' }))),
    transformationTemplates: Type.Optional(Nullable(Type.Array(Type.Unknown(), { description: 'Must be empty: Tapwire has no transformation templates' }))),
  },
  { title: 'EnvironmentIn' },
);
export const EnvironmentOut = Type.Object(
  {
    version: Type.Integer(),
    createdAt: Timestamp,
    eventTypes: Type.Array(EventTypeOut, { description: 'Every event type, archived ones included, with schemas' }),
    settings: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'Always null: Tapwire has no environment settings' })),
    connectors: Type.Array(Type.Unknown(), { description: 'Always empty' }),
    transformationTemplates: Type.Array(Type.Unknown(), { description: 'Always empty (older clients read this list)' }),
  },
  { title: 'EnvironmentOut' },
);

export const ListenSessionOut = Type.Object(
  {
    id: Type.String({ description: 'The session id the CLI chose; kept across its reconnects' }),
    appId: Type.String(),
    appUid: Nullable(Type.String()),
    endpointId: Type.String({ description: 'The temporary endpoint (uid `listen-<id>`) deliveries to this session go through' }),
    sourceId: Nullable(Type.String({ description: 'The ingest source listened to; null for an application' })),
    forwardTo: Type.String({ description: 'The local URL the CLI forwards to, as it reported it' }),
    eventTypes: Nullable(Type.Array(Type.String())),
    client: Type.String({ description: 'What the CLI reported itself as (host, version)' }),
    createdAt: Timestamp,
    lastSeenAt: Timestamp,
    detachedAt: Nullable(Timestamp),
    connected: Type.Boolean({ description: 'A server process holds its WebSocket now' }),
  },
  { title: 'ListenSessionOut' },
);
