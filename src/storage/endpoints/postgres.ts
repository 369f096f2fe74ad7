// Endpoints on PostgreSQL. Changes that report themselves (operational events) queue their messages
// in the same transaction, through the messages subject; without any, a change is one statement.
import type { PoolClient } from 'pg';

import type { Endpoint, Message } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import type { PostgresDatabase, Queryable } from '../postgres/database.js';
import { conflictsOf } from '../shared/conflicts.js';
import { endpointParams, mapOrNull, resealedSecrets, toEndpoint, type EndpointRow, type EndpointSecretsRow } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { ListQuery, Page, QueueMessagesOptions } from '../store.js';
import { postgres as SQL } from './sql.js';


/** These endpoints by id, deleted ones included (a queued delivery must learn that its endpoint is gone). */
export function readEndpointRows(db: PostgresDatabase, ids: string[], on?: Queryable): Promise<Map<string, EndpointRow>> {
  return db.byId<EndpointRow>(SQL.selectEndpointsByIds, ids, on);
}

/** What endpoint changes need of the messages subject (PostgresMessages.withMessages): a change and its messages in one transaction. */
export interface PostgresMessageQueue {
  withMessages<T>(messages: Message[] | undefined, change: (client?: PoolClient) => Promise<T>, shouldQueue?: (result: T) => boolean): Promise<T>;
  queueMessages(client: PoolClient, messages: Message[] | undefined): Promise<void>;
}

export class PostgresEndpoints {
  constructor(
    private readonly db: PostgresDatabase,
    private readonly messages: PostgresMessageQueue,
  ) {}

  private toRecord(r: EndpointRow): Endpoint {
    return toEndpoint(r, values, this.db.secrets);
  }

  async createEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.db.guard(
      () =>
        this.messages.withMessages(options.messages, async (client) =>
          this.toRecord((await this.db.one<EndpointRow>(SQL.insertEndpoint, endpointParams(endpoint, values, this.db.secrets), client))!),
        ),
      { conflicts: conflictsOf.endpoint(endpoint), missingParent: 'Application not found' },
    );
  }

  async setEndpointTransformation(input: { appId: string; endpointId: string; code: string | null; enabled: boolean; now: Date }): Promise<Endpoint | null> {
    return this.db.guard(async () =>
      mapOrNull(
        await this.db.one<EndpointRow>(SQL.setEndpointTransformation, { id: input.endpointId, appId: input.appId, code: input.code, enabled: input.enabled, now: input.now.getTime() }),
        (r) => this.toRecord(r),
      ),
    );
  }

  async getEndpoint(appId: string, idOrUid: string): Promise<Endpoint | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<EndpointRow>(SQL.selectEndpointByIdOrUid, { appId, key: idOrUid }), (r) => this.toRecord(r)));
  }

  async updateEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.db.guard(
      () =>
        // Always a transaction: the release of a FIFO line below must commit with the change.
        this.db.transaction(async (client) => {
          const row = await this.db.one<EndpointRow>(SQL.updateEndpoint, endpointParams(endpoint, values, this.db.secrets), client);
          if (!row) throw new TapwireError('not_found', { detail: 'Endpoint not found' });
          // Not FIFO (any more): its held deliveries go. A statement of its own after the update's
          // row lock, so an accept that was holding one behind a head has committed and is seen.
          if (!row.fifo) await this.db.run(SQL.releaseFifoLine, { endpointId: row.id, now: row.updated_at }, client);
          await this.messages.queueMessages(client, options.messages);
          return this.toRecord(row);
        }),
      { conflicts: conflictsOf.endpoint(endpoint) },
    );
  }

  async deleteEndpoint(appId: string, endpointId: string, now: Date, options: QueueMessagesOptions = {}): Promise<boolean> {
    return this.db.guard(() =>
      this.db.retryingConflicts(() =>
        this.messages.withMessages(
          options.messages,
          async (client) => (await this.db.one<{ deleted: number }>(SQL.deleteEndpoint, { id: endpointId, appId, now: now.getTime() }, client))!.deleted > 0,
          (deleted) => deleted,
        ),
      ),
    );
  }

  async resealEndpoints(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }> {
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const { rows } = await this.db.run<EndpointSecretsRow>(SQL.selectEndpointSecrets, { afterId: input.afterId ?? '', limit: input.limit }, client);
        let resealed = 0;
        for (const row of rows) {
          const params = resealedSecrets(row, values, this.db.secrets);
          if (!params) continue;
          await this.db.run(SQL.updateEndpointSecrets, params, client);
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
    return this.db.guard(async () => (await this.db.one<{ active: boolean }>(SQL.selectActiveEndpointFor, { appId, eventType, channels: values.writeTextList(channels) }))!.active);
  }
}
