// API tokens and the idempotency cache on SQLite.
import { conflictsOf } from '../shared/conflicts.js';
import { idempotentResponseParams, mapOrNull, tokenParams, toIdempotentResponse, toStoredToken, type IdempotencyRow, type TokenRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { IdempotentResponse, StoredToken } from '../store.js';
import { sqlite as SQL } from './sql.js';

export class SqliteAuth {
  constructor(private readonly db: SqliteDatabase) {}

  async createToken(input: { id: string; tokenHash: string; appId: string | null; createdAt: Date; expiresAt: Date | null }): Promise<void> {
    return this.db.guard(
      () => {
        this.db.run(SQL.insertToken, tokenParams(input));
      },
      { conflicts: conflictsOf.token(input.id), missingParent: 'Application not found' },
    );
  }

  async findToken(tokenHash: string, now: Date): Promise<StoredToken | null> {
    return this.db.guard(() => mapOrNull(this.db.get<TokenRow>(SQL.selectLiveToken, { tokenHash, now: now.getTime() }), toStoredToken));
  }

  async hasAdminToken(): Promise<boolean> {
    return this.db.guard(() => values.readBoolean(this.db.get<{ present: number }>(SQL.selectHasAdminToken, {})!.present));
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
