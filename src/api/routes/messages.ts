// The message routes: send a message to an application's endpoints (and ask beforehand whether one
// would get it), list and read messages, expunge payloads (one, several, or all as a background
// task), and the destinations of one message with a resend to one of them.
import type { Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { TapwireError, validationError } from '../../errors/tapwire-error.js';
import * as backgroundTasks from '../../services/background-tasks.js';
import type { ServiceContext } from '../../services/context.js';
import * as messages from '../../services/messages.js';
import { findTopLevelValue } from '../raw-json.js';
import { ID_CURSOR, LIST_QUERY, MESSAGE_FILTERS, parseTimestamp, readBoolean, readListQuery, readMessageFilters, readStatus } from '../query.js';
import { defineRoute, type ApiOptions, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { deliveryStatusFields, endpointOut, messageOut, pageOut, startedTaskOut } from '../serializers.js';
import { appInput } from './applications.js';

const msg = '/api/v1/app/:app_id/msg';

/** The routes under /api/v1/app/:app_id/msg. */
export function messageRoutes(ctx: ServiceContext, options: ApiOptions = {}): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: msg, operationId: 'message.list', summary: 'List messages, newest first', tag: 'Message', access: 'app', needs: ['ViewBase'],
      query: { ...MESSAGE_FILTERS, status: 'Tapwire addition: only messages whose latest delivery to some endpoint has this status (0 success, 1 pending, 2 fail, 3 sending, 4 canceled)' },
      responses: { 200: S.ListResponse(S.MessageOut, 'MessageOut') },
      handler: async (req) => {
        const q = req.query;
        const withContent = readBoolean(q, 'with_content', true);
        const page = await messages.listMessages(ctx, req.params.app_id, { ...readMessageFilters(q, ID_CURSOR.msg), status: readStatus(q) });
        return pageOut(page, (m) => messageOut(m, withContent));
      },
    }),
    defineRoute({
      method: 'POST', url: msg, operationId: 'message.create', summary: 'Send a message to every matching endpoint', tag: 'Message', access: 'admin',
      body: S.MessageIn, query: { with_content: 'Echo the payload back (default true)' }, responses: { 202: S.MessageOut },
      handler: async (req, reply) => {
        const message = await messages.createMessage(ctx, req.params.app_id, messageInput(ctx, req, req.body));
        return reply.status(202).send(messageOut(message, readBoolean(req.query, 'with_content', true)));
      },
    }),
    defineRoute({
      // The sender's question before message.create, so the sender's token, as for sending.
      method: 'POST', url: `${msg}/precheck/active`, operationId: 'message.precheck', summary: 'Whether a message of this event type and channels would reach an enabled endpoint', tag: 'Message', access: 'admin',
      body: S.MessagePrecheckIn, responses: { 200: S.MessagePrecheckOut },
      handler: async (req) => ({ active: await messages.precheckMessage(ctx, req.params.app_id, { eventType: req.body.eventType, channels: req.body.channels ?? null }) }),
    }),
    defineRoute({
      // Expunging is named by no portal capability (as for one message's content): a token with every one.
      method: 'POST', url: `${msg}/bulk-expunge`, operationId: 'message.bulk_expunge_content', summary: 'Delete the payloads of the messages named by id or eventId', tag: 'Message', access: 'app', needs: 'all',
      body: S.BulkExpungeContentsIn, bodyOptional: true, responses: { 200: S.BulkExpungeContentsOut },
      handler: async (req) => ({ results: await messages.bulkExpungeContents(ctx, req.params.app_id, req.body.ids ?? []) }),
    }),
    defineRoute({
      method: 'POST', url: `${msg}/expunge-all-contents`, operationId: 'message.expunge_all_contents', summary: "Delete the payload of every message of the application (a background task)", tag: 'Message', access: 'app', needs: 'all',
      responses: { 202: S.ExpungeAllContentsOut },
      handler: async (req, reply) => {
        const task = await backgroundTasks.expungeAllContents(ctx, options.backgroundTasks ?? null, req.params.app_id);
        return reply.status(202).send(startedTaskOut(task));
      },
    }),
    defineRoute({
      method: 'GET', url: `${msg}/:msg_id`, operationId: 'message.get', summary: 'Get a message by id or eventId', tag: 'Message', access: 'app', needs: ['ViewBase'],
      query: { with_content: 'Include the payload (default true)' }, responses: { 200: S.MessageOut },
      handler: async (req) => messageOut(await messages.getMessage(ctx, req.params.app_id, req.params.msg_id), readBoolean(req.query, 'with_content', true)),
    }),
    defineRoute({
      method: 'DELETE', url: `${msg}/:msg_id/content`, operationId: 'message.expunge_content', summary: 'Delete the payload of a message', tag: 'Message', access: 'app', needs: 'all',
      responses: { 204: null },
      handler: async (req, reply) => {
        await messages.expungeMessageContent(ctx, req.params.app_id, req.params.msg_id);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${msg}/:msg_id/endpoint`, operationId: 'message_attempt.list_attempted_destinations', summary: 'Endpoints this message was sent to, with their status', tag: 'Message Attempt', access: 'app', needs: ['ViewBase'],
      query: LIST_QUERY, responses: { 200: S.ListResponse(S.MessageEndpointOut, 'MessageEndpointOut') },
      handler: async (req) => {
        const page = await messages.listMessageDestinations(ctx, req.params.app_id, req.params.msg_id, readListQuery(req.query, ID_CURSOR.ep, 'ascending'));
        return pageOut(page, (d) => ({ ...endpointOut(d.endpoint), ...deliveryStatusFields(d.delivery) }));
      },
    }),
    defineRoute({
      method: 'POST', url: `${msg}/:msg_id/endpoint/:endpoint_id/resend`, operationId: 'message_attempt.resend', summary: 'Send this message to this endpoint again', tag: 'Message Attempt', access: 'app', needs: ['CreateAttempts'],
      responses: { 202: null },
      handler: async (req, reply) => {
        await messages.resendMessage(ctx, req.params.app_id, req.params.msg_id, req.params.endpoint_id);
        return reply.status(202).send({});
      },
    }),
  ];
}

/** Build the message input, taking the payload's raw text from the request body. */
function messageInput(ctx: ServiceContext, req: FastifyRequest, body: Static<typeof S.MessageIn>): messages.MessageInput {
  const raw = req.rawBody ?? '';
  const rawPayload = body.transformationsParams?.rawPayload;
  const contentType = readContentType(body.transformationsParams?.headers);
  let payloadRaw: string | undefined;
  if (typeof rawPayload === 'string') {
    // Stored as text, and PostgreSQL text cannot hold a NUL (a JSON payload never has a raw one).
    if (rawPayload.includes('\u0000')) {
      throw validationError(['body', 'transformationsParams', 'rawPayload'], 'rawPayload must not contain the NUL character (\\u0000)', 'value_error');
    }
    // Delivered as the UTF-8 of this text: a lone surrogate (a JSON \ud800 escape) has none.
    if (LONE_SURROGATE.test(rawPayload)) {
      throw validationError(['body', 'transformationsParams', 'rawPayload'], 'rawPayload must be well-formed Unicode (no lone surrogates)', 'value_error');
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
    tags: body.tags ?? null,
    deliverAt: readDeliverAt(body.deliverAt),
    // A raw payload is sent as application/json unless told otherwise; naming it keeps the message
    // marked as raw, so the API shows its exact text (see messageOut).
    contentType: contentType ?? (typeof rawPayload === 'string' ? 'application/json' : null),
  };
}

/** deliverAt as a time; one the schema's date-time admits but no Date can hold (a leap second) is a 422, never "not scheduled". */
function readDeliverAt(value: string | null | undefined): Date | null {
  if (value === undefined || value === null) return null;
  const date = parseTimestamp(value);
  if (!date) throw validationError(['body', 'deliverAt'], 'deliverAt must be an RFC 3339 date-time with a time zone', 'value_error.datetime');
  return date;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A media type: `type/subtype`, optionally with `; parameters` (RFC 9110 tokens). */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$/;

/** The content type of transformationsParams.headers; any other header is refused, since Tapwire could not send it. */
function readContentType(headers: Record<string, string> | null | undefined): string | null {
  let contentType: string | null = null;
  for (const [name, value] of Object.entries(headers ?? {})) {
    const loc = ['body', 'transformationsParams', 'headers', name];
    if (name.toLowerCase() !== 'content-type') {
      throw validationError(loc, `Only the content-type header can be set for a message; '${name.slice(0, 64)}' is not supported`, 'value_error');
    }
    if (!MEDIA_TYPE.test(value.trim())) throw validationError(loc, 'content-type must be a media type such as text/plain or application/xml', 'value_error');
    contentType = value.trim();
  }
  return contentType;
}
