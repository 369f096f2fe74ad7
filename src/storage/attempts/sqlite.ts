// The attempt log on SQLite.
import type { Attempt } from '../../domain/types.js';
import { attemptListParams, mapOrNull, toAttempt, type AttemptRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { AttemptListQuery, Page } from '../store.js';
import { attemptListFor, sqlite as SQL } from './sql.js';

export class SqliteAttempts {
  constructor(private readonly db: SqliteDatabase) {}

  async listAttempts(appId: string, query: AttemptListQuery): Promise<Page<Attempt>> {
    const params = attemptListParams(appId, query, values);
    return this.db.guard(() => this.db.page<AttemptRow, Attempt>(SQL[attemptListFor(query)], query, 'descending', params, (r) => r.id, toAttempt));
  }

  async getAttempt(appId: string, msgId: string, attemptId: string): Promise<Attempt | null> {
    return this.db.guard(() => mapOrNull(this.db.get<AttemptRow>(SQL.selectAttempt, { appId, msgId, id: attemptId }), toAttempt));
  }

  async expungeAttemptContent(appId: string, msgId: string, attemptId: string): Promise<boolean> {
    return this.db.guard(() => this.db.run(SQL.expungeAttemptResponse, { appId, msgId, id: attemptId }).changes > 0);
  }
}
