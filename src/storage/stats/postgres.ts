// Statistics on PostgreSQL.
import type { Endpoint, MessageStatusName } from '../../domain/types.js';
import type { PostgresDatabase } from '../postgres/database.js';
import { attemptCountsParams, toEndpoint, toEndpointLatency, toEndpointStats, type EndpointLatencyRow, type EndpointRow } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { AttemptBucket, AttemptCountsInput, EndpointLatency, EndpointStats } from '../store.js';
import { attemptsOverTimeFor, postgres as SQL } from './sql.js';


export class PostgresStats {
  constructor(private readonly db: PostgresDatabase) {}

  async getEndpointStats(appId: string, endpointId: string, since: Date, until: Date): Promise<EndpointStats> {
    return this.db.guard(async () => {
      const params = { appId, endpointId, since: since.getTime(), until: until.getTime() };
      return toEndpointStats((await this.db.run<{ status: MessageStatusName; n: number }>(SQL.countEndpointDeliveriesByStatus, params)).rows);
    });
  }

  async countAttemptsOverTime(input: AttemptCountsInput): Promise<AttemptBucket[]> {
    return this.db.guard(async () => {
      const { rows } = await this.db.run<{ bucket: number; success: number; fail: number }>(SQL[attemptsOverTimeFor(input)], attemptCountsParams(input));
      return rows.map((r) => ({ index: Number(r.bucket), success: r.success, fail: r.fail }));
    });
  }

  async listUnhealthyEndpoints(limit: number): Promise<{ failing: Endpoint[]; disabled: Endpoint[] }> {
    return this.db.guard(async () => {
      const [failing, disabled] = await Promise.all([
        this.db.run<EndpointRow>(SQL.selectFailingEndpoints, { limit }),
        this.db.run<EndpointRow>(SQL.selectDisabledEndpoints, { limit }),
      ]);
      return { failing: failing.rows.map((r) => toEndpoint(r, values, this.db.secrets)), disabled: disabled.rows.map((r) => toEndpoint(r, values, this.db.secrets)) };
    });
  }

  async listSlowestEndpoints(input: { since: Date; until: Date; limit: number }): Promise<EndpointLatency[]> {
    return this.db.guard(async () => {
      const params = { since: input.since.getTime(), until: input.until.getTime(), limit: input.limit };
      return (await this.db.run<EndpointLatencyRow>(SQL.selectSlowestEndpoints, params)).rows.map(toEndpointLatency);
    });
  }
}
