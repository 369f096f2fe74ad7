// Endpoints on SQLite. Changes that report themselves (operational events) queue their messages in
// the same transaction, through the messages subject.
import type { Endpoint, Message } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import { conflictsOf } from '../shared/conflicts.js';
import { endpointParams, mapOrNull, resealedSecrets, toEndpoint, type EndpointRow, type EndpointSecretsRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { ListQuery, Page, QueueMessagesOptions } from '../store.js';
import { sqlite as SQL } from './sql.js';


/** The endpoint with this id, deleted ones included (a queued delivery must learn that its endpoint is gone). */
export function readEndpointRow(db: SqliteDatabase, id: string): EndpointRow | undefined {
  return db.get<EndpointRow>(SQL.selectEndpointById, { id });
}

/** The live endpoint with this id, as a record, or null when it was deleted (inside the caller's transaction). */
export function readLiveEndpoint(db: SqliteDatabase, id: string): Endpoint | null {
  const row = readEndpointRow(db, id);
  return row && row.deleted_at === null ? toEndpoint(row, values, db.secrets) : null;
}

/** What endpoint changes need of the messages subject (SqliteMessages): queueing messages in the caller's transaction. */
export interface SqliteMessageQueue {
  queueMessages(messages: Message[] | undefined): void;
}

export class SqliteEndpoints {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly messages: SqliteMessageQueue,
  ) {}

  private toRecord(r: EndpointRow): Endpoint {
    return toEndpoint(r, values, this.db.secrets);
  }

  async createEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.db.guard(
      () =>
        this.db.write(() => {
          const row = this.db.get<EndpointRow>(SQL.insertEndpoint, endpointParams(endpoint, values, this.db.secrets))!;
          this.messages.queueMessages(options.messages);
          return this.toRecord(row);
        }),
      { conflicts: conflictsOf.endpoint(endpoint), missingParent: 'Application not found' },
    );
  }

  async getEndpoint(appId: string, idOrUid: string): Promise<Endpoint | null> {
    return this.db.guard(() => mapOrNull(this.db.get<EndpointRow>(SQL.selectEndpointByIdOrUid, { appId, key: idOrUid }), (r) => this.toRecord(r)));
  }

  async updateEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.db.guard(
      () =>
        this.db.write(() => {
          const row = this.db.get<EndpointRow>(SQL.updateEndpoint, endpointParams(endpoint, values, this.db.secrets));
          if (!row) throw new TapwireError('not_found', { detail: 'Endpoint not found' });
          // Not FIFO (any more): its held deliveries go (docs/fifo.md).
          if (row.fifo === 0) this.db.run(SQL.releaseFifoLine, { endpointId: row.id, now: row.updated_at });
          this.messages.queueMessages(options.messages);
          return this.toRecord(row);
        }),
      { conflicts: conflictsOf.endpoint(endpoint) },
    );
  }

  async deleteEndpoint(appId: string, endpointId: string, now: Date, options: QueueMessagesOptions = {}): Promise<boolean> {
    return this.db.guard(() =>
      this.db.write(() => {
        const deleted = this.db.run(SQL.deleteEndpoint, { id: endpointId, appId, now: now.getTime() }).changes > 0;
        if (deleted) {
          this.db.run(SQL.cancelOpenDeliveriesOfEndpoint, { endpointId, now: now.getTime() });
          this.db.run(SQL.deleteListenSessionOfEndpoint, { endpointId });
          this.messages.queueMessages(options.messages);
        }
        return deleted;
      }),
    );
  }

  async setEndpointTransformation(input: { appId: string; endpointId: string; code: string | null; enabled: boolean; now: Date }): Promise<Endpoint | null> {
    return this.db.guard(() =>
      this.db.write(() =>
        mapOrNull(
          this.db.get<EndpointRow>(SQL.setEndpointTransformation, { id: input.endpointId, appId: input.appId, code: input.code, enabled: values.writeBoolean(input.enabled), now: input.now.getTime() }),
          (r) => this.toRecord(r),
        ),
      ),
    );
  }

  async resealEndpoints(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }> {
    return this.db.guard(() =>
      this.db.write(() => {
        const rows = this.db.all<EndpointSecretsRow>(SQL.selectEndpointSecrets, { afterId: input.afterId ?? '', limit: input.limit });
        let resealed = 0;
        for (const row of rows) {
          const params = resealedSecrets(row, values, this.db.secrets);
          if (!params) continue;
          this.db.run(SQL.updateEndpointSecrets, params);
          resealed++;
        }
        return { resealed, lastId: rows.length < input.limit ? null : rows.at(-1)!.id };
      }),
    );
  }

  async listEndpoints(appId: string, query: ListQuery): Promise<Page<Endpoint>> {
    return this.db.guard(() => this.db.page<EndpointRow, Endpoint>(SQL.listEndpoints, query, 'descending', { appId }, (r) => r.id, (r) => this.toRecord(r)));
  }

  async hasActiveEndpointFor(appId: string, eventType: string, channels: string[] | null): Promise<boolean> {
    return this.db.guard(() => this.db.get<{ active: number }>(SQL.selectActiveEndpointFor, { appId, eventType, channels: values.writeTextList(channels) })!.active === 1);
  }
}
