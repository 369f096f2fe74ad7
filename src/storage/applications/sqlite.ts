// Applications on SQLite.
import { OPERATIONAL_APP_UID } from '../../domain/operational.js';
import type { Application } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import { conflictsOf } from '../shared/conflicts.js';
import { applicationParams, mapOrNull, toApplication, type ApplicationRow } from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { ListQuery, Page } from '../store.js';
import { sqlite as SQL } from './sql.js';

const toRecord = (r: ApplicationRow): Application => toApplication(r, values);

export class SqliteApplications {
  constructor(private readonly db: SqliteDatabase) {}

  async createApplication(app: Application): Promise<Application> {
    return this.db.guard(() => toRecord(this.db.get<ApplicationRow>(SQL.insertApplication, applicationParams(app))!), { conflicts: conflictsOf.application(app) });
  }

  async getApplication(idOrUid: string): Promise<Application | null> {
    return this.db.guard(() => mapOrNull(this.db.get<ApplicationRow>(SQL.selectApplicationByIdOrUid, { key: idOrUid }), toRecord));
  }

  async updateApplication(app: Application): Promise<Application> {
    return this.db.guard(
      () => {
        const row = this.db.get<ApplicationRow>(SQL.updateApplication, applicationParams(app));
        if (!row) throw new TapwireError('not_found', { detail: 'Application not found' });
        return toRecord(row);
      },
      { conflicts: conflictsOf.application(app) },
    );
  }

  async deleteApplication(id: string): Promise<boolean> {
    return this.db.guard(() => this.db.write(() => this.db.run(SQL.deleteApplication, { id }).changes > 0));
  }

  async listApplications(query: ListQuery): Promise<Page<Application>> {
    return this.db.guard(() => this.db.page<ApplicationRow, Application>(SQL.listApplications, query, 'ascending', { hiddenUid: OPERATIONAL_APP_UID }, (r) => r.id, toRecord));
  }
}
