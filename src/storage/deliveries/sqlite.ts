// The delivery queue on SQLite: queueing (fan-out, resend, recover), when the next delivery is due,
// and the queue's size for /metrics.
import { newId } from '../../domain/ids.js';
import type { Delivery, TriggerTypeName } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import { conflictsOf } from '../shared/conflicts.js';
import { manualDeliveryParams, mapOrNull, toDelivery, toFifoHead, type DeliveryRow, type FifoHeadRow } from '../shared/rows.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { FifoLine, NextDueInput } from '../store.js';
import { budgetParams, THROTTLE_BURST_MS } from './claims/rules.js';
import { sqlite as SQL } from './sql.js';

/** Queue one pending delivery, due `now` or at `deliverAt` (inside the caller's write transaction). */
export function insertDelivery(
  db: SqliteDatabase,
  input: { appId: string; msgId: string; endpointId: string; triggerType: TriggerTypeName; now: number; lockedUntil?: number | null; deliverAt?: number | null },
): DeliveryRow {
  return db.get<DeliveryRow>(SQL.insertDelivery, { id: newId('msgep', input.now), ...input, lockedUntil: input.lockedUntil ?? null, deliverAt: input.deliverAt ?? null })!;
}

export class SqliteDeliveries {
  constructor(private readonly db: SqliteDatabase) {}

  async createManualDelivery(input: { deliveryId: string; appId: string; msgId: string; endpointId: string; now: Date }): Promise<Delivery> {
    return this.db.guard(
      () => {
        const row = this.db.get<DeliveryRow>(SQL.insertManualDelivery, manualDeliveryParams(input));
        if (!row) throw new TapwireError('not_found', { detail: 'Message or endpoint not found' });
        return toDelivery(row);
      },
      { conflicts: conflictsOf.delivery(input.deliveryId) },
    );
  }

  async recoverFailedDeliveries(input: { appId: string; endpointId: string; since: Date; until: Date; now: Date }): Promise<number> {
    return this.db.guard(() =>
      this.db.write(() => {
        const messages = this.db.all<{ msg_id: string }>(SQL.selectRecoverableMessages, {
          appId: input.appId,
          endpointId: input.endpointId,
          since: input.since.getTime(),
          until: input.until.getTime(),
        });
        for (const { msg_id: msgId } of messages) {
          insertDelivery(this.db, { msgId, appId: input.appId, endpointId: input.endpointId, triggerType: 'manual', now: input.now.getTime() });
        }
        return messages.length;
      }),
    );
  }

  async nextDueAt(input?: NextDueInput): Promise<Date | null> {
    return this.db.guard(() => {
      const due = this.db.get<{ due: number | null }>(SQL.selectNextDueAt, {
        now: input?.now.getTime() ?? null,
        ...budgetParams(input),
        burstMs: THROTTLE_BURST_MS,
      })!.due;
      return due === null ? null : new Date(due);
    });
  }

  async queueSnapshot(now: Date): Promise<{ pending: number; due: number; oldestDueAt: Date | null }> {
    return this.db.guard(() => {
      const row = this.db.get<{ pending: number; due: number; oldest: number | null }>(SQL.selectQueueSnapshot, { now: now.getTime() })!;
      return { pending: row.pending, due: row.due, oldestDueAt: row.oldest === null ? null : new Date(row.oldest) };
    });
  }

  async getFifoLine(endpointId: string): Promise<FifoLine> {
    return this.db.guard(() =>
      this.db.read(() => {
        const head = this.db.get<FifoHeadRow>(SQL.selectFifoHead, { endpointId });
        const held = this.db.get<{ held: number }>(SQL.countFifoHeld, { endpointId })!.held;
        return { head: head ? toFifoHead(head) : null, held };
      }),
    );
  }

  async countBlockedFifoEndpoints(): Promise<number> {
    return this.db.guard(() => this.db.get<{ blocked: number }>(SQL.countBlockedFifoEndpoints, {})!.blocked);
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    return this.db.guard(() => mapOrNull(this.db.get<DeliveryRow>(SQL.selectDelivery, { id }), toDelivery));
  }
}
