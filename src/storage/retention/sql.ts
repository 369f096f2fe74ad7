// Retention: dropping expired payloads, old attempts and expired idempotency entries in bounded
// batches. The statements of both databases, side by side.

export const postgres = {
  // Retention works in bounded batches and skips rows another transaction holds, so it never
  // waits behind (or stalls) the API and the workers; what it skips, the next round takes.
  expirePayloads: `
    UPDATE messages SET payload = NULL
    WHERE id IN (
      SELECT id FROM messages WHERE payload IS NOT NULL AND payload_expires_at <= @now
      ORDER BY payload_expires_at LIMIT @limit
      FOR UPDATE SKIP LOCKED)`,
  pruneAttempts: `
    DELETE FROM attempts
    WHERE id IN (
      SELECT id FROM attempts WHERE attempted_at < @before
      ORDER BY attempted_at LIMIT @limit
      FOR UPDATE SKIP LOCKED)`,
  pruneIdempotency: `
    DELETE FROM idempotency_responses
    WHERE key_hash IN (
      SELECT key_hash FROM idempotency_responses WHERE expires_at <= @now
      ORDER BY expires_at LIMIT @limit
      FOR UPDATE SKIP LOCKED)`,
};

/** No row locks to skip: one process owns the file, and its writes never wait on each other. */
export const sqlite = {
  expirePayloads: `
    UPDATE messages SET payload = NULL
    WHERE id IN (
      SELECT id FROM messages WHERE payload IS NOT NULL AND payload_expires_at <= @now LIMIT @limit)`,
  pruneAttempts: `
    DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < @before ORDER BY attempted_at LIMIT @limit)`,
  pruneIdempotency: `
    DELETE FROM idempotency_responses
    WHERE key_hash IN (SELECT key_hash FROM idempotency_responses WHERE expires_at <= @now LIMIT @limit)`,
} satisfies Record<keyof typeof postgres, string>;
