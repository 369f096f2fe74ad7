// Cursor pages (Svix's ListResponse) over a keyset, the same on both databases. A list statement is
// written once with `{cmp}` / `{dir}` and prepared twice: scanning up (`> @cursor ORDER BY … ASC`) and
// scanning down (`< @cursor ORDER BY … DESC`). Forward and backward pages in either order map onto
// one of the two, so every list is a plain index range scan.
import type { ListQuery, Page } from '../store.js';

/** Sorts after every key we issue (ids are ASCII; PostgreSQL compares them COLLATE "C"). */
const KEY_MAX = '\u{10FFFF}';

export type Scan = 'up' | 'down';

/** How to read one page: which way to scan, from which key, and how many rows (one more than the page). */
export interface PagePlan {
  scan: Scan;
  cursor: string;
  /** limit + 1: the extra row tells whether more exist. */
  limit: number;
  /** The iterator was `-key`: rows come in reverse and are flipped back. */
  backwards: boolean;
}

/**
 * What a database's `page()` takes: a `{cmp}` / `{dir}` list statement, the query, the order when the
 * query gives none, the statement's other parameters, each row's key (the iterator) and its record.
 */
export type PageArgs<R, T> = [
  sql: string,
  query: ListQuery,
  defaultOrder: 'ascending' | 'descending',
  params: Record<string, unknown>,
  keyOf: (row: R) => string,
  toItem: (row: R) => T,
];

/** Plan the read of one page (see {@link Page}). */
export function planPage(query: ListQuery, defaultOrder: 'ascending' | 'descending'): PagePlan {
  const order = query.order ?? defaultOrder;
  const iterator = query.iterator || null;
  const backwards = iterator?.startsWith('-') ?? false;
  const key = iterator === null ? null : backwards ? iterator.slice(1) : iterator;
  const scanUp = (order === 'ascending') !== backwards;
  return { scan: scanUp ? 'up' : 'down', cursor: key ?? (scanUp ? '' : KEY_MAX), limit: query.limit + 1, backwards };
}

/** The page made of the rows a {@link planPage} read returned (at most `limit + 1`, in scan order). */
export function toPage<R, T>(rows: R[], query: ListQuery, plan: PagePlan, keyOf: (row: R) => string, toItem: (row: R) => T): Page<T> {
  const done = rows.length <= query.limit;
  const pageRows = rows.slice(0, query.limit);
  if (plan.backwards) pageRows.reverse();
  const first = pageRows[0];
  const last = pageRows[pageRows.length - 1];
  return {
    data: pageRows.map(toItem),
    iterator: last === undefined ? null : keyOf(last),
    prevIterator: first === undefined ? null : `-${keyOf(first)}`,
    done,
  };
}

/** A list statement's text for one scan direction. */
export function withScan(sql: string, scan: Scan): string {
  return sql.replaceAll('{cmp}', scan === 'up' ? '>' : '<').replaceAll('{dir}', scan === 'up' ? 'ASC' : 'DESC');
}
