// Integrations and their keys on SQLite.
import type { Integration } from '../../domain/integrations.js';
import { mapOrNull } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { IntegrationKeyToken, ListQuery, Page } from '../store.js';
import { integrationParams, integrationTokenParams, toIntegration, type IntegrationRow } from './rows.js';
import { sqlite as SQL } from './sql.js';

export class SqliteIntegrations {
  constructor(private readonly db: SqliteDatabase) {}

  private toRecord(r: IntegrationRow): Integration {
    return toIntegration(r, values, this.db.secrets);
  }

  async createIntegration(integration: Integration, token: IntegrationKeyToken): Promise<Integration> {
    return this.db.guard(
      () =>
        this.db.write(() => {
          const row = this.db.get<IntegrationRow>(SQL.insertIntegration, integrationParams(integration, values, this.db.secrets))!;
          this.db.run(SQL.insertIntegrationToken, integrationTokenParams(token, integration, values));
          return this.toRecord(row);
        }),
      { missingParent: 'Application not found' },
    );
  }

  async getIntegration(appId: string, id: string): Promise<Integration | null> {
    return this.db.guard(() => mapOrNull(this.db.get<IntegrationRow>(SQL.selectIntegration, { appId, id }), (r) => this.toRecord(r)));
  }

  async listIntegrations(appId: string, query: ListQuery): Promise<Page<Integration>> {
    return this.db.guard(() => this.db.page<IntegrationRow, Integration>(SQL.listIntegrations, query, 'descending', { appId }, (r) => r.id, (r) => this.toRecord(r)));
  }

  async updateIntegration(input: { appId: string; id: string; name: string; featureFlags: string[]; updatedAt: Date }): Promise<Integration | null> {
    return this.db.guard(() =>
      this.db.write(() => {
        const featureFlags = values.writeTextList(input.featureFlags);
        const row = this.db.get<IntegrationRow>(SQL.updateIntegration, { appId: input.appId, id: input.id, name: input.name, featureFlags, updatedAt: input.updatedAt.getTime() });
        if (!row) return null;
        this.db.run(SQL.updateIntegrationTokenFlags, { id: input.id, featureFlags });
        return this.toRecord(row);
      }),
    );
  }

  async rotateIntegrationKey(input: { appId: string; id: string; key: string; token: IntegrationKeyToken; updatedAt: Date }): Promise<Integration | null> {
    return this.db.guard(() =>
      this.db.write(() => {
        const row = this.db.get<IntegrationRow>(SQL.updateIntegrationKey, { appId: input.appId, id: input.id, key: this.db.secrets.seal(input.key), updatedAt: input.updatedAt.getTime() });
        if (!row) return null;
        const integration = this.toRecord(row);
        this.db.run(SQL.deleteIntegrationTokens, { id: input.id });
        this.db.run(SQL.insertIntegrationToken, integrationTokenParams(input.token, integration, values));
        return integration;
      }),
    );
  }

  async resealIntegrationKeys(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }> {
    return this.db.guard(() =>
      this.db.write(() => {
        const rows = this.db.all<{ id: string; key: string }>(SQL.selectIntegrationKeys, { afterId: input.afterId ?? '', limit: input.limit });
        let resealed = 0;
        for (const row of rows) {
          if (this.db.secrets.isCurrent(row.key)) continue;
          this.db.run(SQL.updateSealedIntegrationKey, { id: row.id, key: this.db.secrets.seal(this.db.secrets.open(row.key)) });
          resealed++;
        }
        return { resealed, lastId: rows.length < input.limit ? null : rows.at(-1)!.id };
      }),
    );
  }

  async deleteIntegration(appId: string, id: string): Promise<boolean> {
    return this.db.guard(() => this.db.write(() => this.db.run(SQL.deleteIntegration, { appId, id }).changes > 0));
  }
}
