// Listen sessions on SQLite.
import type { ListenSession } from '../../domain/listen.js';
import { mapOrNull } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import { LISTEN_SESSION_MISSING_PARENT, listenSessionParams, toListenSession, type ListenSessionRow } from './rows.js';
import { sqlite as SQL } from './sql.js';

export class SqliteListenSessions {
  constructor(private readonly db: SqliteDatabase) {}

  async saveListenSession(session: ListenSession): Promise<ListenSession> {
    return this.db.guard(
      () => this.db.write(() => toListenSession(this.db.get<ListenSessionRow>(SQL.saveListenSession, listenSessionParams(session, values))!, values)),
      { missingParent: LISTEN_SESSION_MISSING_PARENT },
    );
  }

  async getListenSession(id: string): Promise<ListenSession | null> {
    return this.db.guard(() => mapOrNull(this.db.get<ListenSessionRow>(SQL.selectListenSession, { id }), (r) => toListenSession(r, values)));
  }

  async listListenSessions(query: { appId?: string | null; limit: number }): Promise<ListenSession[]> {
    return this.db.guard(() => {
      const rows = query.appId
        ? this.db.all<ListenSessionRow>(SQL.listAppListenSessions, { appId: query.appId, limit: query.limit })
        : this.db.all<ListenSessionRow>(SQL.listListenSessions, { limit: query.limit });
      return rows.map((r) => toListenSession(r, values));
    });
  }

  async touchListenSessions(input: { ids: string[]; now: Date }): Promise<void> {
    if (input.ids.length === 0) return;
    this.db.guard(() =>
      this.db.write(() => {
        this.db.run(SQL.touchListenSessions, { ids: values.writeTextList(input.ids), now: input.now.getTime() });
      }),
    );
  }

  async markListenSessionDetached(input: { id: string; now: Date }): Promise<boolean> {
    return this.db.guard(() => this.db.write(() => this.db.run(SQL.markListenSessionDetached, { id: input.id, now: input.now.getTime() }).changes > 0));
  }

  async listExpiredListenSessions(input: { lastSeenBefore: Date; limit: number }): Promise<ListenSession[]> {
    return this.db.guard(() =>
      this.db.all<ListenSessionRow>(SQL.listExpiredListenSessions, { lastSeenBefore: input.lastSeenBefore.getTime(), limit: input.limit }).map((r) => toListenSession(r, values)),
    );
  }

  async deleteListenSession(id: string): Promise<boolean> {
    return this.db.guard(() => this.db.write(() => this.db.run(SQL.deleteListenSession, { id }).changes > 0));
  }
}
