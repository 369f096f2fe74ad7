// The integration routes (Svix's): an application's named, long-lived keys. Admin token only: an
// integration key never expires, so a portal token (short-lived by design) may not mint one.
import type { Integration } from '../../domain/integrations.js';
import type { ServiceContext } from '../../services/context.js';
import * as integrations from '../../services/integrations.js';
import { LIST_QUERY, readListQuery } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { pageOut } from '../serializers.js';

const base = '/api/v1/app/:app_id/integration';
const INTEGRATION_CURSOR = /^integ_[0-9A-Za-z]{27}$/;

export function integrationOut(integration: Integration): Record<string, unknown> {
  return {
    id: integration.id,
    name: integration.name,
    featureFlags: integration.featureFlags,
    createdAt: integration.createdAt.toISOString(),
    updatedAt: integration.updatedAt.toISOString(),
  };
}

/** The routes under /api/v1/app/:app_id/integration. */
export function integrationRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: base, operationId: 'integration.list', summary: "List the application's integrations", tag: 'Integration', access: 'admin',
      query: LIST_QUERY, responses: { 200: S.ListResponse(S.IntegrationOut, 'IntegrationOut') },
      handler: async (req) => pageOut(await integrations.listIntegrations(ctx, req.params.app_id, readListQuery(req.query, INTEGRATION_CURSOR, 'descending')), integrationOut),
    }),
    defineRoute({
      method: 'POST', url: base, operationId: 'integration.create', summary: 'Create an integration (and its key)', tag: 'Integration', access: 'admin',
      body: S.IntegrationIn, responses: { 201: S.IntegrationOut },
      handler: async (req, reply) => {
        const integration = await integrations.createIntegration(ctx, req.params.app_id, req.body);
        return reply.status(201).send(integrationOut(integration));
      },
    }),
    defineRoute({
      method: 'GET', url: `${base}/:integ_id`, operationId: 'integration.get', summary: 'Get an integration', tag: 'Integration', access: 'admin',
      responses: { 200: S.IntegrationOut },
      handler: async (req) => integrationOut(await integrations.getIntegration(ctx, req.params.app_id, req.params.integ_id)),
    }),
    defineRoute({
      method: 'PUT', url: `${base}/:integ_id`, operationId: 'integration.update', summary: 'Rename an integration or change its feature flags', tag: 'Integration', access: 'admin',
      body: S.IntegrationUpdate, responses: { 200: S.IntegrationOut },
      handler: async (req) => integrationOut(await integrations.updateIntegration(ctx, req.params.app_id, req.params.integ_id, req.body)),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:integ_id`, operationId: 'integration.delete', summary: 'Delete an integration; its key stops working', tag: 'Integration', access: 'admin',
      responses: { 204: null },
      handler: async (req, reply) => {
        await integrations.deleteIntegration(ctx, req.params.app_id, req.params.integ_id);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: `${base}/:integ_id/key`, operationId: 'integration.get_key', summary: "Get the integration's key (the 1.x clients' getKey)", tag: 'Integration', access: 'admin',
      responses: { 200: S.IntegrationKeyOut },
      handler: async (req) => ({ key: (await integrations.getIntegration(ctx, req.params.app_id, req.params.integ_id)).key }),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:integ_id/key/rotate`, operationId: 'integration.rotate_key', summary: "Replace the integration's key; the previous one stops working at once", tag: 'Integration', access: 'admin',
      responses: { 200: S.IntegrationKeyOut },
      // The answer is the new key: never cached for idempotency replay.
      carriesCredentials: true,
      handler: async (req) => ({ key: await integrations.rotateIntegrationKey(ctx, req.params.app_id, req.params.integ_id) }),
    }),
  ];
}
