// The attempt log on PostgreSQL.
import type { Attempt } from '../../domain/types.js';
import type { PostgresDatabase } from '../postgres/database.js';
import { attemptListParams, mapOrNull, toAttempt, type AttemptRow } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { AttemptListQuery, Page } from '../store.js';
import { attemptListFor, postgres as SQL } from './sql.js';

export class PostgresAttempts {
  constructor(private readonly db: PostgresDatabase) {}

  async listAttempts(appId: string, query: AttemptListQuery): Promise<Page<Attempt>> {
    const params = attemptListParams(appId, query, values);
    return this.db.guard(() => this.db.page<AttemptRow, Attempt>(SQL[attemptListFor(query)], query, 'descending', params, (r) => r.id, toAttempt));
  }

  async getAttempt(appId: string, msgId: string, attemptId: string): Promise<Attempt | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<AttemptRow>(SQL.selectAttempt, { appId, msgId, id: attemptId }), toAttempt));
  }

  async expungeAttemptContent(appId: string, msgId: string, attemptId: string): Promise<boolean> {
    return this.db.guard(async () => ((await this.db.run(SQL.expungeAttemptResponse, { appId, msgId, id: attemptId })).rowCount ?? 0) > 0);
  }
}
