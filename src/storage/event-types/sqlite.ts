// Event types on SQLite.
import type { EventType } from '../../domain/types.js';
import { conflictsOf } from '../shared/conflicts.js';
import { eventTypeParams, mapOrNull, toEventType, type EventTypeRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { EventTypeListQuery, Page } from '../store.js';
import { sqlite as SQL } from './sql.js';

const toRecord = (r: EventTypeRow): EventType => toEventType(r, values);

export class SqliteEventTypes {
  constructor(private readonly db: SqliteDatabase) {}

  async createEventType(eventType: EventType): Promise<EventType> {
    return this.db.guard(() => toRecord(this.db.get<EventTypeRow>(SQL.insertEventType, eventTypeParams(eventType, values))!), {
      conflicts: conflictsOf.eventType(eventType),
    });
  }

  async getEventType(name: string): Promise<EventType | null> {
    return this.db.guard(() => mapOrNull(this.db.get<EventTypeRow>(SQL.selectEventType, { name }), toRecord));
  }

  async saveEventType(eventType: EventType): Promise<EventType> {
    return this.db.guard(() => toRecord(this.db.get<EventTypeRow>(SQL.upsertEventType, eventTypeParams(eventType, values))!));
  }

  async deleteEventType(name: string): Promise<boolean> {
    return this.db.guard(() => this.db.run(SQL.deleteEventType, { name }).changes > 0);
  }

  async listEventTypes(query: EventTypeListQuery): Promise<Page<EventType>> {
    const params = { includeArchived: values.writeBoolean(query.includeArchived), featureFlags: query.featureFlags ? values.writeTextList(query.featureFlags) : null };
    return this.db.guard(() => this.db.page<EventTypeRow, EventType>(SQL.listEventTypes, query, 'ascending', params, (r) => r.name, toRecord));
  }

  async saveEventTypes(eventTypes: EventType[]): Promise<void> {
    this.db.guard(() =>
      this.db.write(() => {
        for (const eventType of eventTypes) this.db.get<EventTypeRow>(SQL.upsertEventType, eventTypeParams(eventType, values));
      }),
    );
  }
}
