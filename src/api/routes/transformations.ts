// The routes of endpoint transformations: Svix's GET/PATCH …/endpoint/{id}/transformation, and
// Tapwire's …/transformation/simulate, which runs code on a message without sending anything.
import type { ServiceContext } from '../../services/context.js';
import * as transformations from '../../services/transformations.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';

const path = '/api/v1/app/:app_id/endpoint/:endpoint_id/transformation';

function transformationOut(view: transformations.TransformationView): { code: string | null; enabled: boolean; updatedAt: string | null } {
  return { code: view.code, enabled: view.enabled, updatedAt: view.updatedAt?.toISOString() ?? null };
}

/** The routes under /api/v1/app/:app_id/endpoint/:endpoint_id/transformation. */
export function transformationRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: path, operationId: 'endpoint.transformation_get', summary: "Get the endpoint's transformation", tag: 'Endpoint', access: 'app', needs: ['ManageTransformations'],
      description: 'The code and whether deliveries run it. See docs/transformations.md.',
      responses: { 200: S.EndpointTransformationOut },
      handler: async (req) => transformationOut(await transformations.getTransformation(ctx, req.params.app_id, req.params.endpoint_id)),
    }),
    defineRoute({
      method: 'PATCH', url: path, operationId: 'endpoint.transformation_partial_update', summary: "Set or remove the endpoint's transformation, or switch it on or off", tag: 'Endpoint', access: 'app', needs: ['ManageTransformations'],
      description:
        'Fields left out keep their value; `code: null` removes the transformation. Deliveries made after the change run the new code. ' +
        'A handler that throws, runs past TAPWIRE_TRANSFORMATION_TIMEOUT, exceeds TAPWIRE_TRANSFORMATION_MEMORY_LIMIT or returns something unusable makes a failed attempt, retried on the schedule.',
      body: S.EndpointTransformationIn, responses: { 204: null },
      handler: async (req, reply) => {
        const body = req.body;
        await transformations.patchTransformation(ctx, req.params.app_id, req.params.endpoint_id, {
          ...(body.code !== undefined ? { code: body.code } : {}),
          ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
          ...(body.variables !== undefined ? { variables: body.variables } : {}),
        });
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'POST', url: `${path}/simulate`, operationId: 'endpoint.transformation_simulate', summary: 'Try transformation code on a message, without sending', tag: 'Endpoint', access: 'app', needs: ['ManageTransformations'],
      description:
        'Tapwire addition. Runs the given code (or the saved code) on a stored message (`msgId`) or a `payload`, in the same sandbox and with the same limits as deliveries, ' +
        'and answers what would be sent, or why the attempt would fail. Always 200 once the code ran: a failing handler is a result, not a request error.',
      body: S.TransformationSimulateIn, responses: { 200: S.TransformationSimulateOut },
      handler: async (req) => {
        const body = req.body;
        return transformations.simulateTransformation(ctx, req.params.app_id, req.params.endpoint_id, {
          ...(body.code !== undefined ? { code: body.code } : {}),
          ...(body.msgId !== undefined ? { msgId: body.msgId } : {}),
          ...(body.payload !== undefined ? { payload: body.payload } : {}),
          ...(body.eventType !== undefined ? { eventType: body.eventType } : {}),
        });
      },
    }),
  ];
}
