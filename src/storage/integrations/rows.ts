// Integration rows ↔ records, the same for both databases (their ColumnValues say how lists are
// held); the key is sealed on the way in and opened on the way out.
import type { Integration } from '../../domain/integrations.js';
import type { SecretSealer } from '../shared/secret-box.js';
import type { ColumnValues } from '../shared/values.js';
import type { IntegrationKeyToken } from '../store.js';

export interface IntegrationRow {
  id: string;
  app_id: string;
  name: string;
  feature_flags: unknown;
  key: string;
  created_at: number | string;
  updated_at: number | string;
}

export function toIntegration(r: IntegrationRow, values: ColumnValues, secrets: SecretSealer): Integration {
  return {
    id: r.id,
    appId: r.app_id,
    name: r.name,
    featureFlags: values.readTextList(r.feature_flags) ?? [],
    key: secrets.open(r.key),
    createdAt: new Date(Number(r.created_at)),
    updatedAt: new Date(Number(r.updated_at)),
  };
}

export function integrationParams(i: Integration, values: ColumnValues, secrets: SecretSealer): Record<string, unknown> {
  return {
    id: i.id,
    appId: i.appId,
    name: i.name,
    featureFlags: values.writeTextList(i.featureFlags),
    key: secrets.seal(i.key),
    createdAt: i.createdAt.getTime(),
    updatedAt: i.updatedAt.getTime(),
  };
}

/** The token row of an integration's key: the integration's application and feature flags, no expiry. */
export function integrationTokenParams(token: IntegrationToken, integration: Pick<Integration, 'id' | 'appId' | 'featureFlags'>, values: ColumnValues): Record<string, unknown> {
  return {
    id: token.id,
    tokenHash: token.tokenHash,
    appId: integration.appId,
    createdAt: token.createdAt.getTime(),
    featureFlags: values.writeTextList(integration.featureFlags),
    integrationId: integration.id,
  };
}

/** What the store needs of a new key's token: its id, hash and time (the rest comes from the integration). */
export type IntegrationToken = IntegrationKeyToken;
