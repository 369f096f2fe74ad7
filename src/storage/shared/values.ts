// The few values SQLite and PostgreSQL hold differently: JSON documents, booleans and lists of text.
// Everything else (text, integers, times as epoch milliseconds) reads and writes the same on both,
// so row conversion (rows.ts) is written once and asks the database's ColumnValues for these.

/**
 * How one database reads and writes the values it stores its own way. SQLite keeps JSON and lists
 * as JSON text and booleans as 0/1; pg hands back parsed `json`, `text[]` as arrays and booleans.
 */
export interface ColumnValues {
  /** A `json` column (never NULL) as a value. */
  readJson<T>(value: unknown): T;
  /** A nullable `json` column. */
  readJsonOrNull<T>(value: unknown): T | null;
  readBoolean(value: unknown): boolean;
  /** A nullable list of text (event types, channels). */
  readTextList(value: unknown): string[] | null;
  writeBoolean(value: boolean): unknown;
  writeTextList(value: readonly string[] | null): unknown;
}

/** SQLite: JSON and lists as JSON text, booleans as 0 and 1. */
export const sqliteValues: ColumnValues = {
  readJson: <T>(value: unknown) => JSON.parse(value as string) as T,
  readJsonOrNull: <T>(value: unknown) => (value === null ? null : (JSON.parse(value as string) as T)),
  readBoolean: (value) => value === 1,
  readTextList: (value) => (value === null ? null : (JSON.parse(value as string) as string[])),
  writeBoolean: (value) => (value ? 1 : 0),
  writeTextList: (value) => (value === null ? null : JSON.stringify(value)),
};

/** PostgreSQL: pg parses `json` and `text[]` itself; booleans are booleans. */
export const postgresValues: ColumnValues = {
  readJson: <T>(value: unknown) => value as T,
  readJsonOrNull: <T>(value: unknown) => (value ?? null) as T | null,
  readBoolean: (value) => value === true,
  readTextList: (value) => (value ?? null) as string[] | null,
  writeBoolean: (value) => value,
  writeTextList: (value) => value,
};

/**
 * JSON text for a `json` parameter, the same on both (pg would turn a JS array into a PostgreSQL
 * array literal, so it gets text and the SQL casts it).
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value);
}
