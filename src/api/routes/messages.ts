// The message routes: send a message to an application's endpoints, list and read messages, expunge
// a payload, and the destinations of one message with a resend to one of them.
import type { Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { TapwireError, validationError } from '../../errors/tapwire-error.js';
import type { ServiceContext } from '../../services/context.js';
import * as messages from '../../services/messages.js';
import { findTopLevelValue } from '../raw-json.js';
import { ID_CURSOR, LIST_QUERY, MESSAGE_FILTERS, readBoolean, readListQuery, readMessageFilters, readStatus } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { deliveryStatusFields, endpointOut, messageOut, pageOut } from '../serializers.js';
import { appInput } from './applications.js';

const msg = '/api/v1/app/:app_id/msg';

/** The routes under /api/v1/app/:app_id/msg. */
export function messageRoutes(ctx: ServiceContext): RouteSpec[] {
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
