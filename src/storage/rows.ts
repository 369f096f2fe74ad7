// Row shapes and row ↔ record mappings that are the same on SQLite and PostgreSQL (both store
// times as integer milliseconds and use the same column names). Dialect-specific rows (JSON and
// boolean columns) stay in each backend.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attempt, Delivery, Endpoint, MessageStatusName, TriggerTypeName } from '../domain/types.js';

export interface MigrationFile {
  version: number;
  file: string;
  sql: string;
}

/** The numbered `NNNN_name.sql` files in `folder` (each backend has its own), in order. */
export function readMigrations(folder: URL): MigrationFile[] {
  const dir = fileURLToPath(folder);
  return readdirSync(dir)
    .map((file) => ({ file, match: /^(\d+)_.+\.sql$/.exec(file) }))
    .filter((entry): entry is { file: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ file, match }) => ({ version: Number(match[1]), file, sql: readFileSync(join(dir, file), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

export interface DeliveryRow {
  id: string;
  msg_id: string;
  app_id: string;
  endpoint_id: string;
  status: MessageStatusName;
  trigger_type: TriggerTypeName;
  attempt_count: number;
  next_attempt_at: number | null;
  locked_until: number | null;
  /** The due time while parked behind its endpoint's limit (next_attempt_at is NULL then); see migration 0002. */
  parked_due_at?: number | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  msg_id: string;
  app_id: string;
  endpoint_id: string;
  url: string;
  response_status_code: number;
  response: string;
  response_duration_ms: number;
  status: 'success' | 'fail';
  trigger_type: TriggerTypeName;
  attempted_at: number;
}

export interface TokenRow {
  id: string;
  app_id: string | null;
  expires_at: number | null;
}

export interface IdempotencyRow {
  status_code: number;
  body: string;
  content_type: string | null;
}

export function mapOrNull<R, T>(row: R | undefined, map: (row: R) => T): T | null {
  return row === undefined ? null : map(row);
}

export function toDateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

export function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    msgId: r.msg_id,
    appId: r.app_id,
    endpointId: r.endpoint_id,
    status: r.status,
    triggerType: r.trigger_type,
    attemptCount: r.attempt_count,
    // A parked delivery is still due: it shows its due time like any other waiting one.
    nextAttemptAt: toDateOrNull(r.next_attempt_at ?? (r.status === 'pending' || r.status === 'sending' ? r.parked_due_at ?? null : null)),
    lockedUntil: toDateOrNull(r.locked_until),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function toAttempt(r: AttemptRow): Attempt {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    msgId: r.msg_id,
    appId: r.app_id,
    endpointId: r.endpoint_id,
    url: r.url,
    responseStatusCode: r.response_status_code,
    response: r.response,
    responseDurationMs: r.response_duration_ms,
    status: r.status,
    triggerType: r.trigger_type,
    timestamp: new Date(r.attempted_at),
  };
}

export function attemptParams(a: Attempt): Record<string, unknown> {
  return {
    id: a.id,
    deliveryId: a.deliveryId,
    msgId: a.msgId,
    appId: a.appId,
    endpointId: a.endpointId,
    url: a.url,
    responseStatusCode: a.responseStatusCode,
    response: a.response,
    responseDurationMs: a.responseDurationMs,
    status: a.status,
    triggerType: a.triggerType,
    attemptedAt: a.timestamp.getTime(),
  };
}

/** What a uniqueness clash on an endpoint means, by the constraint's column. */
export function endpointConflicts(e: Endpoint): Record<string, string> {
  return {
    'endpoints.uid': `An endpoint with uid '${e.uid}' already exists in this application`,
    'endpoints.id': `An endpoint with id '${e.id}' already exists`,
  };
}

/**
 * `load`, asked at most once per id: later calls with the same id return the first answer. For a
 * claimed batch, whose deliveries mostly share a few endpoints.
 */
export function onceById<T>(load: (id: string) => T): (id: string) => T {
  const answers = new Map<string, T>();
  return (id) => {
    if (!answers.has(id)) answers.set(id, load(id));
    return answers.get(id) as T;
  };
}
