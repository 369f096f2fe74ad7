// Endpoints (a URL with its filters, secret and limits): the statements of both databases, side by
// side. A statement that reads the same on both is written once, in `both`.
import { columns, ENDPOINT_COLUMNS } from '../shared/columns.js';
import { isFifoHeld, postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

const ENDPOINT = columns(ENDPOINT_COLUMNS);

const both = {
  setEndpointTransformation: `
    UPDATE endpoints
    SET transformation_code = @code, transformation_enabled = @enabled, transformation_updated_at = @now
    WHERE id = @id AND app_id = @appId AND deleted_at IS NULL
    RETURNING ${ENDPOINT}`,
  selectEndpointByIdOrUid: `
    SELECT ${ENDPOINT} FROM endpoints
    WHERE app_id = @appId AND deleted_at IS NULL AND (id = @key OR uid = @key)
    ORDER BY id = @key DESC LIMIT 1`,
  listEndpoints: `
    SELECT ${ENDPOINT} FROM endpoints
    WHERE app_id = @appId AND deleted_at IS NULL AND id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,
};

/** Resealing (see Store.resealEndpoints): the sealed columns of a batch, and rewriting them. */
const reseal = (f: SqlFragments, lockRows: string) => ({
  selectEndpointSecrets: `
    SELECT id, secret, old_secrets, headers FROM endpoints
    WHERE id > @afterId ORDER BY id LIMIT @limit${lockRows}`,
  updateEndpointSecrets: `
    UPDATE endpoints SET secret = @secret, old_secrets = @oldSecrets${f.cast('json')}, headers = @headers${f.cast('json')}
    WHERE id = @id`,
});

/** Message precheck: is there a live, enabled endpoint of the application that fan-out would pick? */
const selectActiveEndpointFor = (accepts: string): string => `
    SELECT EXISTS (
      SELECT 1 FROM endpoints e
      WHERE e.app_id = @appId AND e.deleted_at IS NULL AND ${accepts}) AS active`;

/**
 * Both databases: an endpoint that is not FIFO (any more) lets every delivery held in its line go,
 * due now, in line order as far as due order goes (docs/fifo.md: turning fifo off releases the
 * queue). A no-op for an endpoint that never was FIFO: it has no fifo_seq rows. On PostgreSQL it
 * runs as a statement of its own after updateEndpoint, whose row lock made any accept that was
 * holding deliveries commit first, so this statement's snapshot sees them.
 */
const releaseFifoLine = `
    UPDATE deliveries SET next_attempt_at = @now, updated_at = @now
    WHERE endpoint_id = @endpointId AND ${isFifoHeld('deliveries')}`;

export const postgres = {
  releaseFifoLine,
  insertEndpoint: `
    INSERT INTO endpoints (id, app_id, uid, url, description, disabled, event_types, channels, throttle_rate,
                           concurrency_limit, version, metadata, secret, old_secrets, headers, created_at, updated_at, fifo)
    VALUES (@id, @appId, @uid, @url, @description, @disabled, @eventTypes::text[], @channels::text[], @throttleRate,
            @concurrencyLimit, @version, @metadata::json, @secret, @oldSecrets::json, @headers::json, @createdAt, @updatedAt, @fifo)
    RETURNING ${ENDPOINT}`,
  selectEndpointByIdOrUid: both.selectEndpointByIdOrUid,
  setEndpointTransformation: both.setEndpointTransformation,
  /** Including deleted ones: a queued delivery must learn that its endpoint is gone. A batch of ids in one round trip. */
  selectEndpointsByIds: `SELECT ${ENDPOINT} FROM endpoints WHERE id = ANY (@ids::text[])`,
  updateEndpoint: `
    UPDATE endpoints
    SET uid = @uid, url = @url, description = @description, disabled = @disabled, event_types = @eventTypes::text[],
        channels = @channels::text[], throttle_rate = @throttleRate, concurrency_limit = @concurrencyLimit, version = @version,
        metadata = @metadata::json, secret = @secret, old_secrets = @oldSecrets::json, headers = @headers::json, updated_at = @updatedAt,
        fifo = @fifo,
        -- Re-enabling starts health tracking afresh (SET reads the row's values before the update).
        failing_since = CASE WHEN disabled AND NOT @disabled THEN NULL ELSE failing_since END
    WHERE id = @id AND app_id = @appId AND deleted_at IS NULL
    RETURNING ${ENDPOINT}`,
  // Soft delete: the endpoint disappears from reads and its uid is freed. Canceling its open
  // deliveries and deleting its listen session, if it is one's (the row stays, so ON DELETE CASCADE
  // does not), are part of the same statement (one transaction, one round trip).
  deleteEndpoint: `
    WITH deleted AS (
      UPDATE endpoints SET deleted_at = @now::bigint, uid = NULL, updated_at = @now
      WHERE id = @id AND app_id = @appId AND deleted_at IS NULL
      RETURNING id
    ), canceled AS (
      UPDATE deliveries SET status = 'canceled', next_attempt_at = NULL, locked_until = NULL, updated_at = @now
      WHERE endpoint_id IN (SELECT id FROM deleted) AND status IN ('pending', 'sending')
    ), ended AS (
      DELETE FROM listen_sessions WHERE endpoint_id IN (SELECT id FROM deleted)
    )
    SELECT count(*) AS deleted FROM deleted`,
  listEndpoints: both.listEndpoints,
  // The batch's rows are held until the rewrite commits, so a change made meanwhile waits and wins.
  ...reseal(pg, '\n    FOR UPDATE'),
  // The fan-out match is NULL for a message without channels meeting a channel endpoint.
  selectActiveEndpointFor: selectActiveEndpointFor(`NOT e.disabled AND COALESCE(${pg.endpointAccepts('@eventType::text', '@channels::text[]')}, false)`),
};

/** JSON and lists are text, booleans 0/1. */
export const sqlite = {
  releaseFifoLine,
  insertEndpoint: `
    INSERT INTO endpoints (id, app_id, uid, url, description, disabled, event_types, channels, throttle_rate,
                           concurrency_limit, version, metadata, secret, old_secrets, headers, created_at, updated_at, fifo)
    VALUES (@id, @appId, @uid, @url, @description, @disabled, @eventTypes, @channels, @throttleRate,
            @concurrencyLimit, @version, @metadata, @secret, @oldSecrets, @headers, @createdAt, @updatedAt, @fifo)
    RETURNING ${ENDPOINT}`,
  selectEndpointByIdOrUid: both.selectEndpointByIdOrUid,
  setEndpointTransformation: both.setEndpointTransformation,
  /** One row at a time: in process, a statement per row costs less than building a list of ids. */
  selectEndpointById: `SELECT ${ENDPOINT} FROM endpoints WHERE id = @id`,
  updateEndpoint: `
    UPDATE endpoints
    SET uid = @uid, url = @url, description = @description, disabled = @disabled, event_types = @eventTypes,
        channels = @channels, throttle_rate = @throttleRate, concurrency_limit = @concurrencyLimit, version = @version,
        metadata = @metadata, secret = @secret, old_secrets = @oldSecrets, headers = @headers, updated_at = @updatedAt, fifo = @fifo,
        failing_since = CASE WHEN disabled = 1 AND @disabled = 0 THEN NULL ELSE failing_since END
    WHERE id = @id AND app_id = @appId AND deleted_at IS NULL
    RETURNING ${ENDPOINT}`,
  deleteEndpoint: `
    UPDATE endpoints SET deleted_at = @now, uid = NULL, updated_at = @now
    WHERE id = @id AND app_id = @appId AND deleted_at IS NULL`,
  /** SQLite only: it has no data-modifying CTEs, so the second half of deleteEndpoint is a statement of its own. */
  cancelOpenDeliveriesOfEndpoint: `
    UPDATE deliveries SET status = 'canceled', next_attempt_at = NULL, locked_until = NULL, updated_at = @now
    WHERE endpoint_id = @endpointId AND status IN ('pending', 'sending')`,
  /** SQLite only, the third half of deleteEndpoint: the listen session whose endpoint it was ends with it. */
  deleteListenSessionOfEndpoint: `DELETE FROM listen_sessions WHERE endpoint_id = @endpointId`,
  listEndpoints: both.listEndpoints,
  /** The batch runs in one IMMEDIATE transaction, which keeps every other writer out. */
  ...reseal(lite, ''),
  selectActiveEndpointFor: selectActiveEndpointFor(`e.disabled = 0 AND (${lite.endpointAccepts('@eventType', '@channels')})`),
};
