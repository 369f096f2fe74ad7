// Messages on SQLite: accepting one fans it out in the same transaction (through the group commit,
// so accepts made together share one fsync); the lists that pair a message with its latest delivery.
import type { Delivery, Endpoint, Message } from '../../domain/types.js';
import { insertDelivery } from '../deliveries/sqlite.js';
import { readEndpointRow } from '../endpoints/sqlite.js';
import { conflictsOf } from '../shared/conflicts.js';
import { mapOrNull, messageListParams, messagesByKey, messageParams, toDelivery, toEndpoint, toMessage, type DeliveryRow, type MessageRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import { budgetParams } from '../deliveries/claims/rules.js';
import type { AttemptedMessage, CreateMessageResult, DeliveryHandoff, DeliveryJob, ListQuery, MessageDestination, MessageListQuery, Page } from '../store.js';
import { sqlite as SQL } from './sql.js';

const toRecord = (r: MessageRow): Message => toMessage(r, values);

/** The message with this id (inside the caller's transaction); it must exist. */
export function readMessage(db: SqliteDatabase, id: string): Message {
  return toRecord(db.get<MessageRow>(SQL.selectMessageById, { id })!);
}

export class SqliteMessages {
  constructor(private readonly db: SqliteDatabase) {}

  async createMessage(message: Message, now: Date, options: { endpointIds?: string[]; handoff?: DeliveryHandoff | null } = {}): Promise<CreateMessageResult> {
    return this.db.writeGrouped(() => this.insertMessageWithFanOut(message, now, options.endpointIds, options.handoff ?? null), {
      conflicts: conflictsOf.message(message),
      missingParent: 'Application not found',
    });
  }

  async getMessage(appId: string, idOrEventId: string): Promise<Message | null> {
    return this.db.guard(() => mapOrNull(this.db.get<MessageRow>(SQL.selectMessageByIdOrEventId, { appId, key: idOrEventId }), toRecord));
  }

  async getMessagesByIds(appId: string, ids: readonly string[]): Promise<Message[]> {
    if (ids.length === 0) return [];
    return this.db.guard(() => this.db.all<MessageRow>(SQL.selectAppMessagesByIds, { appId, ids: JSON.stringify([...new Set(ids)]) }).map(toRecord));
  }

  async listMessages(appId: string, query: MessageListQuery): Promise<Page<Message>> {
    const params = messageListParams(appId, query, values);
    const sql = query.tag ? SQL.listMessagesByTag : SQL.listMessages;
    return this.db.guard(() => this.db.page<MessageRow, Message>(sql, query, 'descending', params, (r) => r.id, toRecord));
  }

  async expungeMessageContent(appId: string, msgId: string): Promise<boolean> {
    return this.db.guard(() => this.db.run(SQL.expungePayload, { appId, id: msgId }).changes > 0);
  }

  async expungeMessageContents(appId: string, keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    return this.db.guard(() =>
      this.db.write(() => {
        const rows = this.db.all<{ id: string; event_id: string | null }>(SQL.selectMessagesByKeys, { appId, keys: values.writeTextList(keys) });
        const named = messagesByKey(keys, rows);
        this.db.run(SQL.expungePayloads, { appId, ids: values.writeTextList([...new Set(named.values())]) });
        return [...named.keys()];
      }),
    );
  }

  async listMessageDestinations(appId: string, msgId: string, query: ListQuery): Promise<Page<MessageDestination>> {
    return this.db.guard(() =>
      this.db.read(() =>
        this.db.page<DeliveryRow, MessageDestination>(SQL.listMessageDestinations, query, 'ascending', { appId, msgId }, (r) => r.endpoint_id, (r) => ({
          endpoint: toEndpoint(readEndpointRow(this.db, r.endpoint_id)!, values, this.db.secrets),
          delivery: toDelivery(r),
        })),
      ),
    );
  }

  async listAttemptedMessages(appId: string, endpointId: string, query: MessageListQuery): Promise<Page<AttemptedMessage>> {
    const params = messageListParams(appId, query, values, endpointId);
    return this.db.guard(() =>
      this.db.read(() =>
        this.db.page<DeliveryRow, AttemptedMessage>(SQL.listAttemptedMessages, query, 'descending', params, (r) => r.msg_id, (r) => ({
          message: readMessage(this.db, r.msg_id),
          delivery: toDelivery(r),
        })),
      ),
    );
  }

  /** Accept messages inside the caller's write transaction (see QueueMessagesOptions). */
  queueMessages(messages: Message[] | undefined): void {
    for (const message of messages ?? []) {
      if (!this.db.get(SQL.lockApplication, { id: message.appId })) continue;
      this.insertMessageWithFanOut(message, message.createdAt);
    }
  }

  /**
   * Insert the message (and its tags) and one scheduled delivery (due `now`, or at its deliverAt) per endpoint it fans out to (or, with
   * `endpointIds`, per named live endpoint). Call inside a write transaction.
   */
  private insertMessageWithFanOut(message: Message, now: Date, endpointIds?: string[], handoff: DeliveryHandoff | null = null): CreateMessageResult {
    const params = messageParams(message, values);
    const row = this.db.get<MessageRow>(SQL.insertMessage, params)!;
    if (params.tags !== null) this.db.run(SQL.insertMessageTags, params);
    const endpoints = endpointIds
      ? this.db.all<{ id: string }>(SQL.selectTargetedEndpoints, { appId: message.appId, endpointIds: JSON.stringify(endpointIds) })
      : this.db.all<{ id: string }>(SQL.selectFanOutEndpoints, {
          appId: message.appId,
          eventType: message.eventType,
          channels: values.writeTextList(message.channels),
        });
    const accepted = toRecord(row);
    // A scheduled message's deliveries wait for their time: none is handed off.
    const scheduledAt = message.deliverAt ? message.deliverAt.getTime() : null;
    if (scheduledAt !== null) handoff = null;
    let handoffLeft = handoff ? handoff.limit : 0;
    const handoffParams = handoff
      ? { now: now.getTime(), ...budgetParams(handoff) }
      : null;
    const deliveries: Delivery[] = [];
    const handedOff: DeliveryJob[] = [];
    for (const { id: endpointId } of endpoints) {
      // Handed off when the worker has room and so does the endpoint (see DeliveryHandoff); each
      // endpoint is read once per group commit, its room counted down by the accepts of the commit.
      let offered: { room: number; endpoint: Endpoint | null } | undefined;
      if (handoffLeft > 0 && handoffParams !== null) {
        offered = this.db.handoffInCommit.get(endpointId);
        if (!offered) {
          const room = this.db.get<{ room: number | null }>(SQL.selectHandoffRoom, { ...handoffParams, endpointId })?.room ?? 0;
          const endpointRow = room > 0 ? readEndpointRow(this.db, endpointId) : undefined;
          offered = { room, endpoint: endpointRow ? toEndpoint(endpointRow, values, this.db.secrets) : null };
          this.db.handoffInCommit.set(endpointId, offered);
        }
      }
      const offeredRoom = offered !== undefined && offered.room > 0;
      const row = insertDelivery(this.db, {
        msgId: message.id,
        appId: message.appId,
        endpointId,
        triggerType: 'scheduled',
        now: now.getTime(),
        lockedUntil: offeredRoom ? handoff!.lockedUntil.getTime() : null,
        deliverAt: scheduledAt,
      });
      const delivery = toDelivery(row);
      deliveries.push(delivery);
      // One held in a FIFO line (see insertDelivery) is stored without the lease: never handed off.
      if (offeredRoom && row.locked_until !== null) {
        handoffLeft--;
        offered!.room--;
        handedOff.push({ delivery, message: accepted, endpoint: offered!.endpoint });
      }
    }
    return { message: accepted, deliveries, handedOff };
  }
}
