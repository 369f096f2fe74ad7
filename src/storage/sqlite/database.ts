// What every SQLite statement of every subject runs through: the connection, its prepared statements,
// transactions (read, write, unsynced write, group commit), cursor pages, and the translation of
// driver errors. better-sqlite3 is synchronous, so each method runs its whole transaction before it
// returns and two calls in one process never interleave; BEGIN IMMEDIATE orders writers across processes.
import type Database from 'better-sqlite3';

import type { Endpoint } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import type { ErrorContext } from '../shared/conflicts.js';
import { PLAINTEXT, type SecretSealer } from '../shared/secret-box.js';
import { planPage, toPage, withScan, type PageArgs, type Scan } from '../shared/paging.js';
import type { Page } from '../store.js';
import { translateError } from './errors.js';
import { GroupCommit } from './group-commit.js';

type Statement = Database.Statement<unknown[], unknown>;

export class SqliteDatabase {
  private readonly groupCommit: GroupCommit;
  /** Each statement is prepared on first use and reused, by its text; list statements once per scan direction. */
  private readonly prepared = new Map<string, Statement>();
  private readonly preparedScans = new Map<string, { up?: Statement; down?: Statement }>();

  constructor(
    readonly connection: Database.Database,
    /** Seals endpoint secrets and header values at rest (PLAINTEXT without TAPWIRE_ENCRYPTION_KEY). */
    readonly secrets: SecretSealer = PLAINTEXT,
  ) {
    this.groupCommit = new GroupCommit(connection);
  }

  get open(): boolean {
    return this.connection.open;
  }

  /** See GroupCommit.healthyInCommit. */
  get healthyInCommit(): Set<string> {
    return this.groupCommit.healthyInCommit;
  }

  /** See GroupCommit.handoffInCommit. */
  get handoffInCommit(): Map<string, { room: number; endpoint: Endpoint | null }> {
    return this.groupCommit.handoffInCommit;
  }

  /** Run `work`, turning every driver error into a TapwireError (nothing from the driver leaks). */
  guard<T>(work: () => T, context: ErrorContext = {}): T {
    if (!this.connection.open) throw new TapwireError('store_unavailable', { detail: 'The store is closed' });
    try {
      return work();
    } catch (error) {
      throw translateError(error, context);
    }
  }

  /** A read transaction (one snapshot for several statements). */
  read<T>(work: () => T): T {
    return this.connection.transaction(work).deferred();
  }

  write<T>(work: () => T): T {
    return this.connection.transaction(work).immediate();
  }

  /**
   * A write transaction whose commit does not wait for fsync (synchronous = NORMAL for it alone), for
   * writes that are safe to lose in a power cut: a claim's leases, parking and throttle times. Losing
   * them only makes deliveries claimable again (at least once, as after a crash) or lets a throttle
   * start one burst early. WAL keeps commits in order, so the next synced commit (every attempt's
   * record is one) makes them durable too. This keeps a claim from costing an fsync of its own.
   */
  writeUnsynced<T>(work: () => T): T {
    this.connection.pragma('synchronous = NORMAL');
    try {
      return this.write(work);
    } finally {
      this.connection.pragma('synchronous = FULL');
    }
  }

  /** Run `work` in the next group commit (see group-commit.ts); driver errors are translated with `context`. */
  writeGrouped<T>(work: () => T, context: ErrorContext = {}, durability: 'synced' | 'unsynced' = 'synced'): Promise<T> {
    return this.groupCommit.add(work, context, durability);
  }

  run(sql: string, params: object): Database.RunResult {
    return this.statement(sql).run(params);
  }

  get<R>(sql: string, params: object): R | undefined {
    return this.statement(sql).get(params) as R | undefined;
  }

  all<R>(sql: string, params: object): R[] {
    return this.statement(sql).all(params) as R[];
  }

  /** One cursor page of a `{cmp}` / `{dir}` list statement (see shared/paging.ts). */
  page<R, T>(...[sql, query, defaultOrder, params, keyOf, toItem]: PageArgs<R, T>): Page<T> {
    const plan = planPage(query, defaultOrder);
    const rows = this.scanStatement(sql, plan.scan).all({ ...params, cursor: plan.cursor, limit: plan.limit }) as R[];
    return toPage(rows, query, plan, keyOf, toItem);
  }

  /** Commit what the group commit holds, then close the file. */
  close(): void {
    this.groupCommit.flushNow();
    if (this.connection.open) this.connection.close();
  }

  private statement(sql: string): Statement {
    let statement = this.prepared.get(sql);
    if (!statement) {
      statement = this.connection.prepare(sql);
      this.prepared.set(sql, statement);
    }
    return statement;
  }

  private scanStatement(sql: string, scan: Scan): Statement {
    let byScan = this.preparedScans.get(sql);
    if (!byScan) {
      byScan = {};
      this.preparedScans.set(sql, byScan);
    }
    return (byScan[scan] ??= this.connection.prepare(withScan(sql, scan)));
  }
}
