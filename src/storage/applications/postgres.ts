// Applications on PostgreSQL.
import { OPERATIONAL_APP_UID } from '../../domain/operational.js';
import type { Application } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import type { PostgresDatabase } from '../postgres/database.js';
import { conflictsOf } from '../shared/conflicts.js';
import { applicationParams, mapOrNull, toApplication, type ApplicationRow } from '../shared/rows.js';
import { postgresValues as values } from '../shared/values.js';
import type { ListQuery, Page } from '../store.js';
import { postgres as SQL } from './sql.js';

const toRecord = (r: ApplicationRow): Application => toApplication(r, values);

export class PostgresApplications {
  constructor(private readonly db: PostgresDatabase) {}

  async createApplication(app: Application): Promise<Application> {
    return this.db.guard(async () => toRecord((await this.db.one<ApplicationRow>(SQL.insertApplication, applicationParams(app)))!), {
      conflicts: conflictsOf.application(app),
    });
  }

  async getApplication(idOrUid: string): Promise<Application | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<ApplicationRow>(SQL.selectApplicationByIdOrUid, { key: idOrUid }), toRecord));
  }

  async updateApplication(app: Application): Promise<Application> {
    return this.db.guard(
      async () => {
        const row = await this.db.one<ApplicationRow>(SQL.updateApplication, applicationParams(app));
        if (!row) throw new TapwireError('not_found', { detail: 'Application not found' });
        return toRecord(row);
      },
      { conflicts: conflictsOf.application(app) },
    );
  }

  async deleteApplication(id: string): Promise<boolean> {
    // The cascade meets attempts being recorded as a delete of an endpoint does (see retryingConflicts).
    return this.db.guard(() => this.db.retryingConflicts(async () => ((await this.db.run(SQL.deleteApplication, { id })).rowCount ?? 0) > 0));
  }

  async listApplications(query: ListQuery): Promise<Page<Application>> {
    return this.db.guard(() => this.db.page<ApplicationRow, Application>(SQL.listApplications, query, 'ascending', { hiddenUid: OPERATIONAL_APP_UID }, (r) => r.id, toRecord));
  }
}
