// API tokens and the idempotency cache on PostgreSQL.
import type { PostgresDatabase } from '../postgres/database.js';
import { conflictsOf } from '../shared/conflicts.js';
import { idempotentResponseParams, mapOrNull, tokenParams, tokenRevocationParams, toIdempotentResponse, toStoredToken, type IdempotencyRow, type TokenRow } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { IdempotentResponse, NewToken, StoredToken, TokenRevocation } from '../store.js';
import { postgres as SQL } from './sql.js';

const toToken = (r: TokenRow): StoredToken => toStoredToken(r, values);

export class PostgresAuth {
  constructor(private readonly db: PostgresDatabase) {}

  async createToken(input: NewToken): Promise<void> {
    return this.db.guard(
      async () => {
        await this.db.run(SQL.insertToken, tokenParams(input, values));
      },
      { conflicts: conflictsOf.token(input.id), missingParent: 'Application not found' },
    );
  }

  async findToken(tokenHash: string, now: Date): Promise<StoredToken | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<TokenRow>(SQL.selectLiveToken, { tokenHash, now: now.getTime() }), toToken));
  }

  async hasAdminToken(): Promise<boolean> {
    return this.db.guard(async () => values.readBoolean((await this.db.one<{ present: boolean }>(SQL.selectHasAdminToken, {}))!.present));
  }

  async listTokens(query: { appId: string | null; now: Date; limit: number }): Promise<StoredToken[]> {
    const params = { appId: query.appId, now: query.now.getTime(), limit: query.limit };
    return this.db.guard(async () => (await this.db.run<TokenRow>(query.appId === null ? SQL.listAdminTokens : SQL.listAppTokens, params)).rows.map(toToken));
  }

  async revokeTokens(input: TokenRevocation): Promise<number> {
    return this.db.guard(async () => (await this.db.run(SQL.revokeTokens, tokenRevocationParams(input, values))).rowCount ?? 0);
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
