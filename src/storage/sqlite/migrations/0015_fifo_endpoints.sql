-- 0015: FIFO endpoints (docs/fifo.md). An endpoint with fifo = 1 gets its deliveries one at a time,
-- in the order their messages were accepted. Each delivery made for it while it is FIFO carries
-- fifo_seq, its place in the endpoint's line (1, 2, 3… per endpoint, from the highest one there):
-- - the head: the one unfinished delivery of the line that is not held (due, parked, or leased);
-- - held: status 'pending' with next_attempt_at, parked_due_at and locked_until all NULL, so no
--   claim ever sees it. When the head ends (success, fail, canceled), the held one with the lowest
--   fifo_seq becomes due, in the transaction that ended the head.
-- Deliveries made before the endpoint became FIFO have no fifo_seq and are not part of the line.
ALTER TABLE endpoints ADD COLUMN fifo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN fifo_seq INTEGER;
-- The next place in a line (its highest fifo_seq), the held ones in line order, and "has it a head?":
-- each partial, so deliveries of other endpoints never enter these indexes.
CREATE INDEX deliveries_fifo_seq ON deliveries (endpoint_id, fifo_seq) WHERE fifo_seq IS NOT NULL;
CREATE INDEX deliveries_fifo_held ON deliveries (endpoint_id, fifo_seq)
  WHERE fifo_seq IS NOT NULL AND status = 'pending' AND next_attempt_at IS NULL AND parked_due_at IS NULL AND locked_until IS NULL;
CREATE INDEX deliveries_fifo_head ON deliveries (endpoint_id, fifo_seq)
  WHERE fifo_seq IS NOT NULL AND status IN ('pending', 'sending')
    AND (next_attempt_at IS NOT NULL OR parked_due_at IS NOT NULL OR locked_until IS NOT NULL);
