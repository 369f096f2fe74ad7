// Integrations and their keys on PostgreSQL.
import type { Integration } from '../../domain/integrations.js';
import type { PostgresDatabase } from '../postgres/database.js';
import { mapOrNull } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { IntegrationKeyToken, ListQuery, Page } from '../store.js';
import { integrationParams, integrationTokenParams, toIntegration, type IntegrationRow } from './rows.js';
import { postgres as SQL } from './sql.js';

export class PostgresIntegrations {
  constructor(private readonly db: PostgresDatabase) {}

  private toRecord(r: IntegrationRow): Integration {
    return toIntegration(r, values, this.db.secrets);
  }

  async createIntegration(integration: Integration, token: IntegrationKeyToken): Promise<Integration> {
    return this.db.guard(
      () =>
        this.db.transaction(async (client) => {
          const row = (await this.db.one<IntegrationRow & Record<string, unknown>>(SQL.insertIntegration, integrationParams(integration, values, this.db.secrets), client))!;
          await this.db.run(SQL.insertIntegrationToken, integrationTokenParams(token, integration, values), client);
          return this.toRecord(row);
        }),
      { missingParent: 'Application not found' },
    );
  }

  async getIntegration(appId: string, id: string): Promise<Integration | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<IntegrationRow & Record<string, unknown>>(SQL.selectIntegration, { appId, id }), (r) => this.toRecord(r)));
  }

  async listIntegrations(appId: string, query: ListQuery): Promise<Page<Integration>> {
    return this.db.guard(() =>
      this.db.page<IntegrationRow & Record<string, unknown>, Integration>(SQL.listIntegrations, query, 'descending', { appId }, (r) => r.id, (r) => this.toRecord(r)),
    );
  }

  async updateIntegration(input: { appId: string; id: string; name: string; featureFlags: string[]; updatedAt: Date }): Promise<Integration | null> {
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const featureFlags = values.writeTextList(input.featureFlags);
        const params = { appId: input.appId, id: input.id, name: input.name, featureFlags, updatedAt: input.updatedAt.getTime() };
        const row = await this.db.one<IntegrationRow & Record<string, unknown>>(SQL.updateIntegration, params, client);
        if (!row) return null;
        await this.db.run(SQL.updateIntegrationTokenFlags, { id: input.id, featureFlags }, client);
        return this.toRecord(row);
      }),
    );
  }

  async rotateIntegrationKey(input: { appId: string; id: string; key: string; token: IntegrationKeyToken; updatedAt: Date }): Promise<Integration | null> {
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const params = { appId: input.appId, id: input.id, key: this.db.secrets.seal(input.key), updatedAt: input.updatedAt.getTime() };
        const row = await this.db.one<IntegrationRow & Record<string, unknown>>(SQL.updateIntegrationKey, params, client);
        if (!row) return null;
        const integration = this.toRecord(row);
        await this.db.run(SQL.deleteIntegrationTokens, { id: input.id }, client);
        await this.db.run(SQL.insertIntegrationToken, integrationTokenParams(input.token, integration, values), client);
        return integration;
      }),
    );
  }

  async resealIntegrationKeys(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }> {
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const { rows } = await this.db.run<{ id: string; key: string }>(SQL.selectIntegrationKeys, { afterId: input.afterId ?? '', limit: input.limit }, client);
        let resealed = 0;
        for (const row of rows) {
          if (this.db.secrets.isCurrent(row.key)) continue;
          await this.db.run(SQL.updateSealedIntegrationKey, { id: row.id, key: this.db.secrets.seal(this.db.secrets.open(row.key)) }, client);
          resealed++;
        }
        return { resealed, lastId: rows.length < input.limit ? null : rows.at(-1)!.id };
      }),
    );
  }

  async deleteIntegration(appId: string, id: string): Promise<boolean> {
    return this.db.guard(async () => ((await this.db.run(SQL.deleteIntegration, { appId, id })).rowCount ?? 0) > 0);
  }
}
