// Retention on SQLite.
import type { SqliteDatabase } from '../sqlite/database.js';
import { sqlite as SQL } from './sql.js';

export class SqliteRetention {
  constructor(private readonly db: SqliteDatabase) {}

  async expireMessagePayloads(now: Date, limit: number): Promise<number> {
    return this.db.guard(() => this.db.run(SQL.expirePayloads, { now: now.getTime(), limit }).changes);
  }

  async pruneAttempts(before: Date, limit: number): Promise<number> {
    return this.db.guard(() => this.db.run(SQL.pruneAttempts, { before: before.getTime(), limit }).changes);
  }

  async pruneIdempotency(now: Date, limit: number): Promise<number> {
    return this.db.guard(() => this.db.run(SQL.pruneIdempotency, { now: now.getTime(), limit }).changes);
  }
}
