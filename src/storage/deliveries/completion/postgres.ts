// Completion on PostgreSQL: the usual attempt (nothing to queue, no disable) joins the others finished
// in the same turn of the event loop, one statement and one commit for all of them (completeAttempts);
// the others run completeAttempt alone, in a transaction when they queue operational events.
import type { PoolClient } from 'pg';

import { TapwireError } from '../../../errors/tapwire-error.js';
import { lockFifoEndpoints } from '../postgres.js';
import type { PostgresMessages } from '../../messages/postgres.js';
import type { PostgresDatabase } from '../../postgres/database.js';
import { TurnBatch } from '../../postgres/turn-batch.js';
import { conflictsOf } from '../../shared/conflicts.js';
import { attemptParams } from '../../shared/rows.js';
import { jsonText } from '../../shared/values.js';
import type { CompleteAttemptInput, CompleteAttemptResult } from '../../store.js';
import { postgres as SQL } from './sql.js';

/** The attempt ends the head of a FIFO line (a final outcome): the next in line must be promoted. */
function endsFifoHead(input: CompleteAttemptInput): boolean {
  return input.fifo === true && input.outcome.status !== 'sending';
}

interface PendingAttempt {
  input: CompleteAttemptInput;
  resolve: (result: CompleteAttemptResult) => void;
  reject: (error: unknown) => void;
}

export class PostgresCompletion {
  private readonly attempts = new TurnBatch<PendingAttempt>((batch) => this.completeTogether(batch));

  constructor(
    private readonly db: PostgresDatabase,
    private readonly messages: PostgresMessages,
  ) {}

  async completeAttempt(input: CompleteAttemptInput): Promise<CompleteAttemptResult> {
    if (!input.messages?.length && !input.messagesIfEndpointDisabled?.length && !input.disableEndpoint && !input.autoDisableFailingSince && !endsFifoHead(input)) {
      return new Promise((resolve, reject) => this.attempts.add({ input, resolve, reject }));
    }
    return this.completeOne(input);
  }

  /** Record the attempts gathered by completeAttempt, in one statement where the rows allow it. */
  private async completeTogether(batch: PendingAttempt[]): Promise<void> {
    const settleAlone = (item: PendingAttempt): Promise<void> => this.completeOne(item.input).then(item.resolve, item.reject);
    // A success and a failure of one endpoint in the same batch: their order decides its streak,
    // which one statement cannot keep; those go one by one, in order.
    const healthOf = new Map<string, string>();
    const mixed = new Set<string>();
    for (const { input } of batch) {
      const health = input.health ?? 'none';
      if (health === 'none') continue;
      const seen = healthOf.get(input.attempt.endpointId);
      if (seen !== undefined && seen !== health) mixed.add(input.attempt.endpointId);
      healthOf.set(input.attempt.endpointId, health);
    }
    const together = batch.filter((item) => !mixed.has(item.input.attempt.endpointId));
    const alone = batch.filter((item) => mixed.has(item.input.attempt.endpointId));
    if (together.length === 1) alone.unshift(together.pop()!);
    if (alone.length > 0) {
      void (async () => {
        for (const item of alone) await settleAlone(item);
      })();
    }
    if (together.length === 0) return;
    const rows = together.map(({ input }) => ({
      id: input.attempt.id,
      delivery_id: input.attempt.deliveryId,
      msg_id: input.attempt.msgId,
      app_id: input.attempt.appId,
      endpoint_id: input.attempt.endpointId,
      url: input.attempt.url,
      response_status_code: input.attempt.responseStatusCode,
      response: input.attempt.response,
      response_duration_ms: input.attempt.responseDurationMs,
      attempt_status: input.attempt.status,
      trigger_type: input.attempt.triggerType,
      attempted_at: input.attempt.timestamp.getTime(),
      status: input.outcome.status,
      next_attempt_at: input.outcome.status === 'sending' ? input.outcome.nextAttemptAt.getTime() : null,
      health: input.health ?? 'none',
      now: input.now.getTime(),
    }));
    let finished: Set<string>;
    try {
      const { rows: done } = await this.db.run<{ id: string }>(SQL.completeAttempts, { rows: jsonText(rows) }, this.db.deliveryPool);
      finished = new Set(done.map((row) => row.id));
    } catch {
      // Something in the batch is off (a delivery gone, an id taken, text PostgreSQL refuses):
      // nothing of it was stored; each goes again alone and gets its own answer.
      for (const item of together) void settleAlone(item);
      return;
    }
    for (const item of together) {
      if (finished.has(item.input.attempt.deliveryId)) item.resolve({ endpointDisabled: false });
      // Unreachable while attempts reference their delivery (the insert fails first), kept as in completeOne.
      else item.reject(new TapwireError('not_found', { detail: 'Delivery not found' }));
    }
  }

  private async completeOne(input: CompleteAttemptInput): Promise<CompleteAttemptResult> {
    const { attempt, outcome } = input;
    const params = {
      ...attemptParams(attempt),
      attemptStatus: attempt.status,
      status: outcome.status,
      nextAttemptAt: outcome.status === 'sending' ? outcome.nextAttemptAt.getTime() : null,
      disableEndpoint: input.disableEndpoint,
      health: input.health ?? 'none',
      autoDisableFailingSince: input.autoDisableFailingSince?.getTime() ?? null,
      now: input.now.getTime(),
    };
    const complete = async (client?: PoolClient): Promise<CompleteAttemptResult> => {
      const result = await this.db.one<{ recorded: number; finished: number; endpoint_disabled: boolean }>(SQL.completeAttempt, params, client ?? this.db.deliveryPool);
      if (result!.finished === 0) throw new TapwireError('not_found', { detail: 'Delivery not found' });
      return { endpointDisabled: result!.endpoint_disabled };
    };
    return this.db.guard(
      async () => {
        // The usual attempt queues nothing: one statement, one round trip. Operational events
        // (rare: a streak of failures, exhaustion, a disable) need a transaction around it, and so
        // does the end of a FIFO line's head: under the endpoint's lock, taken first, the next
        // statements see every delivery held behind it (see lockFifoEndpoints).
        const fifoEnded = endsFifoHead(input);
        if (!input.messages?.length && !input.messagesIfEndpointDisabled?.length && !fifoEnded) return complete();
        return this.db.transaction(async (client) => {
          if (fifoEnded) await lockFifoEndpoints(this.db, client, [attempt.endpointId]);
          const result = await complete(client);
          if (fifoEnded) await this.db.run(SQL.promoteFifoHead, { endpointId: attempt.endpointId, now: params.now }, client);
          await this.messages.queueMessages(client, input.messages);
          if (result.endpointDisabled) await this.messages.queueMessages(client, input.messagesIfEndpointDisabled);
          return result;
        });
      },
      { conflicts: conflictsOf.attempt(attempt.id), missingParent: 'Delivery not found' },
    );
  }
}
