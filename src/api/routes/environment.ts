// Svix's Environment API: export this server's configuration (the event-type catalogue) and import
// it into another. Admin token only. See services/environment.ts for what an environment holds here.
import type { Static } from '@sinclair/typebox';
import type { ServiceContext } from '../../services/context.js';
import * as environment from '../../services/environment.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { eventTypeOut } from '../serializers.js';
import { eventTypeInput } from './event-types.js';

/** POST /api/v1/environment/export and /import. */
export function environmentRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'POST', url: '/api/v1/environment/export', operationId: 'environment.export', tag: 'Environment', access: 'admin',
      summary: 'Export the event types (every one, archived included, with schemas)',
      description: 'Tapwire has no environment settings, connectors or transformation templates: `settings` is null and the lists are empty.',
      responses: { 200: S.EnvironmentOut },
      handler: async () => {
        const exported = await environment.exportEnvironment(ctx);
        return {
          version: exported.version,
          createdAt: exported.createdAt.toISOString(),
          eventTypes: exported.eventTypes.map((type) => eventTypeOut(type)),
          settings: null,
          connectors: [],
          transformationTemplates: [],
        };
      },
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/environment/import', operationId: 'environment.import', tag: 'Environment', access: 'admin',
      summary: 'Import event types: each is created or replaced; nothing is deleted',
      description: 'In one transaction. Non-empty `settings`, `connectors` or `transformationTemplates` are refused (422): Tapwire has no counterpart to import them into.',
      body: S.EnvironmentIn, bodyOptional: true, responses: { 204: null },
      handler: async (req, reply) => {
        const body = req.body as Static<typeof S.EnvironmentIn>;
        await environment.importEnvironment(ctx, {
          eventTypes: body.eventTypes?.map((type) => ({ ...eventTypeInput(type), name: type.name, description: type.description })) ?? null,
          settings: body.settings ?? null,
          connectors: body.connectors ?? null,
          transformationTemplates: body.transformationTemplates ?? null,
        });
        return reply.status(204).send();
      },
    }),
  ];
}
