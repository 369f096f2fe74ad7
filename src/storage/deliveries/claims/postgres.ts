// Claims on PostgreSQL: each round is one statement (and transaction) on the delivery worker's own
// pool; the messages and endpoints of the leased batch are read after it, two queries in all.
import type { Endpoint } from '../../../domain/types.js';
import { readEndpointRows } from '../../endpoints/postgres.js';
import { readMessageRows } from '../../messages/postgres.js';
import type { PostgresDatabase } from '../../postgres/database.js';
import { onceById, toDelivery, toEndpoint, toMessage, type DeliveryRow } from '../../shared/rows.js';
import { postgresValues as values } from '../../shared/values.js';
import type { ClaimDeliveriesInput, DeliveryJob, RenewLeasesInput } from '../../store.js';
import { claimRoundParams, MAX_CLAIM_ROUNDS, retryBudgetOf } from './rules.js';
import { postgres as SQL } from './sql.js';

export class PostgresClaims {
  constructor(private readonly db: PostgresDatabase) {}

  async claimDueDeliveries(input: ClaimDeliveriesInput): Promise<DeliveryJob[]> {
    return this.db.guard(async () => {
      const rows: DeliveryRow[] = [];
      let maxRetries = retryBudgetOf(input);
      // Each round is its own statement (and transaction): see MAX_CLAIM_ROUNDS.
      for (let round = 0; round < MAX_CLAIM_ROUNDS && rows.length < input.limit; round++) {
        const result = await this.db.run<DeliveryRow & { parked_count: number }>(
          SQL.claimDueDeliveries,
          { ...claimRoundParams(input, round, input.limit - rows.length, maxRetries) },
          this.db.deliveryPool,
        );
        const leased = result.rows.filter((row) => row.id !== null);
        rows.push(...leased);
        maxRetries -= leased.filter((row) => row.attempt_count > 0).length;
        // Only parking uncovers more deliveries to look at; otherwise this round saw all there is.
        if (!(result.rows[0]?.parked_count > 0)) break;
      }
      if (rows.length === 0) return [];
      // RETURNING gives no order guarantee; hand the batch out oldest due first.
      rows.sort((a, b) => a.next_attempt_at! - b.next_attempt_at! || (a.id < b.id ? -1 : 1));
      // The lease is committed, so these reads need no transaction: two queries for the whole batch.
      const [messages, endpoints] = await Promise.all([
        readMessageRows(this.db, rows.map((r) => r.msg_id), this.db.deliveryPool),
        readEndpointRows(this.db, rows.map((r) => r.endpoint_id), this.db.deliveryPool),
      ]);
      // Each endpoint converted once; the jobs of a batch share it (nothing downstream changes it).
      const endpointOf = onceById((id): Endpoint | null => {
        const row = endpoints.get(id);
        return row && row.deleted_at === null ? toEndpoint(row, values, this.db.secrets) : null;
      });
      return rows.flatMap((row) => {
        const message = messages.get(row.msg_id);
        // Gone only when its application was deleted since the claim, deliveries included.
        if (!message) return [];
        return [{ delivery: toDelivery(row), message: toMessage(message, values), endpoint: endpointOf(row.endpoint_id) }];
      });
    });
  }

  async renewLeases(input: RenewLeasesInput): Promise<string[]> {
    if (input.leases.length === 0) return [];
    return this.db.guard(async () => {
      const leases = input.leases.map((l) => ({ id: l.id, locked_until: l.lockedUntil.getTime() }));
      const result = await this.db.run<{ id: string }>(
        SQL.renewLeases,
        { leases: JSON.stringify(leases), lockedUntil: input.lockedUntil?.getTime() ?? null },
        this.db.deliveryPool,
      );
      return result.rows.map((r) => r.id);
    });
  }
}
