// Ingest sources on SQLite.
import type { IngestSource } from '../../domain/ingest.js';
import { mapOrNull } from '../shared/rows.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { IngestSourceUpdate, IngestTokenRotation, ListQuery, Page } from '../store.js';
import { INGEST_SOURCE_CONFLICTS, ingestSourceParams, ingestSourceUpdateParams, toIngestSource, type IngestSourceRow } from './rows.js';
import { sqlite as SQL } from './sql.js';

export class SqliteIngestSources {
  constructor(private readonly db: SqliteDatabase) {}

  private toRecord(r: IngestSourceRow): IngestSource {
    return toIngestSource(r, this.db.secrets);
  }

  async createIngestSource(source: IngestSource, tokenHash: string): Promise<IngestSource> {
    return this.db.guard(
      () => this.db.write(() => this.toRecord(this.db.get<IngestSourceRow>(SQL.insertIngestSource, ingestSourceParams(source, tokenHash, this.db.secrets))!)),
      { conflicts: INGEST_SOURCE_CONFLICTS(source.uid), missingParent: 'Application not found' },
    );
  }

  async getIngestSource(idOrUid: string): Promise<IngestSource | null> {
    return this.db.guard(() => mapOrNull(this.db.get<IngestSourceRow>(SQL.selectIngestSource, { idOrUid }), (r) => this.toRecord(r)));
  }

  async findIngestSourceByToken(tokenHash: string, now: Date): Promise<IngestSource | null> {
    return this.db.guard(() => mapOrNull(this.db.get<IngestSourceRow>(SQL.selectIngestSourceByToken, { tokenHash, now: now.getTime() }), (r) => this.toRecord(r)));
  }

  async listIngestSources(query: ListQuery): Promise<Page<IngestSource>> {
    return this.db.guard(() => this.db.page<IngestSourceRow, IngestSource>(SQL.listIngestSources, query, 'ascending', {}, (r) => r.id, (r) => this.toRecord(r)));
  }

  async updateIngestSource(input: IngestSourceUpdate): Promise<IngestSource | null> {
    return this.db.guard(
      () => this.db.write(() => mapOrNull(this.db.get<IngestSourceRow>(SQL.updateIngestSource, ingestSourceUpdateParams(input, this.db.secrets)), (r) => this.toRecord(r))),
      { conflicts: INGEST_SOURCE_CONFLICTS(input.uid) },
    );
  }

  async rotateIngestSourceToken(input: IngestTokenRotation): Promise<IngestSource | null> {
    const params = {
      id: input.id,
      token: this.db.secrets.seal(input.token),
      tokenHash: input.tokenHash,
      previousExpiresAt: input.previousExpiresAt.getTime(),
      updatedAt: input.updatedAt.getTime(),
    };
    return this.db.guard(() => this.db.write(() => mapOrNull(this.db.get<IngestSourceRow>(SQL.rotateIngestSourceToken, params), (r) => this.toRecord(r))));
  }

  async deleteIngestSource(id: string): Promise<boolean> {
    return this.db.guard(() => this.db.write(() => this.db.run(SQL.deleteIngestSource, { id }).changes > 0));
  }

  async resealIngestSources(input: { afterId: string | null; limit: number }): Promise<{ resealed: number; lastId: string | null }> {
    return this.db.guard(() =>
      this.db.write(() => {
        const rows = this.db.all<{ id: string; config: string; token: string }>(SQL.selectIngestSourceSecrets, { afterId: input.afterId ?? '', limit: input.limit });
        let resealed = 0;
        const s = this.db.secrets;
        for (const row of rows) {
          if (s.isCurrent(row.config) && s.isCurrent(row.token)) continue;
          this.db.run(SQL.updateSealedIngestSource, { id: row.id, config: s.seal(s.open(row.config)), token: s.seal(s.open(row.token)) });
          resealed++;
        }
        return { resealed, lastId: rows.length < input.limit ? null : rows.at(-1)!.id };
      }),
    );
  }
}
