// Messages and their fan-out (one delivery per matching endpoint, in the same transaction), and the
// lists that show a message's state per endpoint: the statements of both databases, side by side.
// A list written once takes the database's fragments (shared/sql-fragments.ts).
import { columns, DELIVERY_COLUMNS, ENDPOINT_COLUMNS, MESSAGE_COLUMNS } from '../shared/columns.js';
import { joinsParkedQueue, liveLeaseCount, parkedQueuesOf, postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

const MESSAGE = columns(MESSAGE_COLUMNS);
const DELIVERY = columns(DELIVERY_COLUMNS);

/**
 * PostgreSQL: the CTEs of a handoff (see DeliveryHandoff), after `targets` (msg_id, endpoint_id) and
 * `queues` (parkedQueuesOf): `handed` lists the targets that start leased. An endpoint qualifies
 * without parked deliveries or a throttle of its own or its application's; its room is its lease budget less its leases in any
 * process, read in this statement's snapshot and trusted, as in a claim, only while its row is
 * locked here (SKIP LOCKED: never waiting for a claimer) and its claim_seq is still the one in the
 * snapshot; taking some bumps claim_seq, so a claim that read the count before cannot overfill it.
 * Targets of a scheduled message (deliver_at set) are never handed off: they wait for their time.
 * @lockedUntil NULL: no handoff, and nothing of this runs.
 */
const HANDOFF_CTES = `
    offered AS MATERIALIZED (
      SELECT e.id, e.claim_seq,
             ${pg.leaseBudget} - ${liveLeaseCount('e.id')} AS room
      FROM endpoints e JOIN queues q ON q.endpoint_id = e.id
      WHERE @lockedUntil::bigint IS NOT NULL AND NOT q.parked AND e.throttle_rate IS NULL
        AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = e.app_id AND a.throttle_rate IS NOT NULL)),
    taken AS MATERIALIZED (
      SELECT id, claim_seq FROM endpoints WHERE id IN (SELECT id FROM offered WHERE room > 0)
      FOR NO KEY UPDATE SKIP LOCKED),
    handed AS MATERIALIZED (
      SELECT msg_id, endpoint_id FROM (
        SELECT t.msg_id, t.endpoint_id, o.room, row_number() OVER (PARTITION BY t.endpoint_id ORDER BY t.msg_id) AS rank
        FROM targets t JOIN offered o ON o.id = t.endpoint_id
        WHERE t.deliver_at IS NULL
          AND EXISTS (SELECT 1 FROM taken k WHERE k.id = o.id AND k.claim_seq = o.claim_seq)) r
      WHERE rank <= room
      ORDER BY msg_id, endpoint_id LIMIT @handoffLimit::integer),
    bumped AS (
      UPDATE endpoints SET claim_seq = claim_seq + 1 WHERE id IN (SELECT endpoint_id FROM handed))`;

/** PostgreSQL: the endpoints of the handed-off deliveries, as a JSON array, on the statement's first row only. */
const HANDED_ENDPOINTS = (isFirstRow: string): string => `CASE WHEN ${isFirstRow} THEN (
      SELECT json_agg(json_build_object(${ENDPOINT_COLUMNS.map((c) => `'${c}', e.${c}`).join(', ')}))
      FROM endpoints e WHERE e.id IN (SELECT endpoint_id FROM handed)) END AS handed_endpoints`;

/** PostgreSQL: a CTE that files the tags of the messages of `inserted` in message_tags (see migration 0008). */
const TAGGED = `tagged AS (
      INSERT INTO message_tags (msg_id, app_id, tag)
      SELECT DISTINCT inserted.id, inserted.app_id, t.tag FROM inserted, unnest(inserted.tags) AS t (tag)
      ON CONFLICT DO NOTHING)`;

/**
 * Both databases, in a fan-out's INSERT: a delivery's next_attempt_at and parked_due_at. A message
 * with a deliverAt (`deliverAt`, an SQL expression) is due then and never joins a parked queue (it
 * is not due yet; the claim parks it when its time comes if its endpoint is full); any other is due
 * `now`, or parked at `now` behind its endpoint's parked queue.
 */
const dueColumns = (deliverAt: string, now: string): string => `CASE WHEN ${deliverAt} IS NOT NULL THEN ${deliverAt} WHEN q.parked THEN NULL ELSE ${now} END,
             CASE WHEN ${deliverAt} IS NULL AND q.parked THEN ${now} END`;

const both = {
  selectMessageByIdOrEventId: `
    SELECT ${MESSAGE} FROM messages WHERE app_id = @appId AND (id = @key OR event_id = @key)
    ORDER BY id = @key DESC LIMIT 1`,
  expungePayload: `UPDATE messages SET payload = NULL WHERE app_id = @appId AND id = @id`,
};

/**
 * Bulk expunge, first half: the messages a list of keys names (by id or eventId; `keys` is the
 * database's list of text). The caller picks, per key, the message whose id it is over one whose
 * eventId it is, then drops the payloads by id (expungePayloads).
 */
const selectMessagesByKeys = (inKeys: (column: string) => string): string => `
    SELECT id, event_id FROM messages WHERE app_id = @appId AND (${inKeys('id')} OR ${inKeys('event_id')})`;

/** Endpoints this message was queued for, each with its latest delivery. */
const listMessageDestinations = ({ isLatestDelivery }: SqlFragments): string => `
    SELECT ${columns(DELIVERY_COLUMNS, 'd')} FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
    WHERE d.msg_id = @msgId AND d.app_id = @appId AND e.deleted_at IS NULL
      AND ${isLatestDelivery}
      AND d.endpoint_id {cmp} @cursor
    ORDER BY d.endpoint_id {dir} LIMIT @limit`;

/** An application's messages, newest first by default, with the optional filters (status: of a live destination's latest delivery). */
const listMessages = (f: SqlFragments): string => `
    SELECT ${columns(MESSAGE_COLUMNS, 'm')} FROM messages m
    WHERE m.app_id = @appId AND m.id {cmp} @cursor
      AND (@before${f.cast('bigint')} IS NULL OR m.created_at < @before)
      AND (@after${f.cast('bigint')} IS NULL OR m.created_at > @after)
      ${f.messageFilters}
      AND (@status${f.cast('text')} IS NULL OR EXISTS (
        SELECT 1 FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
        WHERE d.msg_id = m.id AND d.status = @status AND e.deleted_at IS NULL AND ${f.isLatestDelivery}))
    ORDER BY m.id {dir} LIMIT @limit`;

/**
 * An application's messages carrying @tag: as listMessages, walking the tag's entries of
 * message_tags (app_id, tag, msg_id) in id order, so a page reads only the tag's messages whatever
 * their share of the application's.
 */
const listMessagesByTag = (f: SqlFragments): string => `
    SELECT ${columns(MESSAGE_COLUMNS, 'm')} FROM message_tags t JOIN messages m ON m.id = t.msg_id
    WHERE t.app_id = @appId AND t.tag = @tag AND t.msg_id {cmp} @cursor
      AND (@before${f.cast('bigint')} IS NULL OR m.created_at < @before)
      AND (@after${f.cast('bigint')} IS NULL OR m.created_at > @after)
      ${f.messageFilters}
      AND (@status${f.cast('text')} IS NULL OR EXISTS (
        SELECT 1 FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
        WHERE d.msg_id = m.id AND d.status = @status AND e.deleted_at IS NULL AND ${f.isLatestDelivery}))
    ORDER BY t.msg_id {dir} LIMIT @limit`;

/** Messages queued for an endpoint, each with its latest delivery. */
const listAttemptedMessages = (f: SqlFragments): string => `
    SELECT ${columns(DELIVERY_COLUMNS, 'd')} FROM deliveries d JOIN messages m ON m.id = d.msg_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId
      AND ${f.isLatestDelivery}
      AND d.msg_id {cmp} @cursor
      AND (@status${f.cast('text')} IS NULL OR d.status = @status)
      AND (@before${f.cast('bigint')} IS NULL OR m.created_at < @before)
      AND (@after${f.cast('bigint')} IS NULL OR m.created_at > @after)
      ${f.messageFilters}
    ORDER BY d.msg_id {dir} LIMIT @limit`;

export const postgres = {
  // The message and, read in the same statement, the endpoints it fans out to: live, enabled
  // endpoints whose event-type filter admits the type and whose channel filter overlaps the
  // message's channels (a message without channels never reaches a channel endpoint: `&& NULL` is
  // not true). With @endpointIds (send-example) only those, still only live and enabled ones.
  insertMessage: `
    WITH inserted AS (
      INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at, tags, deliver_at, content_type, forward_headers)
      VALUES (@id, @appId, @eventId, @eventType, @payload, @channels::text[], @createdAt, @payloadExpiresAt, @tags::text[], @deliverAt::bigint, @contentType, @forwardHeaders)
      RETURNING ${MESSAGE}
    ), ${TAGGED}
    SELECT inserted.*, ARRAY(
      SELECT e.id FROM endpoints e
      WHERE e.app_id = inserted.app_id AND e.deleted_at IS NULL AND NOT e.disabled
        AND CASE WHEN @endpointIds::text[] IS NULL
              THEN ${pg.endpointAccepts('inserted.event_type', 'inserted.channels')}
              ELSE e.id = ANY (@endpointIds)
            END
      ORDER BY e.id) AS endpoint_ids
    FROM inserted`,
  /**
   * PostgreSQL only, as are the next two: the usual accept in one round trip and one implicit
   * transaction, the message and its deliveries (the wake-up follows, see QueuedAnnouncer). Delivery
   * ids come pre-made in @deliveryIds (KSUIDs are made in Node); an application with more matching
   * endpoints than ids given makes the id NULL, the statement fails with not_null_violation as a
   * whole, and createMessage retries with exactly as many ids. So does a FIFO endpoint among the
   * targets, on purpose: whether its line has a head must be read under its row lock, after the
   * lock, which one statement cannot do (its snapshot predates the wait); the retry's transaction
   * does (lockFifoEndpoints). Applications without FIFO endpoints never get there. SQLite, in process, runs the small
   * statements of insertMessageWithFanOut (sqlite.ts) for the same result.
   */
  insertMessageWithFanOut: `
    WITH inserted AS (
      INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at, tags, deliver_at, content_type, forward_headers)
      VALUES (@id, @appId, @eventId, @eventType, @payload, @channels::text[], @createdAt, @payloadExpiresAt, @tags::text[], @deliverAt::bigint, @contentType, @forwardHeaders)
      RETURNING ${MESSAGE}
    ), ${TAGGED}, targets AS (
      SELECT inserted.id AS msg_id, e.id AS endpoint_id, row_number() OVER (ORDER BY e.id) AS n, inserted.deliver_at, e.fifo
      FROM endpoints e, inserted
      WHERE e.app_id = inserted.app_id AND e.deleted_at IS NULL AND NOT e.disabled
        AND CASE WHEN @endpointIds::text[] IS NULL
              THEN ${pg.endpointAccepts('inserted.event_type', 'inserted.channels')}
              ELSE e.id = ANY (@endpointIds)
            END
    ), queues AS MATERIALIZED (${parkedQueuesOf('targets')}
    ),${HANDOFF_CTES},
    queued AS (
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, parked_due_at, locked_until, created_at, updated_at)
      SELECT CASE WHEN NOT t.fifo THEN (@deliveryIds::text[])[t.n] END, inserted.id, inserted.app_id, t.endpoint_id, 'pending', 'scheduled', 0,
             ${dueColumns('inserted.deliver_at', '@now::bigint')},
             CASE WHEN h.endpoint_id IS NOT NULL THEN @lockedUntil END, @now, @now
      FROM targets t CROSS JOIN inserted JOIN queues q ON q.endpoint_id = t.endpoint_id
        LEFT JOIN handed h ON h.endpoint_id = t.endpoint_id
      RETURNING ${DELIVERY}
    )
    SELECT inserted.*,
      (SELECT coalesce(json_agg(q ORDER BY q.id), '[]'::json) FROM queued q) AS deliveries,
      ${HANDED_ENDPOINTS('true')}
    FROM inserted`,
  /**
   * Several accepts in one statement and one commit (see createMessage): the same as
   * insertMessageWithFanOut, for each row of a JSON array. Any failure (an eventId taken, an
   * application gone, too few delivery ids) fails all of them; createMessage then runs each alone.
   * `= ANY (ARRAY(…))` lets the endpoints of the batch's applications be read through their index
   * whatever the planner guesses of the input (see completeAttempts).
   */
  insertMessagesWithFanOut: `
    WITH input AS (
      SELECT * FROM json_to_recordset(@rows::json) AS x(
        id text, app_id text, event_id text, event_type text, payload text, channels text[],
        created_at bigint, payload_expires_at bigint, tags text[], deliver_at bigint, content_type text, forward_headers text,
        endpoint_ids text[], delivery_ids text[], now bigint)
    ), inserted AS (
      INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at, tags, deliver_at, content_type, forward_headers)
      SELECT id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at, tags, deliver_at, content_type, forward_headers FROM input
      RETURNING ${MESSAGE}
    ), ${TAGGED}, targets AS (
      SELECT m.id AS msg_id, e.id AS endpoint_id, row_number() OVER (PARTITION BY m.id ORDER BY e.id) AS n, m.deliver_at, e.fifo
      FROM input m JOIN endpoints e ON e.app_id = m.app_id
      WHERE e.app_id = ANY (ARRAY(SELECT app_id FROM input)) AND e.deleted_at IS NULL AND NOT e.disabled
        AND CASE WHEN m.endpoint_ids IS NULL
              THEN ${pg.endpointAccepts('m.event_type', 'm.channels')}
              ELSE e.id = ANY (m.endpoint_ids)
            END
    ), queues AS MATERIALIZED (${parkedQueuesOf('targets')}
    ),${HANDOFF_CTES},
    queued AS (
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, parked_due_at, locked_until, created_at, updated_at)
      SELECT CASE WHEN NOT t.fifo THEN m.delivery_ids[t.n] END, m.id, m.app_id, t.endpoint_id, 'pending', 'scheduled', 0,
             ${dueColumns('m.deliver_at', 'm.now')},
             CASE WHEN h.endpoint_id IS NOT NULL THEN @lockedUntil END, m.now, m.now
      FROM targets t JOIN input m ON m.id = t.msg_id JOIN queues q ON q.endpoint_id = t.endpoint_id
        LEFT JOIN handed h ON h.msg_id = t.msg_id AND h.endpoint_id = t.endpoint_id
      RETURNING ${DELIVERY}
    )
    SELECT inserted.*,
      (SELECT coalesce(json_agg(q ORDER BY q.id), '[]'::json) FROM queued q WHERE q.msg_id = inserted.id) AS deliveries,
      ${HANDED_ENDPOINTS('inserted.id = (SELECT min(id) FROM input)')}
    FROM inserted`,
  // Messages queued with a state change check their application first: a deleted one drops them
  // instead of failing the change. KEY SHARE keeps it from being deleted until we commit.
  lockApplication: `SELECT id FROM applications WHERE id = @id FOR KEY SHARE`,
  selectMessageByIdOrEventId: both.selectMessageByIdOrEventId,
  /** A batch of ids in one round trip. */
  selectMessagesByIds: `SELECT ${MESSAGE} FROM messages WHERE id = ANY (@ids::text[])`,
  /** As selectMessagesByIds, within one application. */
  selectAppMessagesByIds: `SELECT ${MESSAGE} FROM messages WHERE app_id = @appId AND id = ANY (@ids::text[])`,
  listMessages: listMessages(pg),
  listMessagesByTag: listMessagesByTag(pg),
  expungePayload: both.expungePayload,
  listMessageDestinations: listMessageDestinations(pg),
  listAttemptedMessages: listAttemptedMessages(pg),
  selectMessagesByKeys: selectMessagesByKeys((column) => `${column} = ANY (@keys::text[])`),
  expungePayloads: `UPDATE messages SET payload = NULL WHERE app_id = @appId AND id = ANY (@ids::text[])`,
};

/** Channels and lists are JSON text. */
export const sqlite = {
  /** The message alone: SQLite has no data-modifying CTEs, so its fan-out is the next two statements. */
  insertMessage: `
    INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at, tags, deliver_at, content_type, forward_headers)
    VALUES (@id, @appId, @eventId, @eventType, @payload, @channels, @createdAt, @payloadExpiresAt, @tags, @deliverAt, @contentType, @forwardHeaders)
    RETURNING ${MESSAGE}`,
  /** SQLite only (PostgreSQL's insert statements have it as a CTE): file the message's tags (@tags, JSON) in message_tags. */
  insertMessageTags: `
    INSERT OR IGNORE INTO message_tags (msg_id, app_id, tag)
    SELECT @id, @appId, value FROM json_each(@tags)`,
  /** SQLite only (PostgreSQL reads these inside insertMessage): live, enabled endpoints the message fans out to. */
  selectFanOutEndpoints: `
    SELECT id FROM endpoints e
    WHERE e.app_id = @appId AND e.deleted_at IS NULL AND e.disabled = 0
      AND ${lite.endpointAccepts('@eventType', '@channels')}
    ORDER BY e.id`,
  /** SQLite only: targeted fan-out (send-example), only the named endpoints, still only live and enabled ones. */
  selectTargetedEndpoints: `
    SELECT id FROM endpoints e
    WHERE e.app_id = @appId AND e.deleted_at IS NULL AND e.disabled = 0
      AND e.id IN (SELECT value FROM json_each(@endpointIds))
    ORDER BY e.id`,
  /**
   * SQLite only (PostgreSQL's accept has it in HANDOFF_CTES): how many more deliveries endpoint
   * @endpointId may take leased in a handoff, its lease budget less its leases; no row when it has
   * parked deliveries or a throttle, or its application has one. Exact: the caller's IMMEDIATE transaction keeps claims out.
   */
  selectHandoffRoom: `
    SELECT ${lite.leaseBudget} - ${liveLeaseCount('e.id')} AS room
    FROM endpoints e
    WHERE e.id = @endpointId AND e.throttle_rate IS NULL AND NOT ${joinsParkedQueue('e.id')}
      AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = e.app_id AND a.throttle_rate IS NOT NULL)`,
  /** A plain read: the caller's IMMEDIATE transaction already keeps every other writer out. */
  lockApplication: `SELECT 1 AS present FROM applications WHERE id = @id`,
  selectMessageByIdOrEventId: both.selectMessageByIdOrEventId,
  /** One row at a time: in process, a statement per row costs less than building a list of ids. */
  selectMessageById: `SELECT ${MESSAGE} FROM messages WHERE id = @id`,
  /** Several of one application's messages by id (@ids, JSON). */
  selectAppMessagesByIds: `SELECT ${MESSAGE} FROM messages WHERE app_id = @appId AND id IN (SELECT value FROM json_each(@ids))`,
  listMessages: listMessages(lite),
  listMessagesByTag: listMessagesByTag(lite),
  expungePayload: both.expungePayload,
  listMessageDestinations: listMessageDestinations(lite),
  listAttemptedMessages: listAttemptedMessages(lite),
  selectMessagesByKeys: selectMessagesByKeys((column) => `${column} IN (SELECT value FROM json_each(@keys))`),
  expungePayloads: `UPDATE messages SET payload = NULL WHERE app_id = @appId AND id IN (SELECT value FROM json_each(@ids))`,
};
