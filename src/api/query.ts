// Typed reading of query strings, and the documentation of the parameters several routes share.
// Every bad value is a 422 naming `["query", <name>]`, so clients see exactly which parameter is wrong.
import { parseDuration } from '../domain/duration.js';
import type { MessageStatusName } from '../domain/types.js';
import { validationError } from '../errors/tapwire-error.js';
import type { ListQuery } from '../storage/store.js';

/** A query string as Fastify parses it: a repeated parameter is an array. */
export type RawQuery = Record<string, string | string[] | undefined>;

/** Largest page a client may ask for. */
export const MAX_LIMIT = 250;
export const DEFAULT_LIMIT = 50;

/** The single value of a parameter (the last one when repeated). */
function single(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export function readString(query: RawQuery, name: string, options: { maxLength?: number; pattern?: RegExp } = {}): string | null {
  const value = single(query, name);
  if (value === undefined || value === '') return null;
  if (value.length > (options.maxLength ?? 256)) throw validationError(['query', name], `${name} is too long`, 'value_error.any_str.max_length');
  if (options.pattern && !options.pattern.test(value)) throw validationError(['query', name], `${name} has an invalid format`, 'value_error.str.regex');
  return value;
}

export function readBoolean(query: RawQuery, name: string, fallback: boolean): boolean {
  const value = single(query, name);
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw validationError(['query', name], `${name} must be true or false`, 'type_error.bool');
}

export function readInteger(query: RawQuery, name: string, options: { min: number; max: number }): number | null {
  const value = single(query, name);
  if (value === undefined || value === '') return null;
  if (!/^-?\d{1,16}$/.test(value)) throw validationError(['query', name], `${name} must be an integer`, 'type_error.integer');
  const n = Number(value);
  if (n < options.min || n > options.max) {
    throw validationError(['query', name], `${name} must be between ${options.min} and ${options.max}`, 'value_error.number.not_in_range');
  }
  return n;
}

export function readDate(query: RawQuery, name: string): Date | null {
  const value = single(query, name);
  if (value === undefined || value === '') return null;
  const date = parseTimestamp(value);
  if (!date) throw validationError(['query', name], `${name} must be an RFC 3339 timestamp`, 'value_error.datetime');
  return date;
}

/** RFC 3339 / ISO 8601 date-time with an explicit zone. */
export function parseTimestamp(value: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/.test(value)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** A list given as `a,b`, repeated `name=a&name=b`, or `name[]=a`. */
export function readList(query: RawQuery, name: string, pattern: RegExp): string[] | null {
  const raw = [query[name], query[`${name}[]`]].flat().filter((v): v is string => typeof v === 'string');
  const items = raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (items.length === 0) return null;
  if (items.length > 100) throw validationError(['query', name], `${name} has too many items`);
  for (const item of items) {
    if (item.length > 256 || !pattern.test(item)) throw validationError(['query', name], `${name} has an invalid item '${item.slice(0, 64)}'`, 'value_error.str.regex');
  }
  return items;
}

/**
 * `limit`, `iterator` and `order`. `iteratorPattern` says what a valid cursor looks like (an id of
 * the listed kind, or an event-type name), optionally preceded by `-` for the previous page.
 */
export function readListQuery(query: RawQuery, iteratorPattern: RegExp, defaultOrder: 'ascending' | 'descending'): ListQuery {
  const limit = readInteger(query, 'limit', { min: 1, max: MAX_LIMIT }) ?? DEFAULT_LIMIT;
  const iterator = single(query, 'iterator');
  if (iterator !== undefined && iterator !== '') {
    const key = iterator.startsWith('-') ? iterator.slice(1) : iterator;
    if (key.length > 300 || !iteratorPattern.test(key)) throw validationError(['query', 'iterator'], 'iterator is not valid', 'value_error.iterator');
  }
  const order = single(query, 'order');
  if (order !== undefined && order !== '' && order !== 'ascending' && order !== 'descending') {
    throw validationError(['query', 'order'], "order must be 'ascending' or 'descending'", 'type_error.enum');
  }
  return {
    limit,
    iterator: iterator === undefined || iterator === '' ? null : iterator,
    order: order === 'ascending' || order === 'descending' ? order : defaultOrder,
  };
}

/** Cursor patterns per listed kind. */
export const ID_CURSOR = {
  app: /^app_[0-9A-Za-z]{27}$/,
  ep: /^ep_[0-9A-Za-z]{27}$/,
  msg: /^msg_[0-9A-Za-z]{27}$/,
  atmpt: /^atmpt_[0-9A-Za-z]{27}$/,
  qtask: /^qtask_[0-9A-Za-z]{27}$/,
  name: /^[a-zA-Z0-9\-_.]{1,256}$/,
} as const;

export const NAME_PATTERN = /^[a-zA-Z0-9\-_.]+$/;
/** A message tag (as MessageIn.tags takes it). */
export const TAG_PATTERN = /^[a-zA-Z0-9\-_./\\#]+$/;
/** Channel names (see CHANNEL_PATTERN in schemas.ts): a name's characters plus `:` and `+`. */
export const CHANNEL_NAME_PATTERN = /^[a-zA-Z0-9\-_.:+]+$/;

/** The documented parameters of every list (see readListQuery). */
export const LIST_QUERY = { limit: 'Page size, 1–250 (default 50)', iterator: 'Cursor from a previous page', order: 'ascending or descending' };
/** The documented parameters of message lists (see readMessageFilters). */
export const MESSAGE_FILTERS = {
  ...LIST_QUERY,
  before: 'Only items created before this RFC 3339 time',
  after: 'Only items created after this RFC 3339 time',
  channel: 'Only messages on this channel',
  event_types: 'Comma-separated event types',
  tag: 'Only messages carrying this tag (see MessageIn.tags)',
  with_content: 'Include payloads (default true)',
};
/** The documented parameters of attempt lists (see readAttemptFilters). */
export const ATTEMPT_FILTERS = {
  ...MESSAGE_FILTERS,
  status: '0 success, 1 pending, 2 fail, 3 sending, 4 canceled (dropped unsent: endpoint deleted or disabled, payload gone)',
  status_code_class: '0 (no response), 100, 200, 300, 400 or 500',
};

/** The list query plus `before`, `after`, `channel`, `event_types` and `tag`; `cursor` as for readListQuery. */
export function readMessageFilters(query: RawQuery, cursor: RegExp) {
  return {
    ...readListQuery(query, cursor, 'descending'),
    before: readDate(query, 'before'),
    after: readDate(query, 'after'),
    channel: readString(query, 'channel', { maxLength: 128, pattern: CHANNEL_NAME_PATTERN }),
    eventTypes: readList(query, 'event_types', NAME_PATTERN),
    tag: readString(query, 'tag', { maxLength: 128, pattern: TAG_PATTERN }),
  };
}

const STATUS_NAMES: Record<number, MessageStatusName> = { 0: 'success', 1: 'pending', 2: 'fail', 3: 'sending', 4: 'canceled' };

/** `status` as Svix numbers it (0 success, 1 pending, 2 fail, 3 sending, 4 canceled); absent means any. */
export function readStatus(query: RawQuery): MessageStatusName | null {
  const status = readInteger(query, 'status', { min: 0, max: 4 });
  if (status === null) return null;
  return STATUS_NAMES[status]!;
}

/** The message filters of attempts (ids `atmpt_…`) plus `status` and `status_code_class`. */
export function readAttemptFilters(query: RawQuery) {
  const codeClass = readInteger(query, 'status_code_class', { min: 0, max: 500 });
  if (codeClass !== null && ![0, 100, 200, 300, 400, 500].includes(codeClass)) {
    throw validationError(['query', 'status_code_class'], 'status_code_class must be 0, 100, 200, 300, 400 or 500', 'type_error.enum');
  }
  return {
    ...readMessageFilters(query, ID_CURSOR.atmpt),
    status: readStatus(query),
    statusCodeClass: codeClass,
  };
}

/** A query parameter that must be one of `allowed` (422 naming the choices otherwise). */
export function readEnum<T extends string>(query: RawQuery, name: string, allowed: readonly T[]): T | null {
  const value = readString(query, name);
  if (value === null) return null;
  if (!(allowed as readonly string[]).includes(value)) {
    throw validationError(['query', name], `${name} must be one of ${allowed.join(', ')}`, 'type_error.enum');
  }
  return value as T;
}

/** A duration query parameter (`30s`, `5m`, `1h`, `1d`) in milliseconds, or null when absent. */
export function readDurationMs(query: RawQuery, name: string): number | null {
  const value = readString(query, name, { maxLength: 32 });
  if (value === null) return null;
  try {
    return parseDuration(value);
  } catch {
    throw validationError(['query', name], `${name} must be a duration such as 30s, 5m, 1h or 1d`, 'value_error');
  }
}
