// Completion on SQLite: an attempt's record and its consequences, in the group commit. Recording an
// attempt need not wait for the disk: a power cut (not a crash: WAL survives those) can only lose the
// newest records, whose deliveries then are still leased and are attempted again when the lease
// ends; at least once, as always. The next synced commit (the next accepted message) makes them
// durable, since WAL keeps commits in order.
import { TapwireError } from '../../../errors/tapwire-error.js';
import type { SqliteMessages } from '../../messages/sqlite.js';
import { conflictsOf } from '../../shared/conflicts.js';
import { attemptParams } from '../../shared/rows.js';
import type { SqliteDatabase } from '../../sqlite/database.js';
import type { CompleteAttemptInput, CompleteAttemptResult } from '../../store.js';
import { sqlite as SQL } from './sql.js';

export class SqliteCompletion {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly messages: SqliteMessages,
  ) {}

  async completeAttempt(input: CompleteAttemptInput): Promise<CompleteAttemptResult> {
    const { attempt, outcome } = input;
    const health = input.health ?? 'none';
    return this.db.writeGrouped(
      () => {
        this.db.run(SQL.insertAttempt, attemptParams(attempt));
        const now = input.now.getTime();
        const updated = this.db.run(SQL.finishAttemptOnDelivery, {
          id: attempt.deliveryId,
          status: outcome.status,
          nextAttemptAt: outcome.status === 'sending' ? outcome.nextAttemptAt.getTime() : null,
          now,
        });
        if (updated.changes === 0) throw new TapwireError('not_found', { detail: 'Delivery not found' });
        if (outcome.status === 'success') {
          this.db.run(SQL.supersedeOlderDeliveries, { id: attempt.deliveryId, msgId: attempt.msgId, endpointId: attempt.endpointId, now });
        }
        let endpointDisabled = false;
        // A success only clears a failure streak; once one success of this endpoint ran in this
        // commit, the next ones would find nothing to clear (unless a failure ran in between).
        const healthy = this.db.healthyInCommit;
        const settled = health === 'success' && !input.disableEndpoint && healthy.has(attempt.endpointId);
        if ((health !== 'none' || input.disableEndpoint) && !settled) {
          const row = this.db.get<{ disabled: number }>(SQL.updateEndpointHealth, {
            endpointId: attempt.endpointId,
            health,
            disable: input.disableEndpoint ? 1 : 0,
            autoDisableFailingSince: input.autoDisableFailingSince?.getTime() ?? null,
            now,
          });
          endpointDisabled = row?.disabled === 1;
          if (health === 'success' && !input.disableEndpoint) healthy.add(attempt.endpointId);
          else healthy.delete(attempt.endpointId);
        }
        // The head of a FIFO line ended: the next one in line is due now.
        if (input.fifo && outcome.status !== 'sending') this.db.run(SQL.promoteFifoHead, { endpointId: attempt.endpointId, now });
        this.messages.queueMessages(input.messages);
        if (endpointDisabled) this.messages.queueMessages(input.messagesIfEndpointDisabled);
        return { endpointDisabled };
      },
      { conflicts: conflictsOf.attempt(attempt.id), missingParent: 'Delivery not found' },
      'unsynced',
    );
  }
}
