// The columns each table is read with, for both databases. Statements list columns, never `*`: a
// later migration that adds a column then changes no statement's result, so processes still running
// the previous version keep working (PostgreSQL would otherwise fail their prepared statements with
// "cached plan must not change result type").

export const APPLICATION_COLUMNS = ['id', 'uid', 'name', 'throttle_rate', 'metadata', 'created_at', 'updated_at'];
export const ENDPOINT_COLUMNS = ['id', 'app_id', 'uid', 'url', 'description', 'disabled', 'event_types', 'channels', 'throttle_rate', 'version',
  'metadata', 'secret', 'old_secrets', 'headers', 'created_at', 'updated_at', 'deleted_at', 'failing_since', 'concurrency_limit', 'fifo',
  'transformation_code', 'transformation_enabled', 'transformation_updated_at'];
export const EVENT_TYPE_COLUMNS = ['name', 'description', 'archived', 'deprecated', 'schemas', 'feature_flags', 'group_name', 'created_at', 'updated_at'];
export const MESSAGE_COLUMNS = ['id', 'app_id', 'event_id', 'event_type', 'payload', 'channels', 'created_at', 'payload_expires_at',
  'tags', 'deliver_at', 'content_type', 'forward_headers'];
export const DELIVERY_COLUMNS = ['id', 'msg_id', 'app_id', 'endpoint_id', 'status', 'trigger_type', 'attempt_count', 'next_attempt_at', 'locked_until',
  'created_at', 'updated_at', 'parked_due_at', 'fifo_seq'];
export const ATTEMPT_COLUMNS = ['id', 'delivery_id', 'msg_id', 'app_id', 'endpoint_id', 'url', 'response_status_code', 'response',
  'response_duration_ms', 'status', 'trigger_type', 'attempted_at'];
export const TOKEN_COLUMNS = ['id', 'app_id', 'created_at', 'expires_at', 'revoked_at', 'read_only', 'capabilities', 'feature_flags', 'session_id'];
export const BACKGROUND_TASK_COLUMNS = ['id', 'app_id', 'task', 'status', 'data', 'cursor', 'lease_owner', 'locked_until', 'created_at', 'updated_at'];

/** `a.x, a.y, …` for a column list, optionally qualified by a table alias. */
export function columns(list: string[], alias?: string): string {
  return list.map((column) => (alias ? `${alias}.${column}` : column)).join(', ');
}
