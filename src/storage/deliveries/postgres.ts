// The delivery queue on PostgreSQL: queueing (fan-out, resend, recover), when the next delivery is
// due, and the queue's size for /metrics.
import type { PoolClient } from 'pg';

import { newId } from '../../domain/ids.js';
import type { Delivery, TriggerTypeName } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import type { PostgresDatabase } from '../postgres/database.js';
import { conflictsOf } from '../shared/conflicts.js';
import { manualDeliveryParams, mapOrNull, toDelivery, toFifoHead, type DeliveryRow, type FifoHeadRow } from '../shared/rows.js';
import type { FifoLine, NextDueInput } from '../store.js';
import { budgetParams, THROTTLE_BURST_MS } from './claims/rules.js';
import { postgres as SQL } from './sql.js';

/**
 * Lock the FIFO endpoints among `endpointIds` until the caller's transaction ends (see
 * lockFifoEndpoints in sql.ts); returns their ids. The statements after it see every head.
 */
export async function lockFifoEndpoints(db: PostgresDatabase, client: PoolClient, endpointIds: string[]): Promise<string[]> {
  if (endpointIds.length === 0) return [];
  const { rows } = await db.run<{ id: string }>(SQL.lockFifoEndpoints, { ids: [...new Set(endpointIds)] }, client);
  return rows.map((row) => row.id);
}

/**
 * Insert one pending delivery per target in one statement, notifying listeners on commit. A
 * target that is a FIFO endpoint takes the next place in its line, held behind its head if it has
 * one; the caller's transaction holds those endpoints' locks from here on (lockFifoEndpoints).
 */
export async function insertDeliveries(
  db: PostgresDatabase,
  client: PoolClient,
  input: { appId: string; triggerType: TriggerTypeName; now: Date; targets: { msgId: string; endpointId: string }[]; deliverAt?: Date | null },
): Promise<Delivery[]> {
  if (input.targets.length === 0) return [];
  await lockFifoEndpoints(db, client, input.targets.map((t) => t.endpointId));
  const { rows } = await db.run<DeliveryRow>(
    SQL.insertDeliveries,
    {
      appId: input.appId,
      triggerType: input.triggerType,
      now: input.now.getTime(),
      deliverAt: input.deliverAt ? input.deliverAt.getTime() : null,
      ids: input.targets.map(() => newId('msgep', input.now.getTime())),
      msgIds: input.targets.map((t) => t.msgId),
      endpointIds: input.targets.map((t) => t.endpointId),
    },
    client,
  );
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1)).map(toDelivery);
}

export class PostgresDeliveries {
  constructor(private readonly db: PostgresDatabase) {}

  async createManualDelivery(input: { deliveryId: string; appId: string; msgId: string; endpointId: string; now: Date }): Promise<Delivery> {
    return this.db.guard(
      () =>
        // A transaction for the FIFO lock: to a FIFO endpoint the delivery goes to the back of its line.
        this.db.transaction(async (client) => {
          await lockFifoEndpoints(this.db, client, [input.endpointId]);
          const row = await this.db.one<DeliveryRow>(SQL.insertManualDelivery, manualDeliveryParams(input), client);
          if (!row) throw new TapwireError('not_found', { detail: 'Message or endpoint not found' });
          return toDelivery(row);
        }),
      { conflicts: conflictsOf.delivery(input.deliveryId) },
    );
  }

  async recoverFailedDeliveries(input: { appId: string; endpointId: string; since: Date; until: Date; now: Date }): Promise<number> {
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const { rowCount } = await this.db.run(SQL.lockEndpointForRecover, { appId: input.appId, endpointId: input.endpointId }, client);
        if (!rowCount) return 0;
        const { rows } = await this.db.run<{ msg_id: string }>(
          SQL.selectRecoverableMessages,
          { appId: input.appId, endpointId: input.endpointId, since: input.since.getTime(), until: input.until.getTime() },
          client,
        );
        const deliveries = await insertDeliveries(this.db, client, {
          appId: input.appId,
          triggerType: 'manual',
          now: input.now,
          targets: rows.map(({ msg_id: msgId }) => ({ msgId, endpointId: input.endpointId })),
        });
        return deliveries.length;
      }),
    );
  }

  async nextDueAt(input?: NextDueInput): Promise<Date | null> {
    return this.db.guard(async () => {
      const due = (await this.db.one<{ due: number | null }>(SQL.selectNextDueAt, {
        now: input?.now.getTime() ?? null,
        ...budgetParams(input),
        burstMs: THROTTLE_BURST_MS,
      }))!.due;
      return due === null ? null : new Date(due);
    });
  }

  async queueSnapshot(now: Date): Promise<{ pending: number; due: number; oldestDueAt: Date | null }> {
    return this.db.guard(async () => {
      const row = (await this.db.one<{ pending: number; due: number; oldest: string | number | null }>(SQL.selectQueueSnapshot, { now: now.getTime() }))!;
      return { pending: row.pending, due: row.due, oldestDueAt: row.oldest === null ? null : new Date(Number(row.oldest)) };
    });
  }

  async getFifoLine(endpointId: string): Promise<FifoLine> {
    return this.db.guard(async () => {
      const [head, held] = await Promise.all([
        this.db.one<FifoHeadRow>(SQL.selectFifoHead, { endpointId }),
        this.db.one<{ held: string | number }>(SQL.countFifoHeld, { endpointId }),
      ]);
      return { head: head ? toFifoHead(head) : null, held: Number(held!.held) };
    });
  }

  async countBlockedFifoEndpoints(): Promise<number> {
    return this.db.guard(async () => Number((await this.db.one<{ blocked: string | number }>(SQL.countBlockedFifoEndpoints, {}))!.blocked));
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<DeliveryRow>(SQL.selectDelivery, { id }), toDelivery));
  }
}
