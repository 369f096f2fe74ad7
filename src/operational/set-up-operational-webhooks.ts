// At startup: find the reserved operational application (its endpoints are the operational webhook
// endpoints, managed through /api/v1/operational-webhook/endpoint), and when
// TAPWIRE_OPERATIONAL_WEBHOOK_URL is set, make that configuration true in the database: the
// application exists and its endpoint with uid `tapwire-operational` points at the URL with the
// configured secret. Every process (api and worker roles alike) runs this; it is idempotent and safe to race.
import { ConfigError, ENV } from '../config/config.js';
import { TapwireError } from '../errors/tapwire-error.js';
import { createApplication, isConflict } from '../services/applications.js';
import type { ServiceContext } from '../services/context.js';
import { createEndpoint, patchEndpoint, type EndpointInput } from '../services/endpoints.js';
import { OPERATIONAL_APP_UID, OPERATIONAL_ENDPOINT_UID, OperationalEvents } from './operational-events.js';

/**
 * Return the event builder the API and the worker share. Operational events are built whenever the
 * operational application (uid `tapwire-operational`) exists, that is once an operational endpoint
 * was created (through the API, or here); they reach whichever of its endpoints are enabled and
 * accept them.
 *
 * With TAPWIRE_OPERATIONAL_WEBHOOK_URL set, the application and its endpoint with uid
 * `tapwire-operational` are created or updated: the URL, the secret (when configured; otherwise the
 * one generated on first start is kept) and `disabled = false` are imposed on every start; anything
 * else an operator changed through the API (filters, headers, more endpoints) stays. Throws
 * ConfigError when the URL is not allowed (https only, private networks).
 */
export async function setUpOperationalWebhooks(ctx: ServiceContext): Promise<OperationalEvents> {
  const findAppId = async (): Promise<string | null> => (await ctx.store.getApplication(OPERATIONAL_APP_UID))?.id ?? null;
  const url = ctx.config.operationalWebhookUrl;
  if (!url) return new OperationalEvents(await findAppId(), findAppId);
  const secret = ctx.config.operationalWebhookSecret;
  const { app } = await createApplication(ctx, { uid: OPERATIONAL_APP_UID, name: 'Tapwire operational webhooks' }, { getIfExists: true });
  try {
    let endpoint = await ctx.store.getEndpoint(app.id, OPERATIONAL_ENDPOINT_UID);
    if (!endpoint) {
      try {
        endpoint = await createEndpoint(ctx, app.id, {
          uid: OPERATIONAL_ENDPOINT_UID,
          url,
          description: `Operational webhooks (${ENV.operationalWebhookUrl})`,
          ...(secret ? { secret } : {}),
        });
      } catch (error) {
        // Another process starting at the same time created it first.
        endpoint = isConflict(error) ? await ctx.store.getEndpoint(app.id, OPERATIONAL_ENDPOINT_UID) : null;
        if (!endpoint) throw error;
      }
    }
    const changes: EndpointInput = {};
    if (endpoint.url !== url) changes.url = url;
    if (endpoint.disabled) changes.disabled = false;
    if (secret && endpoint.secret !== secret) changes.secret = secret;
    if (Object.keys(changes).length > 0) {
      await patchEndpoint(ctx, app.id, endpoint.id, changes);
      ctx.logger.info({ appId: app.id, endpointId: endpoint.id, changed: Object.keys(changes) }, 'operational webhook endpoint updated from configuration');
    }
  } catch (error) {
    if (error instanceof TapwireError && error.code === 'validation_error') {
      throw new ConfigError(`${ENV.operationalWebhookUrl}: ${error.detail}`);
    }
    throw error;
  }
  return new OperationalEvents(app.id, findAppId);
}
