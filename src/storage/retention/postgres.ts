// Retention on PostgreSQL.
import type { PostgresDatabase } from '../postgres/database.js';
import { postgres as SQL } from './sql.js';

export class PostgresRetention {
  constructor(private readonly db: PostgresDatabase) {}

  async expireMessagePayloads(now: Date, limit: number): Promise<number> {
    return this.db.guard(async () => (await this.db.run(SQL.expirePayloads, { now: now.getTime(), limit })).rowCount ?? 0);
  }

  async pruneAttempts(before: Date, limit: number): Promise<number> {
    return this.db.guard(async () => (await this.db.run(SQL.pruneAttempts, { before: before.getTime(), limit })).rowCount ?? 0);
  }

  async pruneIdempotency(now: Date, limit: number): Promise<number> {
    return this.db.guard(async () => (await this.db.run(SQL.pruneIdempotency, { now: now.getTime(), limit })).rowCount ?? 0);
  }
}
