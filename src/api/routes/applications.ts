// The application routes: list, create, read, replace, change and delete the tenants messages are
// sent for.
import type { Static } from '@sinclair/typebox';
import * as apps from '../../services/applications.js';
import type { ServiceContext } from '../../services/context.js';
import { ID_CURSOR, LIST_QUERY, readBoolean, readListQuery } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { applicationOut, pageOut } from '../serializers.js';

/** The routes under /api/v1/app and /api/v1/app/:app_id. */
export function applicationRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: '/api/v1/app', operationId: 'application.list', summary: 'List applications', tag: 'Application', access: 'admin',
      query: LIST_QUERY, responses: { 200: S.ListResponse(S.ApplicationOut, 'ApplicationOut') },
      handler: async (req) => pageOut(await apps.listApplications(ctx, readListQuery(req.query, ID_CURSOR.app, 'ascending')), applicationOut),
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/app', operationId: 'application.create', summary: 'Create an application', tag: 'Application', access: 'admin',
      body: S.ApplicationIn, query: { get_if_exists: 'Return the existing application with this uid (200) instead of 409' },
      responses: { 201: S.ApplicationOut, 200: S.ApplicationOut },
      handler: async (req, reply) => {
        const { app, created } = await apps.createApplication(ctx, appInput(req.body), { getIfExists: readBoolean(req.query, 'get_if_exists', false) });
        return reply.status(created ? 201 : 200).send(applicationOut(app));
      },
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/app/:app_id', operationId: 'application.get', summary: 'Get an application', tag: 'Application', access: 'app', needs: ['ViewBase'],
      responses: { 200: S.ApplicationOut },
      handler: async (req) => applicationOut(await apps.getApplication(ctx, req.params.app_id)),
    }),
    defineRoute({
      method: 'PUT', url: '/api/v1/app/:app_id', operationId: 'application.update', summary: 'Replace (or create) an application', tag: 'Application', access: 'admin',
      body: S.ApplicationIn, responses: { 200: S.ApplicationOut, 201: S.ApplicationOut },
      handler: async (req, reply) => {
        const { app, created } = await apps.upsertApplication(ctx, req.params.app_id, appInput(req.body));
        return reply.status(created ? 201 : 200).send(applicationOut(app));
      },
    }),
    defineRoute({
      method: 'PATCH', url: '/api/v1/app/:app_id', operationId: 'application.patch', summary: 'Change some fields of an application', tag: 'Application', access: 'admin',
      body: S.ApplicationPatch, responses: { 200: S.ApplicationOut },
      handler: async (req) => applicationOut(await apps.patchApplication(ctx, req.params.app_id, appInput(req.body))),
    }),
    defineRoute({
      method: 'DELETE', url: '/api/v1/app/:app_id', operationId: 'application.delete', summary: 'Delete an application and everything it owns', tag: 'Application', access: 'admin',
      responses: { 204: null },
      handler: async (req, reply) => {
        await apps.deleteApplication(ctx, req.params.app_id);
        return reply.status(204).send();
      },
    }),
  ];
}

/** The fields of an application body that were given, with `rateLimit` read as `throttleRate`. */
export function appInput(body: Static<typeof S.ApplicationPatch>): apps.ApplicationInput {
  return {
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.uid !== undefined ? { uid: body.uid } : {}),
    ...(body.throttleRate !== undefined || body.rateLimit !== undefined ? { throttleRate: body.throttleRate ?? body.rateLimit ?? null } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
  };
}
