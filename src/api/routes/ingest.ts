// The ingest routes (Svix's Ingest API): sources under /ingest/api/v1/source (admin token only), their
// ingest endpoints under …/{source_id}/endpoint, and the public ingest URL itself (/ingest/in/{token})
// where providers post their webhooks. The bodies keep Svix's shapes; see docs/ingest.md.
import { Type, type Static } from '@sinclair/typebox';
import type { IngestSource } from '../../domain/ingest.js';
import { INGEST_SOURCE_TYPES } from '../../domain/ingest.js';
import type { Endpoint } from '../../domain/types.js';
import type { ServiceContext } from '../../services/context.js';
import { describeHeaders, endpointVerificationKey, type EndpointInput } from '../../services/endpoints.js';
import * as ingest from '../../services/ingest.js';
import { ID_CURSOR, LIST_QUERY, readListQuery } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { pageOut } from '../serializers.js';

const base = '/ingest/api/v1/source';
const SOURCE_CURSOR = /^src_[0-9A-Za-z]{27}$/;
/** The public route providers post to; the server hands its handler the raw body bytes (server.ts). */
export const INGEST_RECEIVE_URL = `${ingest.INGEST_PATH}:token`;

const Metadata = Type.Record(Type.String(), Type.String(), { description: 'Free-form string key/values' });
const Timestamp = Type.String({ format: 'date-time' });
const Name = Type.String({ minLength: 1, maxLength: 256 });
const ThrottleRate = Type.Integer({ minimum: 0, maximum: 65_535, description: 'Messages per second; 0 or null means no limit' });
const EndpointUrl = Type.String({ minLength: 1, maxLength: 65_536, description: 'http(s) URL the events are forwarded to' });

const IngestSourceIn = Type.Object(
  {
    name: Name,
    uid: Type.Optional(S.Nullable(S.Uid)),
    metadata: Type.Optional(Metadata),
    type: Type.String({ description: `The provider: ${INGEST_SOURCE_TYPES.join(', ')} (Svix's other types are refused with 422)` }),
    config: Type.Optional(
      S.Nullable(
        Type.Object(
          { secret: Type.Optional(S.Nullable(Type.String({ description: "The provider's signing secret: required for svix, stripe, shopify and slack, optional for github (none: requests are not verified), ignored for generic-webhook" }))) },
          { additionalProperties: true },
        ),
      ),
    ),
  },
  { title: 'IngestSourceIn' },
);
const IngestSourceOut = Type.Object(
  {
    id: Type.String({ description: 'src_…' }),
    uid: Type.Optional(S.Uid),
    name: Type.String(),
    type: Type.String(),
    config: Type.Object({}, { description: 'Always empty: the signing secret is never returned' }),
    ingestUrl: Type.String({ description: 'The URL to give the provider: TAPWIRE_PUBLIC_URL + /ingest/in/ + an unguessable token' }),
    metadata: Metadata,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'IngestSourceOut' },
);
const RotateTokenOut = Type.Object({ ingestUrl: Type.String() }, { title: 'RotateTokenOut' });
const IngestSourceConsumerPortalAccessIn = Type.Object(
  {
    expiry: Type.Optional(S.Nullable(Type.Integer({ minimum: 3600, maximum: 604_800, description: 'Lifetime of the token in seconds, 1 hour to 7 days; default 7 days' }))),
    readOnly: Type.Optional(S.Nullable(Type.Boolean({ description: 'A read-only portal' }))),
  },
  { title: 'IngestSourceConsumerPortalAccessIn' },
);

const ingestEndpointFields = {
  url: EndpointUrl,
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  throttleRate: Type.Optional(S.Nullable(ThrottleRate)),
  rateLimit: Type.Optional(S.Nullable({ ...ThrottleRate, description: 'The 1.x clients\' name of throttleRate' })),
  uid: Type.Optional(S.Nullable(S.Uid)),
  disabled: Type.Optional(Type.Boolean()),
  metadata: Type.Optional(Metadata),
};
const IngestEndpointIn = Type.Object(
  {
    ...ingestEndpointFields,
    secret: Type.Optional(S.Nullable(Type.String({ description: 'Signing secret (the formats of an endpoint secret); generated when absent' }))),
    headers: Type.Optional(S.Nullable(Type.Record(Type.String(), Type.String()))),
  },
  { title: 'IngestEndpointIn' },
);
const IngestEndpointUpsertIn = Type.Object(ingestEndpointFields, { title: 'IngestEndpointUpsertIn' });
const IngestEndpointOut = Type.Object(
  {
    id: Type.String({ description: 'ep_…' }),
    url: Type.String(),
    description: Type.String(),
    uid: Type.Optional(S.Uid),
    throttleRate: Type.Optional(Type.Integer()),
    rateLimit: Type.Optional(Type.Integer({ description: 'The same as throttleRate, for the 1.x clients' })),
    disabled: Type.Boolean(),
    metadata: Metadata,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: 'IngestEndpointOut' },
);
const IngestReceiveOut = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'The message the event is kept as (absent for a duplicate whose message is gone)' })),
    challenge: Type.Optional(Type.String({ description: "Slack's URL verification: the challenge, answered back" })),
  },
  { title: 'IngestReceiveOut' },
);

export function ingestSourceOut(ctx: ServiceContext, source: IngestSource): Record<string, unknown> {
  return {
    id: source.id,
    ...(source.uid !== null ? { uid: source.uid } : {}),
    name: source.name,
    type: source.type,
    config: {},
    ingestUrl: ingest.ingestUrlOf(ctx, source),
    metadata: source.metadata,
    createdAt: source.createdAt.toISOString(),
    updatedAt: source.updatedAt.toISOString(),
  };
}

export function ingestEndpointOut(endpoint: Endpoint): Record<string, unknown> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    ...(endpoint.uid !== null ? { uid: endpoint.uid } : {}),
    ...(endpoint.throttleRate !== null ? { throttleRate: endpoint.throttleRate, rateLimit: endpoint.throttleRate } : {}),
    disabled: endpoint.disabled,
    metadata: endpoint.metadata,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

function sourceInput(body: Static<typeof IngestSourceIn>): ingest.IngestSourceInput {
  return {
    name: body.name,
    type: body.type,
    ...(body.uid !== undefined ? { uid: body.uid } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
    ...(body.config != null ? { config: body.config as Record<string, unknown> } : {}),
  };
}

function endpointInput(body: Partial<Static<typeof IngestEndpointIn>>): EndpointInput {
  return {
    ...(body.url !== undefined ? { url: body.url } : {}),
    ...(body.description !== undefined ? { description: body.description } : {}),
    ...(body.uid !== undefined ? { uid: body.uid } : {}),
    ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
    ...(body.throttleRate !== undefined || body.rateLimit !== undefined ? { throttleRate: body.throttleRate ?? body.rateLimit ?? null } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
    ...(body.secret != null ? { secret: body.secret } : {}),
    ...(body.headers != null ? { headers: body.headers } : {}),
  };
}

const SOURCE_TAG = 'Ingest Source';
const ENDPOINT_TAG = 'Ingest Endpoint';
const ep = `${base}/:source_id/endpoint`;

/** The routes of the Ingest API and the public ingest URL. */
export function ingestRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: base, operationId: 'ingest_source.list', summary: 'List ingest sources', tag: SOURCE_TAG, access: 'admin',
      query: LIST_QUERY, responses: { 200: S.ListResponse(IngestSourceOut, 'IngestSourceOut') },
      handler: async (req) => pageOut(await ingest.listIngestSources(ctx, readListQuery(req.query, SOURCE_CURSOR, 'ascending')), (s) => ingestSourceOut(ctx, s)),
    }),
    defineRoute({
      method: 'POST', url: base, operationId: 'ingest_source.create', summary: 'Create an ingest source (and its ingest URL)', tag: SOURCE_TAG, access: 'admin',
      body: IngestSourceIn, responses: { 201: IngestSourceOut },
      // The answer holds the ingest URL, whose token is a credential: never cached for idempotency replay.
      carriesCredentials: true,
      handler: async (req, reply) => reply.status(201).send(ingestSourceOut(ctx, await ingest.createIngestSource(ctx, sourceInput(req.body)))),
    }),
    defineRoute({
      method: 'GET', url: `${base}/:source_id`, operationId: 'ingest_source.get', summary: 'Get an ingest source', tag: SOURCE_TAG, access: 'admin',
      responses: { 200: IngestSourceOut },
      handler: async (req) => ingestSourceOut(ctx, await ingest.getIngestSource(ctx, req.params.source_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${base}/:source_id`, operationId: 'ingest_source.update', summary: 'Replace (or create, by uid) an ingest source', tag: SOURCE_TAG, access: 'admin',
      description: 'Its token, ingest endpoints and events stay. Answers 200 when it replaced the source, 201 when it created one.',
      body: IngestSourceIn, responses: { 200: IngestSourceOut, 201: IngestSourceOut },
      handler: async (req, reply) => {
        const { source, created } = await ingest.upsertIngestSource(ctx, req.params.source_id, sourceInput(req.body));
        return reply.status(created ? 201 : 200).send(ingestSourceOut(ctx, source));
      },
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:source_id`, operationId: 'ingest_source.delete', summary: 'Delete an ingest source, its endpoints and its events', tag: SOURCE_TAG, access: 'admin',
      responses: { 204: null },
      handler: async (req, reply) => {
        await ingest.deleteIngestSource(ctx, req.params.source_id);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'POST', url: `${base}/:source_id/token/rotate`, operationId: 'ingest_source.rotate_token', summary: "Replace the ingest URL's token; the previous one works for 48 hours more", tag: SOURCE_TAG, access: 'admin',
      responses: { 200: RotateTokenOut },
      carriesCredentials: true,
      handler: async (req) => ({ ingestUrl: await ingest.rotateIngestToken(ctx, req.params.source_id) }),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:source_id/dashboard`, operationId: 'ingest_source.dashboard', summary: "A portal link for the source: its events, attempts and ingest endpoints", tag: SOURCE_TAG, access: 'admin',
      description: "Svix's ingest dashboard (1.x `ingest.dashboard`, 2.x `ingest.authentication.consumerPortalAccess`): a token of the source's application and the portal URL carrying it.",
      body: IngestSourceConsumerPortalAccessIn, bodyOptional: true, responses: { 200: S.AppPortalAccessOut },
      carriesCredentials: true,
      handler: async (req) => ingest.sourcePortalAccess(ctx, req.params.source_id, req.body),
    }),
    defineRoute({
      method: 'GET', url: ep, operationId: 'ingest_endpoint.list', summary: "List an ingest source's endpoints", tag: ENDPOINT_TAG, access: 'admin',
      query: LIST_QUERY, responses: { 200: S.ListResponse(IngestEndpointOut, 'IngestEndpointOut') },
      handler: async (req) => pageOut(await ingest.listIngestEndpoints(ctx, req.params.source_id, readListQuery(req.query, ID_CURSOR.ep, 'descending')), ingestEndpointOut),
    }),
    defineRoute({
      method: 'POST', url: ep, operationId: 'ingest_endpoint.create', summary: 'Create an ingest endpoint: where the source forwards its events', tag: ENDPOINT_TAG, access: 'admin',
      body: IngestEndpointIn, responses: { 201: IngestEndpointOut },
      handler: async (req, reply) => reply.status(201).send(ingestEndpointOut(await ingest.createIngestEndpoint(ctx, req.params.source_id, endpointInput(req.body)))),
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id`, operationId: 'ingest_endpoint.get', summary: 'Get an ingest endpoint', tag: ENDPOINT_TAG, access: 'admin',
      responses: { 200: IngestEndpointOut },
      handler: async (req) => ingestEndpointOut(await ingest.getIngestEndpoint(ctx, req.params.source_id, req.params.endpoint_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${ep}/:endpoint_id`, operationId: 'ingest_endpoint.update', summary: 'Replace (or create, by uid) an ingest endpoint', tag: ENDPOINT_TAG, access: 'admin',
      description: 'Its secret and custom headers are kept. Answers 200 when it replaced the endpoint, 201 when it created one.',
      body: IngestEndpointUpsertIn, responses: { 200: IngestEndpointOut, 201: IngestEndpointOut },
      handler: async (req, reply) => {
        const { endpoint, created } = await ingest.upsertIngestEndpoint(ctx, req.params.source_id, req.params.endpoint_id, endpointInput(req.body));
        return reply.status(created ? 201 : 200).send(ingestEndpointOut(endpoint));
      },
    }),
    defineRoute({
      method: 'DELETE', url: `${ep}/:endpoint_id`, operationId: 'ingest_endpoint.delete', summary: 'Delete an ingest endpoint', tag: ENDPOINT_TAG, access: 'admin',
      responses: { 204: null },
      handler: async (req, reply) => {
        await ingest.deleteIngestEndpoint(ctx, req.params.source_id, req.params.endpoint_id);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id/secret`, operationId: 'ingest_endpoint.get_secret', summary: "Get an ingest endpoint's signing secret", tag: ENDPOINT_TAG, access: 'admin',
      responses: { 200: S.EndpointSecretOut },
      handler: async (req) => ({ key: endpointVerificationKey(await ingest.getIngestEndpoint(ctx, req.params.source_id, req.params.endpoint_id)) }),
    }),
    defineRoute({
      method: 'POST', url: `${ep}/:endpoint_id/secret/rotate`, operationId: 'ingest_endpoint.rotate_secret', summary: "Rotate an ingest endpoint's signing secret", tag: ENDPOINT_TAG, access: 'admin',
      body: S.EndpointSecretRotateIn, bodyOptional: true, responses: { 204: null },
      handler: async (req, reply) => {
        const body = req.body;
        await ingest.rotateIngestEndpointSecret(ctx, req.params.source_id, req.params.endpoint_id, {
          ...(body.key !== undefined ? { key: body.key } : {}),
          ...(body.gracePeriodSeconds != null ? { gracePeriodSeconds: body.gracePeriodSeconds } : {}),
        });
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id/headers`, operationId: 'ingest_endpoint.get_headers', summary: 'Get the custom headers sent with its deliveries', tag: ENDPOINT_TAG, access: 'admin',
      responses: { 200: S.EndpointHeadersOut },
      handler: async (req) => describeHeaders(await ingest.getIngestEndpoint(ctx, req.params.source_id, req.params.endpoint_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${ep}/:endpoint_id/headers`, operationId: 'ingest_endpoint.update_headers', summary: 'Replace the custom headers sent with its deliveries', tag: ENDPOINT_TAG, access: 'admin',
      body: S.EndpointHeadersIn, responses: { 204: null },
      handler: async (req, reply) => {
        await ingest.setIngestEndpointHeaders(ctx, req.params.source_id, req.params.endpoint_id, req.body.headers);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'POST', url: INGEST_RECEIVE_URL, operationId: 'ingest.receive', summary: "A source's ingest URL: where the provider posts its webhooks", tag: SOURCE_TAG, access: 'public',
      description:
        "The raw body is verified with the provider's signature scheme (401 without detail when it fails; nothing is stored), kept as a message of the " +
        "source's application (eventId = the provider's event id) and answered 200 at once; the event is then forwarded to every ingest endpoint. " +
        "A provider's retry of an accepted event answers 200 and stores nothing. 404: no source has this token. 413: body over TAPWIRE_MAX_PAYLOAD_BYTES. " +
        "422: a body that is not UTF-8. The event id deduplicated on: Stripe's `id`, `X-GitHub-Delivery`, `X-Shopify-Webhook-Id`, Slack's `event_id`, " +
        "`webhook-id` (svix, and generic-webhook when the sender gives it). The event type: Stripe's `type`, `X-GitHub-Event`, `X-Shopify-Topic`, Slack's " +
        "`event.type`, the body's `type` (svix), else the source type. Forwarded with Tapwire's own headers, under their own names: X-GitHub-Event, " +
        "X-GitHub-Delivery, X-GitHub-Hook-Id, X-GitHub-Hook-Installation-Target-Id/-Type; X-Shopify-Topic, X-Shopify-Webhook-Id, X-Shopify-Shop-Domain, " +
        "X-Shopify-Api-Version, X-Shopify-Event-Id, X-Shopify-Triggered-At; X-Slack-Retry-Num, X-Slack-Retry-Reason. Provider signature headers are never " +
        "forwarded. Slack's url_verification is answered with its challenge and not stored.",
      responses: { 200: IngestReceiveOut },
      handler: async (req, reply) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const outcome = await ingest.receiveIngestEvent(ctx, req.params.token, { body, headers: req.headers });
        if (outcome.kind === 'challenge') return reply.status(200).send({ challenge: outcome.challenge });
        return reply.status(200).send(outcome.message ? { id: outcome.message.id } : {});
      },
    }),
  ];
}
