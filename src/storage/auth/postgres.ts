// API tokens and the idempotency cache on PostgreSQL.
import type { PostgresDatabase } from '../postgres/database.js';
import { conflictsOf } from '../shared/conflicts.js';
import { idempotentResponseParams, mapOrNull, tokenParams, toIdempotentResponse, toStoredToken, type IdempotencyRow, type TokenRow } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { IdempotentResponse, StoredToken } from '../store.js';
import { postgres as SQL } from './sql.js';

export class PostgresAuth {
  constructor(private readonly db: PostgresDatabase) {}

  async createToken(input: { id: string; tokenHash: string; appId: string | null; createdAt: Date; expiresAt: Date | null }): Promise<void> {
    return this.db.guard(
      async () => {
        await this.db.run(SQL.insertToken, tokenParams(input));
      },
      { conflicts: conflictsOf.token(input.id), missingParent: 'Application not found' },
    );
  }

  async findToken(tokenHash: string, now: Date): Promise<StoredToken | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<TokenRow>(SQL.selectLiveToken, { tokenHash, now: now.getTime() }), toStoredToken));
  }

  async hasAdminToken(): Promise<boolean> {
    return this.db.guard(async () => values.readBoolean((await this.db.one<{ present: boolean }>(SQL.selectHasAdminToken, {}))!.present));
  }

  async getIdempotentResponse(keyHash: string, now: Date): Promise<IdempotentResponse | null> {
    return this.db.guard(async () =>
      mapOrNull(await this.db.one<IdempotencyRow>(SQL.selectIdempotentResponse, { keyHash, now: now.getTime() }), toIdempotentResponse),
    );
  }

  async saveIdempotentResponse(keyHash: string, response: IdempotentResponse, expiresAt: Date): Promise<void> {
    return this.db.guard(async () => {
      await this.db.run(SQL.insertIdempotentResponse, idempotentResponseParams(keyHash, response, expiresAt));
    });
  }
}
