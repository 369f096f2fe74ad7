// The authentication routes: minting an application's portal token (with its scope), logout,
// expiring an application's tokens, and who a token acts as.
import { capabilitiesOf } from '../../domain/token-scopes.js';
import { validationError } from '../../errors/tapwire-error.js';
import * as apps from '../../services/applications.js';
import { createAppToken, expireAppTokens, logout } from '../../services/auth.js';
import type { ServiceContext } from '../../services/context.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { applicationOut } from '../serializers.js';
import { appInput } from './applications.js';

/** The routes under /api/v1/auth. */
export function authRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'POST', url: '/api/v1/auth/app-portal-access/:app_id', operationId: 'authentication.app_portal_access', summary: 'Mint a token scoped to one application, and a portal link', tag: 'Authentication', access: 'admin',
      body: S.AppPortalAccessIn, bodyOptional: true, responses: { 200: S.AppPortalAccessOut },
      // The answer is the token itself: never cached for idempotency replay.
      carriesCredentials: true,
      handler: async (req) => {
        const body = req.body;
        if (body.capabilities && !body.capabilities.includes('ViewBase')) {
          throw validationError(['body', 'capabilities'], 'the ViewBase capability is always required');
        }
        const { token } = await createAppToken(ctx, req.params.app_id, {
          ...(body.expiry ? { ttlMs: body.expiry * 1000 } : {}),
          ...(body.application ? { application: appInput(body.application) } : {}),
          scope: {
            readOnly: body.readOnly ?? false,
            capabilities: body.capabilities ?? null,
            featureFlags: body.featureFlags ?? [],
            sessionId: body.sessionId ?? null,
          },
        });
        // The token travels in the fragment, which browsers never send to servers or put in logs.
        return { url: `${ctx.config.publicUrl}/portal#token=${token}`, token };
      },
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/auth/dashboard-access/:app_id', operationId: 'authentication.dashboard_access',
      summary: "Deprecated by Svix for app-portal-access: a token with every capability for one application, and its portal link", tag: 'Authentication', access: 'admin',
      responses: { 200: S.DashboardAccessOut },
      carriesCredentials: true,
      handler: async (req) => {
        const { token } = await createAppToken(ctx, req.params.app_id);
        return { url: `${ctx.config.publicUrl}/portal#token=${token}`, token };
      },
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/auth/app/:app_id/expire-all', operationId: 'authentication.expire_all', summary: "Revoke an application's tokens, now or after a grace period, optionally only some sessions'", tag: 'Authentication', access: 'admin',
      body: S.ApplicationTokenExpireIn, bodyOptional: true, responses: { 204: null },
      handler: async (req, reply) => {
        await expireAppTokens(ctx, req.params.app_id, { expirySeconds: req.body.expiry ?? null, sessionIds: req.body.sessionIds ?? null });
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/auth/logout', operationId: 'authentication.logout', summary: 'Log out: the application token presented stops working at once', tag: 'Authentication', access: 'app', needs: ['ViewBase'],
      responses: { 204: null },
      handler: async (req, reply) => {
        await logout(ctx, req.principal);
        return reply.status(204).send();
      },
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/auth/whoami', operationId: 'authentication.whoami', summary: 'Who this token acts as and what it may do (the dashboard asks after login)', tag: 'Authentication', access: 'app', needs: ['ViewBase'],
      responses: { 200: S.WhoAmIOut },
      handler: async (req) => {
        const principal = req.principal;
        if (principal.kind === 'admin') return { kind: 'admin' };
        return {
          kind: 'app',
          app: applicationOut(await apps.getApplication(ctx, principal.appId)),
          capabilities: capabilitiesOf(principal.scope),
          featureFlags: principal.scope.featureFlags,
        };
      },
    }),
  ];
}
