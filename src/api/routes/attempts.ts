// The attempt routes: every attempt of one message or to one endpoint, and a single attempt with
// its response (which may be expunged).
import type { Principal } from '../../services/auth.js';
import type { ServiceContext } from '../../services/context.js';
import * as messages from '../../services/messages.js';
import { ATTEMPT_FILTERS, NAME_PATTERN, readAttemptFilters, readString } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { attemptOut, pageOut, type AttemptAudience } from '../serializers.js';

/** Only the admin token reads the SSRF guard's refusals in full (see attemptOut). */
function audienceOf(principal: Principal): AttemptAudience {
  return principal.kind === 'admin' ? 'operator' : 'tenant';
}

/** The routes under /api/v1/app/:app_id/attempt, and one attempt of a message. */
export function attemptRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: '/api/v1/app/:app_id/attempt/msg/:msg_id', operationId: 'message_attempt.list_by_msg', summary: 'Attempts of a message', tag: 'Message Attempt', access: 'app', needs: ['ViewBase'],
      query: { ...ATTEMPT_FILTERS, endpoint_id: 'Only attempts to this endpoint' }, responses: { 200: S.ListResponse(S.MessageAttemptOut, 'MessageAttemptOut') },
      handler: async (req) => {
        const q = req.query;
        const page = await messages.listAttemptsByMessage(ctx, req.params.app_id, req.params.msg_id, { ...readAttemptFilters(q), endpointId: readString(q, 'endpoint_id', { pattern: NAME_PATTERN }) });
        return pageOut(page, (attempt) => attemptOut(attempt, audienceOf(req.principal)));
      },
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/app/:app_id/attempt/endpoint/:endpoint_id', operationId: 'message_attempt.list_by_endpoint', summary: 'Attempts to an endpoint', tag: 'Message Attempt', access: 'app', needs: ['ViewBase'],
      query: ATTEMPT_FILTERS, responses: { 200: S.ListResponse(S.MessageAttemptOut, 'MessageAttemptOut') },
      handler: async (req) => {
        const page = await messages.listAttemptsByEndpoint(ctx, req.params.app_id, req.params.endpoint_id, readAttemptFilters(req.query));
        return pageOut(page, (attempt) => attemptOut(attempt, audienceOf(req.principal)));
      },
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/app/:app_id/msg/:msg_id/attempt/:attempt_id', operationId: 'message_attempt.get', summary: 'Get one attempt', tag: 'Message Attempt', access: 'app', needs: ['ViewBase'],
      responses: { 200: S.MessageAttemptOut },
      handler: async (req) => attemptOut(await messages.getAttempt(ctx, req.params.app_id, req.params.msg_id, req.params.attempt_id), audienceOf(req.principal)),
    }),
    defineRoute({
      // Named by no portal capability, like expunging a message's payload: a token with every one.
      method: 'DELETE', url: '/api/v1/app/:app_id/msg/:msg_id/attempt/:attempt_id/content', operationId: 'message_attempt.expunge_content', summary: "Delete an attempt's response body (it reads EXPUNGED)", tag: 'Message Attempt', access: 'app', needs: 'all',
      responses: { 204: null },
      handler: async (req, reply) => {
        await messages.expungeAttemptContent(ctx, req.params.app_id, req.params.msg_id, req.params.attempt_id);
        return reply.status(204).send();
      },
    }),
  ];
}
