// API tokens and the idempotency cache on SQLite.
import { conflictsOf } from '../shared/conflicts.js';
import { idempotentResponseParams, mapOrNull, tokenParams, tokenRevocationParams, toIdempotentResponse, toStoredToken, type IdempotencyRow, type TokenRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { IdempotentResponse, NewToken, StoredToken, TokenRevocation } from '../store.js';
import { sqlite as SQL } from './sql.js';

const toToken = (r: TokenRow): StoredToken => toStoredToken(r, values);

export class SqliteAuth {
  constructor(private readonly db: SqliteDatabase) {}

  async createToken(input: NewToken): Promise<void> {
    return this.db.guard(
      () => {
        this.db.run(SQL.insertToken, tokenParams(input, values));
      },
      { conflicts: conflictsOf.token(input.id), missingParent: 'Application not found' },
    );
  }

  async findToken(tokenHash: string, now: Date): Promise<StoredToken | null> {
    return this.db.guard(() => mapOrNull(this.db.get<TokenRow>(SQL.selectLiveToken, { tokenHash, now: now.getTime() }), toToken));
  }

  async hasAdminToken(): Promise<boolean> {
    return this.db.guard(() => values.readBoolean(this.db.get<{ present: number }>(SQL.selectHasAdminToken, {})!.present));
  }

  async listTokens(query: { appId: string | null; now: Date; limit: number }): Promise<StoredToken[]> {
    const params = { appId: query.appId, now: query.now.getTime(), limit: query.limit };
    return this.db.guard(() => this.db.all<TokenRow>(query.appId === null ? SQL.listAdminTokens : SQL.listAppTokens, params).map(toToken));
  }

  async revokeTokens(input: TokenRevocation): Promise<number> {
    return this.db.guard(() => this.db.run(SQL.revokeTokens, tokenRevocationParams(input, values)).changes);
  }

  async getIdempotentResponse(keyHash: string, now: Date): Promise<IdempotentResponse | null> {
    return this.db.guard(() => mapOrNull(this.db.get<IdempotencyRow>(SQL.selectIdempotentResponse, { keyHash, now: now.getTime() }), toIdempotentResponse));
  }

  async saveIdempotentResponse(keyHash: string, response: IdempotentResponse, expiresAt: Date): Promise<void> {
    return this.db.guard(() => {
      this.db.run(SQL.insertIdempotentResponse, idempotentResponseParams(keyHash, response, expiresAt));
    });
  }
}
