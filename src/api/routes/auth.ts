// The authentication routes: minting an application's portal token, logout, and who a token acts as.
import * as apps from '../../services/applications.js';
import { createAppToken } from '../../services/auth.js';
import type { ServiceContext } from '../../services/context.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { applicationOut } from '../serializers.js';

/** The routes under /api/v1/auth. */
export function authRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'POST', url: '/api/v1/auth/app-portal-access/:app_id', operationId: 'authentication.app_portal_access', summary: 'Mint a token scoped to one application, and a portal link', tag: 'Authentication', access: 'admin',
      body: S.AppPortalAccessIn, bodyOptional: true, responses: { 200: S.AppPortalAccessOut },
      handler: async (req) => {
        const body = req.body;
        const { token } = await createAppToken(ctx, req.params.app_id, body.expiry ? body.expiry * 1000 : undefined);
        // The token travels in the fragment, which browsers never send to servers or put in logs.
        return { url: `${ctx.config.publicUrl}/portal#token=${token}`, token };
      },
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/auth/logout', operationId: 'authentication.logout', summary: 'End a session (tokens stay valid until they expire)', tag: 'Authentication', access: 'app',
      responses: { 204: null },
      handler: async (_req, reply) => reply.status(204).send(),
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/auth/whoami', operationId: 'authentication.whoami', summary: 'Who this token acts as (the dashboard asks after login)', tag: 'Authentication', access: 'app',
      responses: { 200: S.WhoAmIOut },
      handler: async (req) => {
        const principal = req.principal;
        if (principal.kind === 'admin') return { kind: 'admin' };
        return { kind: 'app', app: applicationOut(await apps.getApplication(ctx, principal.appId)) };
      },
    }),
  ];
}
