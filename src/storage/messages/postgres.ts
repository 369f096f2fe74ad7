// Messages on PostgreSQL: an accept is one statement that stores the message and its deliveries, and
// the accepts of one turn of the event loop share one (see TurnBatch); the lists that pair a message
// with its latest delivery; and queueing messages inside another change's transaction.
import type { PoolClient } from 'pg';

import { newId } from '../../domain/ids.js';
import type { Endpoint, Message } from '../../domain/types.js';
import { insertDeliveries } from '../deliveries/postgres.js';
import { readEndpointRows } from '../endpoints/postgres.js';
import type { PostgresDatabase, Queryable } from '../postgres/database.js';
import type { QueuedAnnouncer } from '../postgres/notifications.js';
import { TurnBatch } from '../postgres/turn-batch.js';
import { conflictsOf } from '../shared/conflicts.js';
import { mapOrNull, messageListParams, messagesByKey, messageParams, toDelivery, toEndpoint, toMessage, type DeliveryRow, type MessageRow } from '../shared/rows.js';
import { jsonText, postgresValues as values } from '../shared/values.js';
import type { AttemptedMessage, CreateMessageResult, DeliveryHandoff, DeliveryJob, ListQuery, MessageDestination, MessageListQuery, Page } from '../store.js';
import { budgetParams } from '../deliveries/claims/rules.js';
import type { EndpointRow } from '../shared/rows.js';
import { postgres as SQL } from './sql.js';

const toRecord = (r: MessageRow): Message => toMessage(r, values);

/** Delivery ids made for a message before knowing how many endpoints match (see insertMessageWithFanOut). */
const MIN_DELIVERY_IDS = 4;

/** These messages by id. */
export function readMessageRows(db: PostgresDatabase, ids: string[], on?: Queryable): Promise<Map<string, MessageRow>> {
  return db.byId<MessageRow>(SQL.selectMessagesByIds, ids, on);
}

interface PendingAccept {
  message: Message;
  now: Date;
  endpointIds: string[] | undefined;
  handoff: DeliveryHandoff | null;
  resolve: (result: CreateMessageResult) => void;
  reject: (error: unknown) => void;
}

type AcceptedRow = MessageRow & { deliveries: DeliveryRow[]; handed_endpoints?: EndpointRow[] | null };

/** The handoff parameters of an accept statement (see HANDOFF_CTES); without a handoff, none is made. */
function handoffParams(handoff: DeliveryHandoff | null, now: Date): Record<string, unknown> {
  return {
    now: now.getTime(),
    lockedUntil: handoff ? handoff.lockedUntil.getTime() : null,
    handoffLimit: handoff ? Math.max(0, handoff.limit) : 0,
    ...budgetParams(handoff ?? undefined),
  };
}

export class PostgresMessages {
  /** Applications whose last message fanned out to more than MIN_DELIVERY_IDS endpoints, and to how many. */
  private readonly fanOutHint = new Map<string, number>();
  /** Applications whose last message went to a FIFO endpoint (see rememberFifo). */
  private readonly fifoApps = new Set<string>();
  private readonly accepts = new TurnBatch<PendingAccept>((batch) => this.acceptTogether(batch));

  constructor(
    private readonly db: PostgresDatabase,
    private readonly announcer: QueuedAnnouncer,
  ) {}

  async createMessage(message: Message, now: Date, options: { endpointIds?: string[]; handoff?: DeliveryHandoff | null } = {}): Promise<CreateMessageResult> {
    // Accepts made in the same turn of the event loop share one statement and one commit: each
    // commit waits for the disk, and one per message kept PostgreSQL busy serialising WAL flushes.
    return new Promise((resolve, reject) =>
      this.accepts.add({ message, now, endpointIds: options.endpointIds, handoff: options.handoff ?? null, resolve, reject }),
    );
  }

  async getMessage(appId: string, idOrEventId: string): Promise<Message | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<MessageRow>(SQL.selectMessageByIdOrEventId, { appId, key: idOrEventId }), toRecord));
  }

  async getMessagesByIds(appId: string, ids: readonly string[]): Promise<Message[]> {
    if (ids.length === 0) return [];
    return this.db.guard(async () => (await this.db.run<MessageRow>(SQL.selectAppMessagesByIds, { appId, ids: [...new Set(ids)] })).rows.map(toRecord));
  }

  async listMessages(appId: string, query: MessageListQuery): Promise<Page<Message>> {
    const params = messageListParams(appId, query, values);
    const sql = query.tag ? SQL.listMessagesByTag : SQL.listMessages;
    return this.db.guard(() => this.db.page<MessageRow, Message>(sql, query, 'descending', params, (r) => r.id, toRecord));
  }

  async expungeMessageContent(appId: string, msgId: string): Promise<boolean> {
    return this.db.guard(async () => ((await this.db.run(SQL.expungePayload, { appId, id: msgId })).rowCount ?? 0) > 0);
  }

  async expungeMessageContents(appId: string, keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const { rows } = await this.db.run<{ id: string; event_id: string | null }>(SQL.selectMessagesByKeys, { appId, keys }, client);
        const named = messagesByKey(keys, rows);
        await this.db.run(SQL.expungePayloads, { appId, ids: [...new Set(named.values())] }, client);
        return [...named.keys()];
      }),
    );
  }

  async listMessageDestinations(appId: string, msgId: string, query: ListQuery): Promise<Page<MessageDestination>> {
    return this.db.guard(async () => {
      const page = await this.db.page<DeliveryRow, DeliveryRow>(SQL.listMessageDestinations, query, 'ascending', { appId, msgId }, (r) => r.endpoint_id, (r) => r);
      const endpoints = await readEndpointRows(this.db, page.data.map((r) => r.endpoint_id));
      return {
        ...page,
        // An endpoint can only vanish with its application (deleted between the two reads).
        data: page.data.flatMap((r) => {
          const endpoint = endpoints.get(r.endpoint_id);
          return endpoint ? [{ endpoint: toEndpoint(endpoint, values, this.db.secrets), delivery: toDelivery(r) }] : [];
        }),
      };
    });
  }

  async listAttemptedMessages(appId: string, endpointId: string, query: MessageListQuery): Promise<Page<AttemptedMessage>> {
    const params = messageListParams(appId, query, values, endpointId);
    return this.db.guard(async () => {
      const page = await this.db.page<DeliveryRow, DeliveryRow>(SQL.listAttemptedMessages, query, 'descending', params, (r) => r.msg_id, (r) => r);
      const messages = await readMessageRows(this.db, page.data.map((r) => r.msg_id));
      return {
        ...page,
        data: page.data.flatMap((r) => {
          const message = messages.get(r.msg_id);
          return message ? [{ message: toRecord(message), delivery: toDelivery(r) }] : [];
        }),
      };
    });
  }

  /**
   * Run `change` alone when there are no messages to queue with it (one statement, no transaction),
   * else in one transaction with the messages queued after it when `shouldQueue(result)` holds.
   */
  async withMessages<T>(
    messages: Message[] | undefined,
    change: (client?: PoolClient) => Promise<T>,
    shouldQueue: (result: T) => boolean = () => true,
  ): Promise<T> {
    if (!messages?.length) return change();
    return this.db.transaction(async (client) => {
      const result = await change(client);
      if (shouldQueue(result)) await this.queueMessages(client, messages);
      return result;
    });
  }

  /** Accept messages inside the caller's transaction (see QueueMessagesOptions), fanned out as createMessage does. */
  async queueMessages(client: PoolClient, messages: Message[] | undefined): Promise<void> {
    for (const message of messages ?? []) {
      const { rowCount } = await this.db.run(SQL.lockApplication, { id: message.appId }, client);
      if (!rowCount) continue;
      const row = (await this.db.one<MessageRow & { endpoint_ids: string[] }>(SQL.insertMessage, { ...messageParams(message, values), endpointIds: null }, client))!;
      await insertDeliveries(this.db, client, {
        appId: message.appId,
        triggerType: 'scheduled',
        now: message.createdAt,
        targets: row.endpoint_ids.map((endpointId) => ({ msgId: message.id, endpointId })),
      });
    }
  }

  /** Accept the messages gathered by createMessage: all in one statement, else each alone. */
  private async acceptTogether(batch: PendingAccept[]): Promise<void> {
    // One by one and in the order they came, as they would have without the batch: of two
    // messages with the same eventId, the first gets it.
    const alone = async (items: PendingAccept[]): Promise<void> => {
      for (const item of items) await this.acceptOne(item).then(item.resolve, item.reject);
    };
    if (batch.length === 1 || this.db.closed) return alone(batch);
    // An application with a FIFO endpoint would fail the shared statement for all (see
    // insertMessageWithFanOut); its accepts go alone, the others together.
    if (batch.some((item) => this.fifoApps.has(item.message.appId))) {
      const together = batch.filter((item) => !this.fifoApps.has(item.message.appId));
      await alone(batch.filter((item) => this.fifoApps.has(item.message.appId)));
      return together.length > 0 ? this.acceptTogether(together) : undefined;
    }
    const rows = batch.map(({ message, now, endpointIds }) => ({
      id: message.id,
      app_id: message.appId,
      event_id: message.eventId,
      event_type: message.eventType,
      payload: message.payload,
      channels: message.channels,
      created_at: message.createdAt.getTime(),
      payload_expires_at: message.payloadExpiresAt.getTime(),
      tags: message.tags && message.tags.length > 0 ? message.tags : null,
      deliver_at: message.deliverAt ? message.deliverAt.getTime() : null,
      content_type: message.contentType ?? null,
      forward_headers: message.forwardHeaders ? JSON.stringify(message.forwardHeaders) : null,
      endpoint_ids: endpointIds ?? null,
      delivery_ids: this.guessDeliveryIds(message.appId, now),
      now: now.getTime(),
    }));
    // The accepts of one turn were offered the same worker's room; the first offer stands for all.
    const handoff = batch.find((item) => item.handoff)?.handoff ?? null;
    let accepted: Map<string, AcceptedRow>;
    let endpoints: Map<string, Endpoint | null>;
    try {
      const { rows: inserted } = await this.db.run<AcceptedRow>(SQL.insertMessagesWithFanOut, { rows: jsonText(rows), ...handoffParams(handoff, batch[0]!.now) });
      accepted = new Map(inserted.map((row) => [row.id, row]));
      endpoints = this.handedEndpoints(inserted);
    } catch {
      // Nothing of the batch was stored; each message gets its own answer.
      return alone(batch);
    }
    let queued = false;
    const missing: PendingAccept[] = [];
    for (const item of batch) {
      const row = accepted.get(item.message.id);
      if (!row) {
        missing.push(item);
        continue;
      }
      this.rememberFanOut(item.message.appId, row.deliveries.length);
      const result = acceptedResult(row, endpoints);
      queued ||= result.deliveries.length > result.handedOff.length;
      item.resolve(result);
    }
    if (queued) this.announcer.announce();
    await alone(missing);
  }

  private async acceptOne({ message, now, endpointIds, handoff }: PendingAccept): Promise<CreateMessageResult> {
    return this.db.guard(
      async () => {
        // Known to fan out to a FIFO endpoint: the statement would fail (see insertMessageWithFanOut).
        if (!this.fifoApps.has(message.appId)) {
          try {
            const row = (await this.db.one<AcceptedRow>(SQL.insertMessageWithFanOut, {
              ...messageParams(message, values),
              endpointIds: endpointIds ?? null,
              deliveryIds: this.guessDeliveryIds(message.appId, now),
              ...handoffParams(handoff, now),
            }))!;
            this.rememberFanOut(message.appId, row.deliveries.length);
            const result = acceptedResult(row, this.handedEndpoints([row]));
            if (result.deliveries.length > result.handedOff.length) this.announcer.announce();
            return result;
          } catch (error) {
            if ((error as { code?: unknown }).code !== '23502' || (error as { column?: unknown }).column !== 'id') throw error;
          }
        }
        // Not enough ids guessed, or a FIFO endpoint among the targets: this transaction makes
        // exactly as many ids as needed, and locks the FIFO endpoints first (insertDeliveries).
        return this.db.transaction(async (client) => {
          const row = (await this.db.one<MessageRow & { endpoint_ids: string[] }>(
            SQL.insertMessage,
            { ...messageParams(message, values), endpointIds: endpointIds ?? null },
            client,
          ))!;
          const deliveries = await insertDeliveries(this.db, client, {
            appId: message.appId,
            triggerType: 'scheduled',
            now,
            deliverAt: message.deliverAt ?? null,
            targets: row.endpoint_ids.map((endpointId) => ({ msgId: message.id, endpointId })),
          });
          this.rememberFanOut(message.appId, deliveries.length);
          this.rememberFifo(message.appId, deliveries.some((d) => d.fifoSeq !== undefined));
          return { message: toRecord(row), deliveries, handedOff: [] };
        });
      },
      { conflicts: conflictsOf.message(message), missingParent: 'Application not found' },
    );
  }

  /** The endpoints of an accept statement's handed-off deliveries (on its first row), by id. */
  private handedEndpoints(rows: AcceptedRow[]): Map<string, Endpoint | null> {
    const byId = new Map<string, Endpoint | null>();
    for (const row of rows) {
      for (const endpoint of row.handed_endpoints ?? []) byId.set(endpoint.id, toEndpoint(endpoint, values, this.db.secrets));
    }
    return byId;
  }

  /**
   * Delivery ids for a message of this application made before its fan-out is known. Most
   * applications have few endpoints per event type: guess generously from its last message.
   */
  private guessDeliveryIds(appId: string, now: Date): string[] {
    const guess = Math.max(MIN_DELIVERY_IDS, this.fanOutHint.get(appId) ?? 0);
    return Array.from({ length: guess }, () => newId('msgep', now.getTime()));
  }

  /**
   * Remembers whether an application's last message went to a FIFO endpoint, so its next accepts
   * skip the statement that would fail (see insertMessageWithFanOut). Only a shortcut: a wrong
   * guess costs a failed statement, or a transaction where one statement would have done.
   */
  private rememberFifo(appId: string, fifo: boolean): void {
    if (!fifo) {
      this.fifoApps.delete(appId);
      return;
    }
    if (this.fifoApps.size >= 10_000) this.fifoApps.clear();
    this.fifoApps.add(appId);
  }

  /** Remembers how many deliveries an application's last message made, for the next guess of ids. */
  private rememberFanOut(appId: string, count: number): void {
    if (count <= MIN_DELIVERY_IDS) {
      this.fanOutHint.delete(appId);
      return;
    }
    // A bound on memory, not a cache policy: forgetting only costs one retried statement.
    if (this.fanOutHint.size >= 10_000) this.fanOutHint.clear();
    this.fanOutHint.set(appId, count);
  }
}

/** An accepted message, its deliveries, and those of them handed off as jobs. */
function acceptedResult(row: AcceptedRow, endpoints: Map<string, Endpoint | null>): CreateMessageResult {
  const message = toRecord(row);
  const deliveries = row.deliveries.map(toDelivery);
  const handedOff: DeliveryJob[] = [];
  for (const delivery of deliveries) {
    if (delivery.lockedUntil === null) continue;
    handedOff.push({ delivery, message, endpoint: endpoints.get(delivery.endpointId) ?? null });
  }
  return { message, deliveries, handedOff };
}
