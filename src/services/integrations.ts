// Use cases for integrations (Svix's integration keys): named credentials of one application whose
// key is an app-scoped API token that does not expire. The key is shown again on request (GET …/key,
// as Svix does), so besides its hash in api_tokens the store keeps it sealed with the secret box
// (TAPWIRE_ENCRYPTION_KEY) on the integration row. Rotating replaces it and the old key stops working
// at once; deleting the integration (or its application) ends its key.
import { randomBytes } from 'node:crypto';
import type { Integration } from '../domain/integrations.js';
import { newId } from '../domain/ids.js';
import { notFound } from '../errors/tapwire-error.js';
import type { IntegrationKeyToken, ListQuery, Page } from '../storage/store.js';
import { getApplication } from './applications.js';
import { hashToken } from './auth.js';
import type { ServiceContext } from './context.js';

/** What a client sets on an integration. */
export interface IntegrationInput {
  name: string;
  /** Absent: none (the key sees event types behind no flag only). */
  featureFlags?: string[] | null;
}

/** A new integration key: a readable prefix plus 32 random bytes in base64url (no `.`, like every token). */
export function generateIntegrationKey(): string {
  return `tw_integ_${randomBytes(32).toString('base64url')}`;
}

function keyToken(key: string, now: Date): IntegrationKeyToken {
  return { id: newId('tok', now.getTime()), tokenHash: hashToken(key), createdAt: now };
}

function flagsOf(input: IntegrationInput): string[] {
  return [...new Set(input.featureFlags ?? [])];
}

export async function listIntegrations(ctx: ServiceContext, appIdOrUid: string, query: ListQuery): Promise<Page<Integration>> {
  const app = await getApplication(ctx, appIdOrUid);
  return ctx.store.listIntegrations(app.id, query);
}

export async function createIntegration(ctx: ServiceContext, appIdOrUid: string, input: IntegrationInput): Promise<Integration> {
  const app = await getApplication(ctx, appIdOrUid);
  const now = ctx.clock.now();
  const key = generateIntegrationKey();
  const integration: Integration = { id: newId('integ', now.getTime()), appId: app.id, name: input.name, featureFlags: flagsOf(input), key, createdAt: now, updatedAt: now };
  const created = await ctx.store.createIntegration(integration, keyToken(key, now));
  ctx.logger.info({ appId: app.id, integrationId: created.id }, 'integration created');
  return created;
}

export async function getIntegration(ctx: ServiceContext, appIdOrUid: string, integrationId: string): Promise<Integration> {
  const app = await getApplication(ctx, appIdOrUid);
  const integration = await ctx.store.getIntegration(app.id, integrationId);
  if (!integration) throw notFound('Integration');
  return integration;
}

/** PUT: new name and feature flags (absent flags: none); the key stays, and sees what the flags allow from now on. */
export async function updateIntegration(ctx: ServiceContext, appIdOrUid: string, integrationId: string, input: IntegrationInput): Promise<Integration> {
  const app = await getApplication(ctx, appIdOrUid);
  const updated = await ctx.store.updateIntegration({ appId: app.id, id: integrationId, name: input.name, featureFlags: flagsOf(input), updatedAt: ctx.clock.now() });
  if (!updated) throw notFound('Integration');
  ctx.lookups?.forgetTokens(app.id);
  return updated;
}

export async function deleteIntegration(ctx: ServiceContext, appIdOrUid: string, integrationId: string): Promise<void> {
  const app = await getApplication(ctx, appIdOrUid);
  if (!(await ctx.store.deleteIntegration(app.id, integrationId))) throw notFound('Integration');
  ctx.lookups?.forgetTokens(app.id);
  ctx.logger.info({ appId: app.id, integrationId }, 'integration deleted; its key is revoked');
}

/** Replace the key; the previous one is refused from now on. Returns the new key. */
export async function rotateIntegrationKey(ctx: ServiceContext, appIdOrUid: string, integrationId: string): Promise<string> {
  const app = await getApplication(ctx, appIdOrUid);
  const now = ctx.clock.now();
  const key = generateIntegrationKey();
  const rotated = await ctx.store.rotateIntegrationKey({ appId: app.id, id: integrationId, key, token: keyToken(key, now), updatedAt: now });
  if (!rotated) throw notFound('Integration');
  ctx.lookups?.forgetTokens(app.id);
  ctx.logger.info({ appId: app.id, integrationId }, 'integration key rotated');
  return rotated.key;
}
