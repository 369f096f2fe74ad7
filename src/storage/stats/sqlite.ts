// Statistics on SQLite.
import type { Endpoint, MessageStatusName } from '../../domain/types.js';
import { attemptCountsParams, toEndpoint, toEndpointLatency, toEndpointStats, type EndpointLatencyRow, type EndpointRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { AttemptBucket, AttemptCountsInput, EndpointLatency, EndpointStats } from '../store.js';
import { attemptsOverTimeFor, sqlite as SQL } from './sql.js';


export class SqliteStats {
  constructor(private readonly db: SqliteDatabase) {}

  async getEndpointStats(appId: string, endpointId: string, since: Date, until: Date): Promise<EndpointStats> {
    return this.db.guard(() =>
      toEndpointStats(
        this.db.all<{ status: MessageStatusName; n: number }>(SQL.countEndpointDeliveriesByStatus, { appId, endpointId, since: since.getTime(), until: until.getTime() }),
      ),
    );
  }

  async countAttemptsOverTime(input: AttemptCountsInput): Promise<AttemptBucket[]> {
    return this.db.guard(() =>
      this.db
        .all<{ bucket: number; success: number; fail: number }>(SQL[attemptsOverTimeFor(input)], attemptCountsParams(input))
        .map((r) => ({ index: r.bucket, success: r.success, fail: r.fail })),
    );
  }

  async listUnhealthyEndpoints(limit: number): Promise<{ failing: Endpoint[]; disabled: Endpoint[] }> {
    return this.db.guard(() =>
      this.db.read(() => ({
        failing: this.db.all<EndpointRow>(SQL.selectFailingEndpoints, { limit }).map((r) => toEndpoint(r, values, this.db.secrets)),
        disabled: this.db.all<EndpointRow>(SQL.selectDisabledEndpoints, { limit }).map((r) => toEndpoint(r, values, this.db.secrets)),
      })),
    );
  }

  async listSlowestEndpoints(input: { since: Date; until: Date; limit: number }): Promise<EndpointLatency[]> {
    return this.db.guard(() =>
      this.db
        .all<EndpointLatencyRow>(SQL.selectSlowestEndpoints, { since: input.since.getTime(), until: input.until.getTime(), limit: input.limit })
        .map(toEndpointLatency),
    );
  }
}
