-- 0015: FIFO endpoints (docs/fifo.md); the PostgreSQL twin of sqlite/migrations/0015, which explains
-- the line: fifo_seq is a delivery's place in its FIFO endpoint's line, held ones have no due time.
-- Whether an endpoint has a head is decided under its row lock (FOR NO KEY UPDATE), taken only for
-- FIFO endpoints, so two processes never make two heads.
ALTER TABLE endpoints ADD COLUMN fifo boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN fifo_seq bigint;
CREATE INDEX deliveries_fifo_seq ON deliveries (endpoint_id, fifo_seq) WHERE fifo_seq IS NOT NULL;
CREATE INDEX deliveries_fifo_held ON deliveries (endpoint_id, fifo_seq)
  WHERE fifo_seq IS NOT NULL AND status = 'pending' AND next_attempt_at IS NULL AND parked_due_at IS NULL AND locked_until IS NULL;
CREATE INDEX deliveries_fifo_head ON deliveries (endpoint_id, fifo_seq)
  WHERE fifo_seq IS NOT NULL AND status IN ('pending', 'sending')
    AND (next_attempt_at IS NOT NULL OR parked_due_at IS NOT NULL OR locked_until IS NOT NULL);
