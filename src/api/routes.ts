// Every route of the v1 API: paths, access, schemas and the call into services/. Handlers only
// translate HTTP to use cases and back; the rules live in services/.
import type { Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { BACKGROUND_TASK_STATUSES, type BackgroundTaskKind, type BackgroundTaskStatus } from '../domain/background-tasks.js';
import type { MessageStatusName } from '../domain/types.js';
import { TapwireError, validationError } from '../errors/tapwire-error.js';
import * as apps from '../services/applications.js';
import * as backgroundTasks from '../services/background-tasks.js';
import { createAppToken } from '../services/auth.js';
import type { ServiceContext } from '../services/context.js';
import * as endpoints from '../services/endpoints.js';
import * as eventTypes from '../services/event-types.js';
import * as messages from '../services/messages.js';
import * as stats from '../services/delivery-stats.js';
import { parseDuration } from '../domain/duration.js';
import { findTopLevelValue } from './raw-json.js';
import {
  ID_CURSOR,
  NAME_PATTERN,
  parseTimestamp,
  readBoolean,
  readDate,
  readInteger,
  readList,
  readListQuery,
  readString,
} from './query.js';
import * as S from './schemas.js';
import { applicationOut, attemptOut, backgroundTaskOut, deliveryStatusFields, endpointOut, eventTypeOut, messageOut, pageOut } from './serializers.js';
import type { ApiOptions, RouteSpec } from './server.js';

type Query = Record<string, string | string[] | undefined>;
type Params = Record<string, string>;

const P = (request: FastifyRequest): Params => request.params as Params;
const Q = (request: FastifyRequest): Query => request.query as Query;

const LIST_QUERY = { limit: 'Page size, 1–250 (default 50)', iterator: 'Cursor from a previous page', order: 'ascending or descending' };
const MESSAGE_FILTERS = {
  ...LIST_QUERY,
  before: 'Only items created before this RFC 3339 time',
  after: 'Only items created after this RFC 3339 time',
  channel: 'Only messages on this channel',
  event_types: 'Comma-separated event types',
  with_content: 'Include payloads (default true)',
};
const ATTEMPT_FILTERS = {
  ...MESSAGE_FILTERS,
  status: '0 success, 1 pending, 2 fail, 3 sending',
  status_code_class: '0 (no response), 100, 200, 300, 400 or 500',
};

/** Register every route through `register`, which also feeds the OpenAPI document. */
export function registerRoutes(register: (spec: RouteSpec) => void, ctx: ServiceContext, options: ApiOptions): void {
  // Health --------------------------------------------------------------------------------------
  register({
    method: 'GET', url: '/api/v1/health/ping', operationId: 'health.ping', summary: 'Liveness probe', tag: 'Health', access: 'public',
    responses: { 204: null },
    handler: async (_req, reply) => reply.status(204).send(),
  });
  register({
    // Public like the health routes: Prometheus scrapes without credentials. It shows counts and
    // endpoint ids, never payloads or secrets; keep the port off the internet as for the API.
    method: 'GET', url: '/metrics', operationId: 'metrics.get', summary: 'Prometheus metrics: attempts, latency, queue, in-flight, SSRF refusals', tag: 'Health', access: 'public',
    responses: { 200: null }, textContentType: 'text/plain; version=0.0.4',
    handler: async (_req, reply) => {
      if (!options.metrics) throw new TapwireError('not_found', { detail: 'Metrics are not enabled on this server' });
      const text = await options.metrics.render();
      return reply.status(200).header('content-type', options.metrics.contentType).send(text);
    },
  });
  register({
    method: 'GET', url: '/api/v1/health', operationId: 'health.get', summary: 'Health of the store and the worker', tag: 'Health', access: 'public',
    responses: { 200: null },
    handler: async (_req, reply) => {
      const store = await ctx.store.ping().catch((error: unknown) => ({ ok: false, detail: (error as Error).message }));
      const worker = options.workerStatus?.() ?? null;
      const ok = store.ok;
      return reply.status(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'unavailable',
        store: { status: store.ok ? 'ok' : 'unavailable', kind: ctx.store.kind, ...(store.ok ? {} : { detail: store.detail }) },
        worker: worker ? { status: worker.running ? 'ok' : 'stopped', activeAttempts: worker.activeAttempts } : { status: 'disabled' },
      });
    },
  });

  // Applications --------------------------------------------------------------------------------
  register({
    method: 'GET', url: '/api/v1/app', operationId: 'application.list', summary: 'List applications', tag: 'Application', access: 'admin',
    query: LIST_QUERY, responses: { 200: S.ListResponse(S.ApplicationOut, 'ApplicationOut') },
    handler: async (req) => pageOut(await apps.listApplications(ctx, readListQuery(Q(req), ID_CURSOR.app, 'ascending')), applicationOut),
  });
  register({
    method: 'POST', url: '/api/v1/app', operationId: 'application.create', summary: 'Create an application', tag: 'Application', access: 'admin',
    body: S.ApplicationIn, query: { get_if_exists: 'Return the existing application with this uid (200) instead of 409' },
    responses: { 201: S.ApplicationOut, 200: S.ApplicationOut },
    handler: async (req, reply) => {
      const body = req.body as Static<typeof S.ApplicationIn>;
      const { app, created } = await apps.createApplication(ctx, appInput(body), { getIfExists: readBoolean(Q(req), 'get_if_exists', false) });
      return reply.status(created ? 201 : 200).send(applicationOut(app));
    },
  });
  register({
    method: 'GET', url: '/api/v1/app/:app_id', operationId: 'application.get', summary: 'Get an application', tag: 'Application', access: 'app',
    responses: { 200: S.ApplicationOut },
    handler: async (req) => applicationOut(await apps.getApplication(ctx, P(req).app_id!)),
  });
  register({
    method: 'PUT', url: '/api/v1/app/:app_id', operationId: 'application.update', summary: 'Replace (or create) an application', tag: 'Application', access: 'admin',
    body: S.ApplicationIn, responses: { 200: S.ApplicationOut, 201: S.ApplicationOut },
    handler: async (req, reply) => {
      const { app, created } = await apps.upsertApplication(ctx, P(req).app_id!, appInput(req.body as Static<typeof S.ApplicationIn>));
      return reply.status(created ? 201 : 200).send(applicationOut(app));
    },
  });
  register({
    method: 'PATCH', url: '/api/v1/app/:app_id', operationId: 'application.patch', summary: 'Change some fields of an application', tag: 'Application', access: 'admin',
    body: S.ApplicationPatch, responses: { 200: S.ApplicationOut },
    handler: async (req) => applicationOut(await apps.patchApplication(ctx, P(req).app_id!, appInput(req.body as Static<typeof S.ApplicationPatch>))),
  });
  register({
    method: 'DELETE', url: '/api/v1/app/:app_id', operationId: 'application.delete', summary: 'Delete an application and everything it owns', tag: 'Application', access: 'admin',
    responses: { 204: null },
    handler: async (req, reply) => {
      await apps.deleteApplication(ctx, P(req).app_id!);
      return reply.status(204).send();
    },
  });

  // Endpoints -----------------------------------------------------------------------------------
  const ep = '/api/v1/app/:app_id/endpoint';
  register({
    method: 'GET', url: ep, operationId: 'endpoint.list', summary: 'List endpoints', tag: 'Endpoint', access: 'app',
    query: LIST_QUERY, responses: { 200: S.ListResponse(S.EndpointOut, 'EndpointOut') },
    handler: async (req) => pageOut(await endpoints.listEndpoints(ctx, P(req).app_id!, readListQuery(Q(req), ID_CURSOR.ep, 'descending')), endpointOut),
  });
  register({
    method: 'POST', url: ep, operationId: 'endpoint.create', summary: 'Create an endpoint', tag: 'Endpoint', access: 'app',
    body: S.EndpointIn, responses: { 201: S.EndpointOut },
    handler: async (req, reply) => {
      const endpoint = await endpoints.createEndpoint(ctx, P(req).app_id!, endpointInput(req.body as Static<typeof S.EndpointIn>));
      return reply.status(201).send(endpointOut(endpoint));
    },
  });
  register({
    method: 'GET', url: `${ep}/:endpoint_id`, operationId: 'endpoint.get', summary: 'Get an endpoint', tag: 'Endpoint', access: 'app',
    responses: { 200: S.EndpointOut },
    handler: async (req) => endpointOut(await endpoints.getEndpoint(ctx, P(req).app_id!, P(req).endpoint_id!)),
  });
  register({
    method: 'PUT', url: `${ep}/:endpoint_id`, operationId: 'endpoint.update', summary: 'Replace (or create) an endpoint', tag: 'Endpoint', access: 'app',
    body: S.EndpointUpdate, responses: { 200: S.EndpointOut, 201: S.EndpointOut },
    handler: async (req, reply) => {
      const { endpoint, created } = await endpoints.upsertEndpoint(ctx, P(req).app_id!, P(req).endpoint_id!, endpointInput(req.body as Static<typeof S.EndpointUpdate>));
      return reply.status(created ? 201 : 200).send(endpointOut(endpoint));
    },
  });
  register({
    method: 'PATCH', url: `${ep}/:endpoint_id`, operationId: 'endpoint.patch', summary: 'Change some fields of an endpoint', tag: 'Endpoint', access: 'app',
    body: S.EndpointPatch, responses: { 200: S.EndpointOut },
    handler: async (req) => endpointOut(await endpoints.patchEndpoint(ctx, P(req).app_id!, P(req).endpoint_id!, endpointInput(req.body as Static<typeof S.EndpointPatch>))),
  });
  register({
    method: 'DELETE', url: `${ep}/:endpoint_id`, operationId: 'endpoint.delete', summary: 'Delete an endpoint', tag: 'Endpoint', access: 'app',
    responses: { 204: null },
    handler: async (req, reply) => {
      await endpoints.deleteEndpoint(ctx, P(req).app_id!, P(req).endpoint_id!);
      return reply.status(204).send();
    },
  });
  register({
    method: 'GET', url: `${ep}/:endpoint_id/secret`, operationId: 'endpoint.get_secret', summary: 'Get the signing secret', tag: 'Endpoint', access: 'app',
    responses: { 200: S.EndpointSecretOut },
    handler: async (req) => ({ key: (await endpoints.getEndpoint(ctx, P(req).app_id!, P(req).endpoint_id!)).secret }),
  });
  register({
    method: 'POST', url: `${ep}/:endpoint_id/secret/rotate`, operationId: 'endpoint.rotate_secret', summary: 'Rotate the signing secret', tag: 'Endpoint', access: 'app',
    body: S.EndpointSecretRotateIn, bodyOptional: true, responses: { 204: null },
    handler: async (req, reply) => {
      const body = (req.body ?? {}) as Static<typeof S.EndpointSecretRotateIn>;
      await endpoints.rotateEndpointSecret(ctx, P(req).app_id!, P(req).endpoint_id!, {
        ...(body.key !== undefined ? { key: body.key } : {}),
        ...(body.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: body.gracePeriodSeconds } : {}),
      });
      return reply.status(204).send();
    },
  });
  register({
    method: 'GET', url: `${ep}/:endpoint_id/headers`, operationId: 'endpoint.get_headers', summary: 'Get the custom headers', tag: 'Endpoint', access: 'app',
    responses: { 200: S.EndpointHeadersOut },
    handler: async (req) => endpoints.describeHeaders(await endpoints.getEndpoint(ctx, P(req).app_id!, P(req).endpoint_id!)),
  });
  register({
    method: 'PUT', url: `${ep}/:endpoint_id/headers`, operationId: 'endpoint.update_headers', summary: 'Replace the custom headers', tag: 'Endpoint', access: 'app',
    body: S.EndpointHeadersIn, responses: { 204: null },
    handler: async (req, reply) => {
      await endpoints.updateEndpointHeaders(ctx, P(req).app_id!, P(req).endpoint_id!, (req.body as Static<typeof S.EndpointHeadersIn>).headers, 'replace');
      return reply.status(204).send();
    },
  });
  register({
    method: 'PATCH', url: `${ep}/:endpoint_id/headers`, operationId: 'endpoint.patch_headers', summary: 'Add, change or remove (null) custom headers', tag: 'Endpoint', access: 'app',
    body: S.EndpointHeadersPatchIn, responses: { 204: null },
    handler: async (req, reply) => {
      const body = req.body as Static<typeof S.EndpointHeadersPatchIn>;
      const removals = Object.fromEntries((body.deleteHeaders ?? []).map((name) => [name, null]));
      await endpoints.updateEndpointHeaders(ctx, P(req).app_id!, P(req).endpoint_id!, { ...body.headers, ...removals }, 'merge');
      return reply.status(204).send();
    },
  });
  register({
    method: 'GET', url: `${ep}/:endpoint_id/stats`, operationId: 'endpoint.get_stats', summary: 'Delivery counts by status', tag: 'Endpoint', access: 'app',
    query: { since: 'Start of the window (default 28 days before until)', until: 'End of the window (default now)' },
    responses: { 200: S.EndpointStats },
    handler: async (req) => endpoints.getEndpointStats(ctx, P(req).app_id!, P(req).endpoint_id!, { since: readDate(Q(req), 'since'), until: readDate(Q(req), 'until') }),
  });
  register({
    method: 'POST', url: `${ep}/:endpoint_id/recover`, operationId: 'endpoint.recover', summary: 'Resend every failed message since a time', tag: 'Endpoint', access: 'app',
    body: S.RecoverIn, responses: { 202: S.RecoverOut },
    handler: async (req, reply) => {
      const body = req.body as Static<typeof S.RecoverIn>;
      // Recorded as a finished task too, so GET /background-task/{id} finds the id it answers.
      const result = await backgroundTasks.recoverEndpointAsTask(ctx, P(req).app_id!, P(req).endpoint_id!, {
        since: bodyDate(body.since, 'since')!,
        until: bodyDate(body.until, 'until'),
      });
      return reply.status(202).send({ id: result.id, status: result.status, task: result.task, updatedAt: result.updatedAt.toISOString(), recovered: result.recovered });
    },
  });
  register({
    method: 'POST', url: `${ep}/:endpoint_id/replay-missing`, operationId: 'endpoint.replay_missing', summary: 'Send every message since a time that never reached this endpoint (a background task)', tag: 'Endpoint', access: 'app',
    body: S.ReplayIn, responses: { 202: S.ReplayOut },
    handler: async (req, reply) => {
      const body = req.body as Static<typeof S.ReplayIn>;
      const task = await backgroundTasks.replayMissing(ctx, options.backgroundTasks ?? null, P(req).app_id!, P(req).endpoint_id!, {
        since: bodyDate(body.since, 'since')!,
        until: bodyDate(body.until, 'until'),
      });
      return reply.status(202).send({ id: task.id, status: task.status, task: task.task, updatedAt: task.updatedAt.toISOString() });
    },
  });
  register({
    method: 'POST', url: `${ep}/:endpoint_id/send-example`, operationId: 'endpoint.send_example', summary: 'Send an example event to this endpoint', tag: 'Endpoint', access: 'app',
    body: S.SendExampleIn, responses: { 200: S.MessageOut },
    handler: async (req, reply) => {
      const message = await messages.sendExample(ctx, P(req).app_id!, P(req).endpoint_id!, (req.body as Static<typeof S.SendExampleIn>).eventType);
      return reply.status(200).send(messageOut(message, true));
    },
  });
  register({
    method: 'GET', url: `${ep}/:endpoint_id/msg`, operationId: 'message_attempt.list_attempted_messages', summary: 'Messages sent to this endpoint, with their status', tag: 'Message Attempt', access: 'app',
    query: { ...MESSAGE_FILTERS, status: '0 success, 1 pending, 2 fail, 3 sending' }, responses: { 200: S.ListResponse(S.EndpointMessageOut, 'EndpointMessageOut') },
    handler: async (req) => {
      const q = Q(req);
      const withContent = readBoolean(q, 'with_content', true);
      const page = await messages.listAttemptedMessages(ctx, P(req).app_id!, P(req).endpoint_id!, { ...messageFilters(q, ID_CURSOR.msg), status: readStatus(q) });
      return pageOut(page, (item) => ({ ...messageOut(item.message, withContent), ...deliveryStatusFields(item.delivery) }));
    },
  });

  // Messages ------------------------------------------------------------------------------------
  const msg = '/api/v1/app/:app_id/msg';
  register({
    method: 'GET', url: msg, operationId: 'message.list', summary: 'List messages, newest first', tag: 'Message', access: 'app',
    query: { ...MESSAGE_FILTERS, status: 'Tapwire addition: only messages whose latest delivery to some endpoint has this status (0 success, 1 pending, 2 fail, 3 sending)' },
    responses: { 200: S.ListResponse(S.MessageOut, 'MessageOut') },
    handler: async (req) => {
      const q = Q(req);
      const withContent = readBoolean(q, 'with_content', true);
      const page = await messages.listMessages(ctx, P(req).app_id!, { ...messageFilters(q, ID_CURSOR.msg), status: readStatus(q) });
      return pageOut(page, (m) => messageOut(m, withContent));
    },
  });
  register({
    method: 'POST', url: msg, operationId: 'message.create', summary: 'Send a message to every matching endpoint', tag: 'Message', access: 'admin',
    body: S.MessageIn, query: { with_content: 'Echo the payload back (default true)' }, responses: { 202: S.MessageOut },
    handler: async (req, reply) => {
      const body = req.body as Static<typeof S.MessageIn>;
      const message = await messages.createMessage(ctx, P(req).app_id!, messageInput(ctx, req, body));
      return reply.status(202).send(messageOut(message, readBoolean(Q(req), 'with_content', true)));
    },
  });
  register({
    method: 'GET', url: `${msg}/:msg_id`, operationId: 'message.get', summary: 'Get a message by id or eventId', tag: 'Message', access: 'app',
    query: { with_content: 'Include the payload (default true)' }, responses: { 200: S.MessageOut },
    handler: async (req) => messageOut(await messages.getMessage(ctx, P(req).app_id!, P(req).msg_id!), readBoolean(Q(req), 'with_content', true)),
  });
  register({
    method: 'DELETE', url: `${msg}/:msg_id/content`, operationId: 'message.expunge_content', summary: 'Delete the payload of a message', tag: 'Message', access: 'app',
    responses: { 204: null },
    handler: async (req, reply) => {
      await messages.expungeMessageContent(ctx, P(req).app_id!, P(req).msg_id!);
      return reply.status(204).send();
    },
  });
  register({
    method: 'GET', url: `${msg}/:msg_id/endpoint`, operationId: 'message_attempt.list_attempted_destinations', summary: 'Endpoints this message was sent to, with their status', tag: 'Message Attempt', access: 'app',
    query: LIST_QUERY, responses: { 200: S.ListResponse(S.MessageEndpointOut, 'MessageEndpointOut') },
    handler: async (req) => {
      const page = await messages.listMessageDestinations(ctx, P(req).app_id!, P(req).msg_id!, readListQuery(Q(req), ID_CURSOR.ep, 'ascending'));
      return pageOut(page, (d) => ({ ...endpointOut(d.endpoint), ...deliveryStatusFields(d.delivery) }));
    },
  });
  register({
    method: 'POST', url: `${msg}/:msg_id/endpoint/:endpoint_id/resend`, operationId: 'message_attempt.resend', summary: 'Send this message to this endpoint again', tag: 'Message Attempt', access: 'app',
    responses: { 202: null },
    handler: async (req, reply) => {
      await messages.resendMessage(ctx, P(req).app_id!, P(req).msg_id!, P(req).endpoint_id!);
      return reply.status(202).send({});
    },
  });

  // Attempts ------------------------------------------------------------------------------------
  register({
    method: 'GET', url: '/api/v1/app/:app_id/attempt/msg/:msg_id', operationId: 'message_attempt.list_by_msg', summary: 'Attempts of a message', tag: 'Message Attempt', access: 'app',
    query: { ...ATTEMPT_FILTERS, endpoint_id: 'Only attempts to this endpoint' }, responses: { 200: S.ListResponse(S.MessageAttemptOut, 'MessageAttemptOut') },
    handler: async (req) => {
      const q = Q(req);
      const page = await messages.listAttemptsByMessage(ctx, P(req).app_id!, P(req).msg_id!, { ...attemptFilters(q), endpointId: readString(q, 'endpoint_id', { pattern: NAME_PATTERN }) });
      return pageOut(page, attemptOut);
    },
  });
  register({
    method: 'GET', url: '/api/v1/app/:app_id/attempt/endpoint/:endpoint_id', operationId: 'message_attempt.list_by_endpoint', summary: 'Attempts to an endpoint', tag: 'Message Attempt', access: 'app',
    query: ATTEMPT_FILTERS, responses: { 200: S.ListResponse(S.MessageAttemptOut, 'MessageAttemptOut') },
    handler: async (req) => pageOut(await messages.listAttemptsByEndpoint(ctx, P(req).app_id!, P(req).endpoint_id!, attemptFilters(Q(req))), attemptOut),
  });
  register({
    method: 'GET', url: `${msg}/:msg_id/attempt/:attempt_id`, operationId: 'message_attempt.get', summary: 'Get one attempt', tag: 'Message Attempt', access: 'app',
    responses: { 200: S.MessageAttemptOut },
    handler: async (req) => attemptOut(await messages.getAttempt(ctx, P(req).app_id!, P(req).msg_id!, P(req).attempt_id!)),
  });

  // Background tasks ----------------------------------------------------------------------------
  // No application in the path: an application-scoped token sees only its own application's tasks.
  const bt = '/api/v1/background-task';
  register({
    method: 'GET', url: bt, operationId: 'background_task.list', summary: 'List background tasks, newest first', tag: 'Background Task', access: 'app',
    query: { ...LIST_QUERY, status: 'running, finished or failed', task: 'endpoint.replay or endpoint.recover' },
    responses: { 200: S.ListResponse(S.BackgroundTaskOut, 'BackgroundTaskOut') },
    handler: async (req) => {
      const q = Q(req);
      const page = await backgroundTasks.listBackgroundTasks(ctx, req.principal!, {
        ...readListQuery(q, ID_CURSOR.qtask, 'descending'),
        status: readEnum<BackgroundTaskStatus>(q, 'status', BACKGROUND_TASK_STATUSES),
        task: readEnum<BackgroundTaskKind>(q, 'task', ['endpoint.replay', 'endpoint.recover']),
      });
      return pageOut(page, backgroundTaskOut);
    },
  });
  register({
    method: 'GET', url: `${bt}/:task_id`, operationId: 'background_task.get', summary: 'Get a background task and its progress', tag: 'Background Task', access: 'app',
    responses: { 200: S.BackgroundTaskOut },
    handler: async (req) => backgroundTaskOut(await backgroundTasks.getBackgroundTask(ctx, req.principal!, P(req).task_id!)),
  });

  // Event types ---------------------------------------------------------------------------------
  const et = '/api/v1/event-type';
  register({
    method: 'GET', url: et, operationId: 'event_type.list', summary: 'List event types by name', tag: 'Event Type', access: 'app',
    query: { ...LIST_QUERY, include_archived: 'Include archived types (default false)', with_content: 'Include schemas (default false)' },
    responses: { 200: S.ListResponse(S.EventTypeOut, 'EventTypeOut') },
    handler: async (req) => {
      const q = Q(req);
      const withContent = readBoolean(q, 'with_content', false);
      const page = await eventTypes.listEventTypes(ctx, { ...readListQuery(q, ID_CURSOR.name, 'ascending'), includeArchived: readBoolean(q, 'include_archived', false) });
      return pageOut(page, (t) => eventTypeOut(t, withContent));
    },
  });
  register({
    method: 'POST', url: et, operationId: 'event_type.create', summary: 'Create an event type', tag: 'Event Type', access: 'admin',
    body: S.EventTypeIn, responses: { 201: S.EventTypeOut },
    handler: async (req, reply) => reply.status(201).send(eventTypeOut(await eventTypes.createEventType(ctx, eventTypeInput(req.body as Static<typeof S.EventTypeIn>) as Static<typeof S.EventTypeIn>))),
  });
  register({
    method: 'GET', url: `${et}/:event_type_name`, operationId: 'event_type.get', summary: 'Get an event type', tag: 'Event Type', access: 'app',
    responses: { 200: S.EventTypeOut },
    handler: async (req) => eventTypeOut(await eventTypes.getEventType(ctx, P(req).event_type_name!)),
  });
  register({
    method: 'PUT', url: `${et}/:event_type_name`, operationId: 'event_type.update', summary: 'Replace (or create) an event type', tag: 'Event Type', access: 'admin',
    body: S.EventTypeUpdate, responses: { 200: S.EventTypeOut, 201: S.EventTypeOut },
    handler: async (req, reply) => {
      const name = checkEventTypeName(P(req).event_type_name!);
      const { eventType, created } = await eventTypes.upsertEventType(ctx, name, eventTypeInput(req.body as Static<typeof S.EventTypeUpdate>));
      return reply.status(created ? 201 : 200).send(eventTypeOut(eventType));
    },
  });
  register({
    method: 'PATCH', url: `${et}/:event_type_name`, operationId: 'event_type.patch', summary: 'Change some fields of an event type', tag: 'Event Type', access: 'admin',
    body: S.EventTypePatch, responses: { 200: S.EventTypeOut },
    handler: async (req) => eventTypeOut(await eventTypes.patchEventType(ctx, P(req).event_type_name!, eventTypeInput(req.body as Static<typeof S.EventTypePatch>))),
  });
  register({
    method: 'DELETE', url: `${et}/:event_type_name`, operationId: 'event_type.delete', summary: 'Archive (or with expunge=true delete) an event type', tag: 'Event Type', access: 'admin',
    query: { expunge: 'Delete for good instead of archiving' }, responses: { 204: null },
    handler: async (req, reply) => {
      await eventTypes.deleteEventType(ctx, P(req).event_type_name!, readBoolean(Q(req), 'expunge', false));
      return reply.status(204).send();
    },
  });

  // Auth ----------------------------------------------------------------------------------------
  register({
    method: 'POST', url: '/api/v1/auth/app-portal-access/:app_id', operationId: 'authentication.app_portal_access', summary: 'Mint a token scoped to one application, and a portal link', tag: 'Authentication', access: 'admin',
    body: S.AppPortalAccessIn, bodyOptional: true, responses: { 200: S.AppPortalAccessOut },
    handler: async (req) => {
      const body = (req.body ?? {}) as Static<typeof S.AppPortalAccessIn>;
      const { token } = await createAppToken(ctx, P(req).app_id!, body.expiry ? body.expiry * 1000 : undefined);
      // The token travels in the fragment, which browsers never send to servers or put in logs.
      return { url: `${ctx.config.publicUrl}/portal#token=${token}`, token };
    },
  });
  register({
    method: 'POST', url: '/api/v1/auth/logout', operationId: 'authentication.logout', summary: 'End a session (tokens stay valid until they expire)', tag: 'Authentication', access: 'app',
    responses: { 204: null },
    handler: async (_req, reply) => reply.status(204).send(),
  });
  register({
    method: 'GET', url: '/api/v1/auth/whoami', operationId: 'authentication.whoami', summary: 'Who this token acts as (the dashboard asks after login)', tag: 'Authentication', access: 'app',
    responses: { 200: S.WhoAmIOut },
    handler: async (req) => {
      const principal = req.principal!;
      if (principal.kind === 'admin') return { kind: 'admin' };
      return { kind: 'app', app: applicationOut(await apps.getApplication(ctx, principal.appId)) };
    },
  });

  // Stats (Tapwire additions for the dashboard) ---------------------------------------------------
  // Bounded reads: a time window (31 days at most for counts, 7 for latency) and a limit.
  const STATS_WINDOW = {
    since: 'Start of the window, RFC 3339 (default 24 h before until)',
    until: 'End of the window, RFC 3339 (default now)',
    bucket: 'Bucket width such as 1m, 5m, 1h or 1d (default: 24 to 60 buckets in the window)',
  };
  const attemptsOverTime = async (req: FastifyRequest, scope: { appIdOrUid?: string; endpointIdOrUid?: string }) => {
    const q = Q(req);
    const result = await stats.countAttemptsOverTime(ctx, { since: readDate(q, 'since'), until: readDate(q, 'until'), bucketMs: readDurationMs(q, 'bucket'), ...scope });
    return {
      since: result.since.toISOString(),
      until: result.until.toISOString(),
      bucketSeconds: result.bucketMs / 1000,
      buckets: result.buckets.map((b) => ({ start: b.start.toISOString(), success: b.success, fail: b.fail })),
      total: result.total,
    };
  };
  register({
    method: 'GET', url: '/api/v1/stats/attempts', operationId: 'stats.attempts', summary: 'Attempts of the whole server by outcome over time', tag: 'Stats', access: 'admin',
    query: STATS_WINDOW, responses: { 200: S.AttemptsOverTimeOut },
    handler: async (req) => attemptsOverTime(req, {}),
  });
  register({
    method: 'GET', url: '/api/v1/app/:app_id/stats/attempts', operationId: 'stats.app_attempts', summary: 'Attempts of one application by outcome over time', tag: 'Stats', access: 'app',
    query: STATS_WINDOW, responses: { 200: S.AttemptsOverTimeOut },
    handler: async (req) => attemptsOverTime(req, { appIdOrUid: P(req).app_id! }),
  });
  register({
    method: 'GET', url: `${ep}/:endpoint_id/stats/attempts`, operationId: 'stats.endpoint_attempts', summary: 'Attempts to one endpoint by outcome over time', tag: 'Stats', access: 'app',
    query: STATS_WINDOW, responses: { 200: S.AttemptsOverTimeOut },
    handler: async (req) => attemptsOverTime(req, { appIdOrUid: P(req).app_id!, endpointIdOrUid: P(req).endpoint_id! }),
  });
  register({
    method: 'GET', url: '/api/v1/stats/queue', operationId: 'stats.queue', summary: 'The delivery queue now: waiting, due, and the oldest due', tag: 'Stats', access: 'admin',
    responses: { 200: S.QueueStatsOut },
    handler: async () => {
      const queue = await stats.getQueueStats(ctx);
      return {
        pending: queue.pending,
        due: queue.due,
        oldestDueAt: queue.oldestDueAt?.toISOString() ?? null,
        oldestDueAgeSeconds: queue.oldestDueAgeMs === null ? null : queue.oldestDueAgeMs / 1000,
      };
    },
  });
  register({
    method: 'GET', url: '/api/v1/stats/endpoints', operationId: 'stats.endpoints', summary: 'Failing, disabled and slowest endpoints of the whole server', tag: 'Stats', access: 'admin',
    query: {
      since: 'Start of the latency window, RFC 3339 (default 1 h before until; 7 days at most)',
      until: 'End of the latency window, RFC 3339 (default now)',
      limit: 'Endpoints per list, 1–100 (default 10)',
    },
    responses: { 200: S.EndpointHealthOut },
    handler: async (req) => {
      const q = Q(req);
      const health = await stats.getEndpointHealth(ctx, { since: readDate(q, 'since'), until: readDate(q, 'until'), limit: readInteger(q, 'limit', { min: 1, max: 100 }) ?? 10 });
      const item = ({ endpoint, appName }: stats.EndpointHealthItem) => ({
        appId: endpoint.appId,
        appName,
        endpointId: endpoint.id,
        url: endpoint.url,
        description: endpoint.description,
        disabled: endpoint.disabled,
        failingSince: endpoint.failingSince?.toISOString() ?? null,
        updatedAt: endpoint.updatedAt.toISOString(),
      });
      return {
        since: health.since.toISOString(),
        until: health.until.toISOString(),
        failing: health.failing.map(item),
        disabled: health.disabled.map(item),
        slowest: health.slowest,
      };
    },
  });
}

/** A duration query parameter (`30s`, `5m`, `1h`, `1d`) in milliseconds, or null when absent. */
function readDurationMs(q: Query, name: string): number | null {
  const value = readString(q, name, { maxLength: 32 });
  if (value === null) return null;
  try {
    return parseDuration(value);
  } catch {
    throw validationError(['query', name], `${name} must be a duration such as 30s, 5m, 1h or 1d`, 'value_error');
  }
}

function appInput(body: Static<typeof S.ApplicationPatch>): apps.ApplicationInput {
  return {
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.uid !== undefined ? { uid: body.uid } : {}),
    ...(body.throttleRate !== undefined || body.rateLimit !== undefined ? { throttleRate: body.throttleRate ?? body.rateLimit ?? null } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
  };
}

function endpointInput(body: Static<typeof S.EndpointPatch>): endpoints.EndpointInput {
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
    ...(body.version !== undefined ? { version: body.version } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
    ...(body.secret !== undefined ? { secret: body.secret } : {}),
    ...(body.headers !== undefined ? { headers: body.headers } : {}),
  };
}

function eventTypeInput(body: Partial<Static<typeof S.EventTypeIn>>): eventTypes.EventTypeInput {
  return Object.fromEntries(Object.entries(body).filter(([key, v]) => v !== undefined && ['name', 'description', 'archived', 'deprecated', 'schemas', 'featureFlag'].includes(key)));
}

/** Build the message input, taking the payload's raw text from the request body. */
function messageInput(ctx: ServiceContext, req: FastifyRequest, body: Static<typeof S.MessageIn>): messages.MessageInput {
  const raw = req.rawBody ?? '';
  const rawPayload = body.transformationsParams?.rawPayload;
  let payloadRaw: string | undefined;
  if (typeof rawPayload === 'string') {
    // Stored as text, and PostgreSQL text cannot hold a NUL (a JSON payload never has a raw one).
    if (rawPayload.includes('\u0000')) {
      throw validationError(['body', 'transformationsParams', 'rawPayload'], 'rawPayload must not contain the NUL character (\\u0000)', 'value_error');
    }
    payloadRaw = rawPayload;
  } else if (body.payload !== undefined) payloadRaw = findTopLevelValue(raw, 'payload');
  else if (body.data !== undefined) payloadRaw = findTopLevelValue(raw, 'data');
  if (payloadRaw === undefined) {
    if ((body as Record<string, unknown>).payload === null) throw validationError(['body', 'payload'], 'payload must be a JSON object', 'type_error.dict');
    throw validationError(['body', 'payload'], 'field required', 'value_error.missing');
  }
  if (Buffer.byteLength(payloadRaw, 'utf8') > ctx.config.maxPayloadBytes) {
    throw new TapwireError('payload_too_large', { detail: `The payload is larger than ${ctx.config.maxPayloadBytes} bytes (TAPWIRE_MAX_PAYLOAD_BYTES)` });
  }
  return {
    eventType: body.eventType,
    payloadRaw,
    eventId: body.eventId ?? null,
    channels: body.channels ?? null,
    payloadRetentionPeriod: body.payloadRetentionPeriod ?? null,
    payloadRetentionHours: body.payloadRetentionHours ?? null,
    application: body.application ? appInput(body.application) : null,
  };
}

function messageFilters(q: Query, cursor: RegExp) {
  return {
    ...readListQuery(q, cursor, 'descending'),
    before: readDate(q, 'before'),
    after: readDate(q, 'after'),
    channel: readString(q, 'channel', { maxLength: 128, pattern: NAME_PATTERN }),
    eventTypes: readList(q, 'event_types', NAME_PATTERN),
  };
}

const STATUS_NAMES: Record<number, MessageStatusName> = { 0: 'success', 1: 'pending', 2: 'fail', 3: 'sending' };

function readStatus(q: Query): MessageStatusName | null {
  const status = readInteger(q, 'status', { min: 0, max: 4 });
  if (status === null) return null;
  if (status === 4) return null;
  return STATUS_NAMES[status]!;
}

function attemptFilters(q: Query) {
  const codeClass = readInteger(q, 'status_code_class', { min: 0, max: 500 });
  if (codeClass !== null && ![0, 100, 200, 300, 400, 500].includes(codeClass)) {
    throw validationError(['query', 'status_code_class'], 'status_code_class must be 0, 100, 200, 300, 400 or 500', 'type_error.enum');
  }
  return {
    ...messageFilters(q, ID_CURSOR.atmpt),
    status: readStatus(q),
    statusCodeClass: codeClass,
  };
}

/** A query parameter that must be one of `allowed` (422 naming the choices otherwise). */
function readEnum<T extends string>(q: Query, name: string, allowed: readonly T[]): T | null {
  const value = readString(q, name);
  if (value === null) return null;
  if (!(allowed as readonly string[]).includes(value)) {
    throw validationError(['query', name], `${name} must be one of ${allowed.join(', ')}`, 'type_error.enum');
  }
  return value as T;
}

function bodyDate(value: string | null | undefined, field: string): Date | null {
  if (value === undefined || value === null) return null;
  const date = parseTimestamp(value);
  if (!date) throw validationError(['body', field], `${field} must be an RFC 3339 timestamp`, 'value_error.datetime');
  return date;
}

function checkEventTypeName(name: string): string {
  if (name.length > 256 || !NAME_PATTERN.test(name)) {
    throw validationError(['path', 'event_type_name'], 'event type names may only contain letters, digits, "-", "_" and "."', 'value_error.str.regex');
  }
  return name;
}

