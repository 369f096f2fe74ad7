// The operational webhook endpoint routes (Svix's /api/v1/operational-webhook/endpoint): where
// Tapwire sends its own events (endpoint.disabled, message.attempt.exhausted…). Admin token only.
import type { Static } from '@sinclair/typebox';
import type { Endpoint } from '../../domain/types.js';
import type { ServiceContext } from '../../services/context.js';
import { describeHeaders, endpointVerificationKey, type EndpointInput } from '../../services/endpoints.js';
import * as ops from '../../services/operational-endpoints.js';
import { ID_CURSOR, LIST_QUERY, readListQuery } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { pageOut } from '../serializers.js';

const base = '/api/v1/operational-webhook/endpoint';

/** An endpoint as Svix shows an operational one: both field names of the filter and the rate, like every endpoint. */
export function operationalEndpointOut(endpoint: Endpoint): Record<string, unknown> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    ...(endpoint.uid !== null ? { uid: endpoint.uid } : {}),
    disabled: endpoint.disabled,
    ...(endpoint.eventTypes !== null ? { eventTypes: endpoint.eventTypes, filterTypes: endpoint.eventTypes } : {}),
    ...(endpoint.throttleRate !== null ? { throttleRate: endpoint.throttleRate, rateLimit: endpoint.throttleRate } : {}),
    metadata: endpoint.metadata,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

type Body = Static<typeof S.OperationalWebhookEndpointIn>;

function endpointInput(body: Partial<Body>): EndpointInput {
  const eventTypesGiven = body.eventTypes !== undefined || body.filterTypes !== undefined;
  return {
    ...(body.url !== undefined ? { url: body.url } : {}),
    ...(body.description !== undefined ? { description: body.description } : {}),
    ...(body.uid !== undefined ? { uid: body.uid } : {}),
    ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
    ...(eventTypesGiven ? { eventTypes: body.eventTypes ?? body.filterTypes ?? null } : {}),
    ...(body.throttleRate !== undefined || body.rateLimit !== undefined ? { throttleRate: body.throttleRate ?? body.rateLimit ?? null } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
    ...(body.secret != null ? { secret: body.secret } : {}),
    ...(body.headers != null ? { headers: body.headers } : {}),
  };
}

/** The routes under /api/v1/operational-webhook/endpoint. */
export function operationalWebhookRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: base, operationId: 'operational_webhook_endpoint.list', summary: 'List operational webhook endpoints', tag: 'Operational Webhook Endpoint', access: 'admin',
      query: LIST_QUERY, responses: { 200: S.ListResponse(S.OperationalWebhookEndpointOut, 'OperationalWebhookEndpointOut') },
      handler: async (req) => pageOut(await ops.listOperationalEndpoints(ctx, readListQuery(req.query, ID_CURSOR.ep, 'descending')), operationalEndpointOut),
    }),
    defineRoute({
      method: 'POST', url: base, operationId: 'operational_webhook_endpoint.create', summary: 'Create an operational webhook endpoint', tag: 'Operational Webhook Endpoint', access: 'admin',
      body: S.OperationalWebhookEndpointIn, responses: { 201: S.OperationalWebhookEndpointOut },
      handler: async (req, reply) => reply.status(201).send(operationalEndpointOut(await ops.createOperationalEndpoint(ctx, endpointInput(req.body)))),
    }),
    defineRoute({
      method: 'GET', url: `${base}/:endpoint_id`, operationId: 'operational_webhook_endpoint.get', summary: 'Get an operational webhook endpoint', tag: 'Operational Webhook Endpoint', access: 'admin',
      responses: { 200: S.OperationalWebhookEndpointOut },
      handler: async (req) => operationalEndpointOut(await ops.getOperationalEndpoint(ctx, req.params.endpoint_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${base}/:endpoint_id`, operationId: 'operational_webhook_endpoint.update', summary: 'Replace (or create, by uid) an operational webhook endpoint', tag: 'Operational Webhook Endpoint', access: 'admin',
      description: 'Answers 200 whether it replaced or created the endpoint, as Svix does.',
      body: S.OperationalWebhookEndpointUpdate, responses: { 200: S.OperationalWebhookEndpointOut },
      handler: async (req) => operationalEndpointOut((await ops.upsertOperationalEndpoint(ctx, req.params.endpoint_id, endpointInput(req.body))).endpoint),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:endpoint_id`, operationId: 'operational_webhook_endpoint.delete', summary: 'Delete an operational webhook endpoint', tag: 'Operational Webhook Endpoint', access: 'admin',
      responses: { 204: null },
      handler: async (req, reply) => {
        await ops.deleteOperationalEndpoint(ctx, req.params.endpoint_id);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${base}/:endpoint_id/secret`, operationId: 'operational_webhook_endpoint.get_secret', summary: "Get an operational webhook endpoint's signing secret", tag: 'Operational Webhook Endpoint', access: 'admin',
      responses: { 200: S.EndpointSecretOut },
      handler: async (req) => ({ key: endpointVerificationKey(await ops.getOperationalEndpoint(ctx, req.params.endpoint_id)) }),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:endpoint_id/secret/rotate`, operationId: 'operational_webhook_endpoint.rotate_secret', summary: "Rotate an operational webhook endpoint's signing secret", tag: 'Operational Webhook Endpoint', access: 'admin',
      body: S.EndpointSecretRotateIn, bodyOptional: true, responses: { 204: null },
      handler: async (req, reply) => {
        const body = req.body;
        await ops.rotateOperationalEndpointSecret(ctx, req.params.endpoint_id, {
          ...(body.key !== undefined ? { key: body.key } : {}),
          ...(body.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: body.gracePeriodSeconds } : {}),
        });
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${base}/:endpoint_id/headers`, operationId: 'operational_webhook_endpoint.get_headers', summary: 'Get the custom headers sent with its webhooks', tag: 'Operational Webhook Endpoint', access: 'admin',
      responses: { 200: S.EndpointHeadersOut },
      handler: async (req) => describeHeaders(await ops.getOperationalEndpoint(ctx, req.params.endpoint_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${base}/:endpoint_id/headers`, operationId: 'operational_webhook_endpoint.update_headers', summary: 'Replace the custom headers sent with its webhooks', tag: 'Operational Webhook Endpoint', access: 'admin',
      body: S.EndpointHeadersIn, responses: { 204: null },
      handler: async (req, reply) => {
        await ops.setOperationalEndpointHeaders(ctx, req.params.endpoint_id, req.body.headers);
        return reply.status(204).send();
      },
    }),
  ];
}
