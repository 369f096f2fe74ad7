// Use cases for operational webhook endpoints (Svix's /api/v1/operational-webhook/endpoint): the
// endpoints of the reserved operational application (uid `tapwire-operational`). Being ordinary
// endpoints, they are delivered, signed, retried, rotated and logged by the same machinery as any
// other; this module only finds (or first creates) that application and marks the changes as
// operational (their eventTypes name operational events, not the event-type catalogue).
import type { Application, Endpoint } from '../domain/types.js';
import { notFound } from '../errors/tapwire-error.js';
import { OPERATIONAL_APP_UID, OperationalEvents } from '../operational/operational-events.js';
import type { ListQuery, Page } from '../storage/store.js';
import { createApplication } from './applications.js';
import type { ServiceContext } from './context.js';
import * as endpoints from './endpoints.js';

/** The name the operational application is created with. */
export const OPERATIONAL_APP_NAME = 'Tapwire operational webhooks';

/**
 * The operational application, created first when `create` (the first operational endpoint). Once
 * known, this process raises operational events into it from then on.
 */
async function operationalApp(ctx: ServiceContext, create: boolean): Promise<Application | null> {
  let app = await ctx.store.getApplication(OPERATIONAL_APP_UID);
  if (!app && create) app = (await createApplication(ctx, { uid: OPERATIONAL_APP_UID, name: OPERATIONAL_APP_NAME }, { getIfExists: true })).app;
  if (app) {
    if (ctx.operational) ctx.operational.adopt(app.id);
    else ctx.operational = new OperationalEvents(app.id);
  }
  return app;
}

async function requireApp(ctx: ServiceContext): Promise<Application> {
  const app = await operationalApp(ctx, false);
  if (!app) throw notFound('Endpoint');
  return app;
}

const EMPTY: Page<Endpoint> = { data: [], iterator: null, prevIterator: null, done: true };

export async function listOperationalEndpoints(ctx: ServiceContext, query: ListQuery): Promise<Page<Endpoint>> {
  const app = await operationalApp(ctx, false);
  return app ? ctx.store.listEndpoints(app.id, query) : EMPTY;
}

export async function createOperationalEndpoint(ctx: ServiceContext, input: endpoints.EndpointInput): Promise<Endpoint> {
  const app = await operationalApp(ctx, true);
  return endpoints.createEndpoint(ctx, app!.id, { ...input, operational: true });
}

export async function getOperationalEndpoint(ctx: ServiceContext, endpointIdOrUid: string): Promise<Endpoint> {
  return endpoints.getEndpoint(ctx, (await requireApp(ctx)).id, endpointIdOrUid);
}

/** PUT: replace the endpoint's settings (its secret and custom headers are kept), or create it with this uid. */
export async function upsertOperationalEndpoint(ctx: ServiceContext, endpointIdOrUid: string, input: endpoints.EndpointInput): Promise<{ endpoint: Endpoint; created: boolean }> {
  const app = await operationalApp(ctx, !endpointIdOrUid.startsWith('ep_'));
  if (!app) throw notFound('Endpoint');
  return endpoints.upsertEndpoint(ctx, app.id, endpointIdOrUid, { ...input, operational: true });
}

export async function deleteOperationalEndpoint(ctx: ServiceContext, endpointIdOrUid: string): Promise<void> {
  await endpoints.deleteEndpoint(ctx, (await requireApp(ctx)).id, endpointIdOrUid);
}

export async function rotateOperationalEndpointSecret(
  ctx: ServiceContext,
  endpointIdOrUid: string,
  input: { key?: string | null; gracePeriodSeconds?: number },
): Promise<void> {
  await endpoints.rotateEndpointSecret(ctx, (await requireApp(ctx)).id, endpointIdOrUid, input);
}

export async function setOperationalEndpointHeaders(ctx: ServiceContext, endpointIdOrUid: string, headers: Record<string, string>): Promise<void> {
  await endpoints.updateEndpointHeaders(ctx, (await requireApp(ctx)).id, endpointIdOrUid, headers, 'replace');
}
