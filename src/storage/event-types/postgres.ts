// Event types on PostgreSQL.
import type { EventType } from '../../domain/types.js';
import type { PostgresDatabase } from '../postgres/database.js';
import { conflictsOf } from '../shared/conflicts.js';
import { eventTypeParams, mapOrNull, toEventType, type EventTypeRow } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { EventTypeListQuery, Page } from '../store.js';
import { postgres as SQL } from './sql.js';

const toRecord = (r: EventTypeRow): EventType => toEventType(r, values);

export class PostgresEventTypes {
  constructor(private readonly db: PostgresDatabase) {}

  async createEventType(eventType: EventType): Promise<EventType> {
    return this.db.guard(async () => toRecord((await this.db.one<EventTypeRow>(SQL.insertEventType, eventTypeParams(eventType, values)))!), {
      conflicts: conflictsOf.eventType(eventType),
    });
  }

  async getEventType(name: string): Promise<EventType | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<EventTypeRow>(SQL.selectEventType, { name }), toRecord));
  }

  async saveEventType(eventType: EventType): Promise<EventType> {
    return this.db.guard(async () => toRecord((await this.db.one<EventTypeRow>(SQL.upsertEventType, eventTypeParams(eventType, values)))!));
  }

  async deleteEventType(name: string): Promise<boolean> {
    return this.db.guard(async () => ((await this.db.run(SQL.deleteEventType, { name })).rowCount ?? 0) > 0);
  }

  async listEventTypes(query: EventTypeListQuery): Promise<Page<EventType>> {
    const params = { includeArchived: values.writeBoolean(query.includeArchived), featureFlags: query.featureFlags ? values.writeTextList(query.featureFlags) : null };
    return this.db.guard(() => this.db.page<EventTypeRow, EventType>(SQL.listEventTypes, query, 'ascending', params, (r) => r.name, toRecord));
  }

  async saveEventTypes(eventTypes: EventType[]): Promise<void> {
    await this.db.guard(() =>
      this.db.transaction(async (client) => {
        for (const eventType of eventTypes) await this.db.run(SQL.upsertEventType, eventTypeParams(eventType, values), client);
      }),
    );
  }
}
