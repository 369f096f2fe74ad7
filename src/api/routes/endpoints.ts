// The endpoint routes: CRUD, the signing secret, custom headers, stats, recover and replay, an
// example event, and the messages sent to one endpoint.
import type { Static } from '@sinclair/typebox';
import { validationError } from '../../errors/tapwire-error.js';
import * as backgroundTasks from '../../services/background-tasks.js';
import type { ServiceContext } from '../../services/context.js';
import { featureFlagsOf, type Principal } from '../../services/auth.js';
import * as endpoints from '../../services/endpoints.js';
import * as messages from '../../services/messages.js';
import { ID_CURSOR, LIST_QUERY, MESSAGE_FILTERS, parseTimestamp, readBoolean, readDate, readListQuery, readMessageFilters, readStatus } from '../query.js';
import { defineRoute, type ApiOptions, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { deliveryStatusFields, endpointOut, messageOut, pageOut, startedTaskOut } from '../serializers.js';

const ep = '/api/v1/app/:app_id/endpoint';

/** The routes under /api/v1/app/:app_id/endpoint. */
export function endpointRoutes(ctx: ServiceContext, options: ApiOptions): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: ep, operationId: 'endpoint.list', summary: 'List endpoints', tag: 'Endpoint', access: 'app', needs: ['ViewBase'],
      query: LIST_QUERY, responses: { 200: S.ListResponse(S.EndpointOut, 'EndpointOut') },
      handler: async (req) => pageOut(await endpoints.listEndpoints(ctx, req.params.app_id, readListQuery(req.query, ID_CURSOR.ep, 'descending')), endpointOut),
    }),
    defineRoute({
      method: 'POST', url: ep, operationId: 'endpoint.create', summary: 'Create an endpoint', tag: 'Endpoint', access: 'app', needs: ['ManageEndpoint'],
      body: S.EndpointIn, responses: { 201: S.EndpointOut },
      handler: async (req, reply) => {
        const endpoint = await endpoints.createEndpoint(ctx, req.params.app_id, endpointInput(req.body, req.principal));
        return reply.status(201).send(endpointOut(endpoint));
      },
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id`, operationId: 'endpoint.get', summary: 'Get an endpoint', tag: 'Endpoint', access: 'app', needs: ['ViewBase'],
      responses: { 200: S.EndpointOut },
      handler: async (req) => endpointOut(await endpoints.getEndpoint(ctx, req.params.app_id, req.params.endpoint_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${ep}/:endpoint_id`, operationId: 'endpoint.update', summary: 'Replace (or create) an endpoint', tag: 'Endpoint', access: 'app', needs: ['ManageEndpoint'],
      body: S.EndpointUpdate, responses: { 200: S.EndpointOut, 201: S.EndpointOut },
      handler: async (req, reply) => {
        const { endpoint, created } = await endpoints.upsertEndpoint(ctx, req.params.app_id, req.params.endpoint_id, endpointInput(req.body, req.principal));
        return reply.status(created ? 201 : 200).send(endpointOut(endpoint));
      },
    }),
    defineRoute({
      method: 'PATCH', url: `${ep}/:endpoint_id`, operationId: 'endpoint.patch', summary: 'Change some fields of an endpoint', tag: 'Endpoint', access: 'app', needs: ['ManageEndpoint'],
      body: S.EndpointPatch, responses: { 200: S.EndpointOut },
      handler: async (req) => endpointOut(await endpoints.patchEndpoint(ctx, req.params.app_id, req.params.endpoint_id, endpointInput(req.body, req.principal))),
    }),
    defineRoute({
      method: 'DELETE', url: `${ep}/:endpoint_id`, operationId: 'endpoint.delete', summary: 'Delete an endpoint', tag: 'Endpoint', access: 'app', needs: ['ManageEndpoint'],
      responses: { 204: null },
      handler: async (req, reply) => {
        await endpoints.deleteEndpoint(ctx, req.params.app_id, req.params.endpoint_id);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id/secret`, operationId: 'endpoint.get_secret', summary: 'Get the signing secret', tag: 'Endpoint', access: 'app', needs: ['ViewEndpointSecret', 'ManageEndpointSecret', 'ManageEndpoint'],
      description: 'The key receivers verify with: the `whsec_` HMAC secret, or the `whpk_` public key of an endpoint that signs with an ed25519 (`whsk_`) key.',
      responses: { 200: S.EndpointSecretOut },
      handler: async (req) => ({ key: endpoints.endpointVerificationKey(await endpoints.getEndpoint(ctx, req.params.app_id, req.params.endpoint_id)) }),
    }),
    defineRoute({
      method: 'POST', url: `${ep}/:endpoint_id/secret/rotate`, operationId: 'endpoint.rotate_secret', summary: 'Rotate the signing secret', tag: 'Endpoint', access: 'app', needs: ['ManageEndpointSecret', 'ManageEndpoint'],
      description: 'Installs the given key (HMAC or ed25519, of any kind) or a generated `whsec_` secret. The previous key keeps signing beside it for `gracePeriodSeconds` (default 24 h), so deliveries carry one signature per valid key, newest first.',
      body: S.EndpointSecretRotateIn, bodyOptional: true, responses: { 204: null },
      handler: async (req, reply) => {
        const body = req.body;
        await endpoints.rotateEndpointSecret(ctx, req.params.app_id, req.params.endpoint_id, {
          ...(body.key !== undefined ? { key: body.key } : {}),
          ...(body.gracePeriodSeconds != null ? { gracePeriodSeconds: body.gracePeriodSeconds } : {}),
        });
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id/headers`, operationId: 'endpoint.get_headers', summary: 'Get the custom headers', tag: 'Endpoint', access: 'app', needs: ['ViewBase'],
      responses: { 200: S.EndpointHeadersOut },
      handler: async (req) => endpoints.describeHeaders(await endpoints.getEndpoint(ctx, req.params.app_id, req.params.endpoint_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${ep}/:endpoint_id/headers`, operationId: 'endpoint.update_headers', summary: 'Replace the custom headers', tag: 'Endpoint', access: 'app', needs: ['ManageEndpoint'],
      body: S.EndpointHeadersIn, responses: { 204: null },
      handler: async (req, reply) => {
        await endpoints.updateEndpointHeaders(ctx, req.params.app_id, req.params.endpoint_id, req.body.headers, 'replace');
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'PATCH', url: `${ep}/:endpoint_id/headers`, operationId: 'endpoint.patch_headers', summary: 'Add, change or remove (null) custom headers', tag: 'Endpoint', access: 'app', needs: ['ManageEndpoint'],
      body: S.EndpointHeadersPatchIn, responses: { 204: null },
      handler: async (req, reply) => {
        const body = req.body;
        const removals = Object.fromEntries((body.deleteHeaders ?? []).map((name) => [name, null]));
        await endpoints.updateEndpointHeaders(ctx, req.params.app_id, req.params.endpoint_id, { ...body.headers, ...removals }, 'merge');
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id/stats`, operationId: 'endpoint.get_stats', summary: 'Delivery counts by status', tag: 'Endpoint', access: 'app', needs: ['ViewBase'],
      query: { since: 'Start of the window (default 28 days before until)', until: 'End of the window (default now)' },
      responses: { 200: S.EndpointStats },
      handler: async (req) => endpoints.getEndpointStats(ctx, req.params.app_id, req.params.endpoint_id, { since: readDate(req.query, 'since'), until: readDate(req.query, 'until') }),
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id/fifo`, operationId: 'endpoint.get_fifo', summary: 'The head of a FIFO endpoint\'s line and how many wait behind it', tag: 'Endpoint', access: 'app', needs: ['ViewBase'],
      description:
        'Tapwire addition (docs/fifo.md). The delivery at the head of the line (the one being sent or retried), since when it has ' +
        'blocked the line (its first failed attempt), and how many deliveries are held behind it. An endpoint that is not FIFO ' +
        'answers too: head null and held 0 once the deliveries released by turning fifo off have gone.',
      responses: { 200: S.EndpointFifoOut },
      handler: async (req) => {
        const { line } = await endpoints.getFifoLine(ctx, req.params.app_id, req.params.endpoint_id);
        return {
          head: line.head && { ...line.head, blockedSince: line.head.blockedSince?.toISOString() ?? null },
          held: line.held,
        };
      },
    }),
    defineRoute({
      method: 'POST', url: `${ep}/:endpoint_id/recover`, operationId: 'endpoint.recover', summary: 'Resend every failed message since a time (a background task)', tag: 'Endpoint', access: 'app', needs: ['CreateAttempts'],
      description:
        'Answers 202 with an `endpoint.recover` task that is `running`; it finishes once the resends are queued, with ' +
        '`{endpointId, since, until, recovered}` as data (GET /api/v1/background-task/{id}). Messages whose latest delivery ' +
        'to the endpoint failed, or was canceled (status 4) while the endpoint was disabled, are resent once each.',
      body: S.RecoverIn, responses: { 202: S.RecoverOut },
      handler: async (req, reply) => {
        const body = req.body;
        const task = await backgroundTasks.recoverEndpointAsTask(ctx, options.backgroundTasks ?? null, req.params.app_id, req.params.endpoint_id, {
          since: bodyDate(body.since, 'since'),
          until: bodyDate(body.until, 'until'),
        });
        return reply.status(202).send(startedTaskOut(task));
      },
    }),
    defineRoute({
      method: 'POST', url: `${ep}/:endpoint_id/replay-missing`, operationId: 'endpoint.replay_missing', summary: 'Send every message since a time that never reached this endpoint (a background task)', tag: 'Endpoint', access: 'app', needs: ['CreateAttempts'],
      body: S.ReplayIn, responses: { 202: S.ReplayOut },
      handler: async (req, reply) => {
        const body = req.body;
        const task = await backgroundTasks.replayMissing(ctx, options.backgroundTasks ?? null, req.params.app_id, req.params.endpoint_id, {
          since: bodyDate(body.since, 'since'),
          until: bodyDate(body.until, 'until'),
        });
        return reply.status(202).send(startedTaskOut(task));
      },
    }),
    defineRoute({
      method: 'POST', url: `${ep}/:endpoint_id/bulk-replay`, operationId: 'endpoint.bulk_replay', summary: 'Send again every message of a window sent to this endpoint that matches the filters (a background task)', tag: 'Endpoint', access: 'app', needs: ['CreateAttempts'],
      body: S.BulkReplayIn, responses: { 202: S.ReplayOut },
      handler: async (req, reply) => {
        const body = req.body;
        const task = await backgroundTasks.bulkReplay(ctx, options.backgroundTasks ?? null, req.params.app_id, req.params.endpoint_id, {
          since: bodyDate(body.since, 'since'),
          until: bodyDate(body.until, 'until'),
          eventTypes: body.eventTypes ?? null,
          channel: body.channel ?? null,
          tag: body.tag ?? null,
          status: body.status ?? null,
          statusCodeClass: body.statusCodeClass ?? null,
        });
        return reply.status(202).send(startedTaskOut(task));
      },
    }),
    defineRoute({
      method: 'POST', url: `${ep}/:endpoint_id/send-example`, operationId: 'endpoint.send_example', summary: 'Send an example event to this endpoint', tag: 'Endpoint', access: 'app', needs: ['CreateAttempts'],
      body: S.SendExampleIn, responses: { 200: S.MessageOut },
      handler: async (req, reply) => {
        const message = await messages.sendExample(ctx, req.params.app_id, req.params.endpoint_id, req.body.eventType, {
          ...(req.body.exampleIndex !== undefined ? { exampleIndex: req.body.exampleIndex } : {}),
          featureFlags: featureFlagsOf(req.principal),
        });
        return reply.status(200).send(messageOut(message, true));
      },
    }),
    defineRoute({
      method: 'GET', url: `${ep}/:endpoint_id/msg`, operationId: 'message_attempt.list_attempted_messages', summary: 'Messages sent to this endpoint, with their status', tag: 'Message Attempt', access: 'app', needs: ['ViewBase'],
      query: { ...MESSAGE_FILTERS, status: '0 success, 1 pending, 2 fail, 3 sending, 4 canceled' }, responses: { 200: S.ListResponse(S.EndpointMessageOut, 'EndpointMessageOut') },
      handler: async (req) => {
        const q = req.query;
        const withContent = readBoolean(q, 'with_content', true);
        const page = await messages.listAttemptedMessages(ctx, req.params.app_id, req.params.endpoint_id, { ...readMessageFilters(q, ID_CURSOR.msg), status: readStatus(q) });
        return pageOut(page, (item) => ({ ...messageOut(item.message, withContent), ...deliveryStatusFields(item.delivery) }));
      },
    }),
  ];
}

function endpointInput(body: Static<typeof S.EndpointPatch>, principal: Principal): endpoints.EndpointInput {
  const eventTypesGiven = body.eventTypes !== undefined || body.filterTypes !== undefined;
  return {
    ...(body.url !== undefined ? { url: body.url } : {}),
    ...(body.description !== undefined ? { description: body.description } : {}),
    ...(body.uid !== undefined ? { uid: body.uid } : {}),
    ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
    ...(eventTypesGiven ? { eventTypes: body.eventTypes ?? body.filterTypes ?? null } : {}),
    ...(body.channels !== undefined ? { channels: body.channels } : {}),
    ...(body.throttleRate !== undefined || body.rateLimit !== undefined ? { throttleRate: body.throttleRate ?? body.rateLimit ?? null } : {}),
    ...(body.concurrencyLimit !== undefined ? { concurrencyLimit: body.concurrencyLimit } : {}),
    ...(body.fifo !== undefined ? { fifo: body.fifo } : {}),
    ...(body.version !== undefined ? { version: body.version } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
    ...(body.secret !== undefined ? { secret: body.secret } : {}),
    ...(body.headers !== undefined ? { headers: body.headers ?? {} } : {}),
    ...(principal.kind === 'app' ? { portal: { featureFlags: principal.scope.featureFlags } } : {}),
  };
}

/** A timestamp field of a body (422 naming it when it is not RFC 3339); a required field gives a Date. */
function bodyDate(value: string, field: string): Date;
function bodyDate(value: string | null | undefined, field: string): Date | null;
function bodyDate(value: string | null | undefined, field: string): Date | null {
  if (value === undefined || value === null) return null;
  const date = parseTimestamp(value);
  if (!date) throw validationError(['body', field], `${field} must be an RFC 3339 timestamp`, 'value_error.datetime');
  return date;
}
