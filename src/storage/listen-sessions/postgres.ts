// Listen sessions on PostgreSQL.
import type { ListenSession } from '../../domain/listen.js';
import type { PostgresDatabase } from '../postgres/database.js';
import { mapOrNull } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import { LISTEN_SESSION_MISSING_PARENT, listenSessionParams, toListenSession, type ListenSessionRow } from './rows.js';
import { postgres as SQL } from './sql.js';

type Row = ListenSessionRow & Record<string, unknown>;

export class PostgresListenSessions {
  constructor(private readonly db: PostgresDatabase) {}

  async saveListenSession(session: ListenSession): Promise<ListenSession> {
    return this.db.guard(async () => toListenSession((await this.db.one<Row>(SQL.saveListenSession, listenSessionParams(session, values)))!, values), {
      missingParent: LISTEN_SESSION_MISSING_PARENT,
    });
  }

  async getListenSession(id: string): Promise<ListenSession | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<Row>(SQL.selectListenSession, { id }), (r) => toListenSession(r, values)));
  }

  async listListenSessions(query: { appId?: string | null; limit: number }): Promise<ListenSession[]> {
    return this.db.guard(async () => {
      const { rows } = query.appId
        ? await this.db.run<Row>(SQL.listAppListenSessions, { appId: query.appId, limit: query.limit })
        : await this.db.run<Row>(SQL.listListenSessions, { limit: query.limit });
      return rows.map((r) => toListenSession(r, values));
    });
  }

  async touchListenSessions(input: { ids: string[]; now: Date }): Promise<void> {
    if (input.ids.length === 0) return;
    await this.db.guard(() => this.db.run(SQL.touchListenSessions, { ids: values.writeTextList(input.ids), now: input.now.getTime() }));
  }

  async markListenSessionDetached(input: { id: string; now: Date }): Promise<boolean> {
    return this.db.guard(async () => ((await this.db.run(SQL.markListenSessionDetached, { id: input.id, now: input.now.getTime() })).rowCount ?? 0) > 0);
  }

  async listExpiredListenSessions(input: { lastSeenBefore: Date; limit: number }): Promise<ListenSession[]> {
    return this.db.guard(async () => {
      const { rows } = await this.db.run<Row>(SQL.listExpiredListenSessions, { lastSeenBefore: input.lastSeenBefore.getTime(), limit: input.limit });
      return rows.map((r) => toListenSession(r, values));
    });
  }

  async deleteListenSession(id: string): Promise<boolean> {
    return this.db.guard(async () => ((await this.db.run(SQL.deleteListenSession, { id })).rowCount ?? 0) > 0);
  }
}
