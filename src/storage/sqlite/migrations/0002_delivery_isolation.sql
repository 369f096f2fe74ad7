-- 0002: delivery isolation. One slow or dead endpoint must not slow the others (design.md §5), so
-- a claim respects each endpoint's concurrency limit and throttleRate, and deliveries that must
-- wait for their endpoint step out of the due order instead of being read again by every claim.
--
-- Per-endpoint concurrency is counted from leases (deliveries with locked_until in the future),
-- not from a counter: a worker that dies frees its slots when its leases expire, with nothing to
-- repair.
--
-- throttleRate (messages per second) is enforced with GCRA, the one-timestamp form of a token
-- bucket: throttle_tat is the "theoretical arrival time" (epoch ms, fractional) after which the
-- endpoint's next attempt may start; each attempt claimed moves it on by 1000 / rate ms, and a burst
-- of up to 100 ms worth of messages may start at once. Only claims write it.
ALTER TABLE endpoints ADD COLUMN concurrency_limit INTEGER;  -- NULL = the server default (TAPWIRE_ENDPOINT_CONCURRENCY)
ALTER TABLE endpoints ADD COLUMN throttle_tat REAL;

-- Parked: a due delivery whose endpoint was at its limit when a claim reached it. Parking moves its
-- due time from next_attempt_at to parked_due_at, so it leaves the due order of deliveries_due (a
-- NULL key is never in a `next_attempt_at <= now` range) and waits in its endpoint's own queue,
-- deliveries_parked, where claims take it (oldest first) once the endpoint has room again; taking it
-- moves the due time back. A hanging endpoint with a large backlog thus costs each claim one index
-- probe instead of a scan of the backlog, and each waiting delivery is written once more at most.
ALTER TABLE deliveries ADD COLUMN parked_due_at INTEGER;

-- First attempts in due order: the reserve of worker slots for fresh traffic finds them even when a
-- storm of due retries fills the front of deliveries_due.
CREATE INDEX deliveries_first_due ON deliveries (next_attempt_at, id)
  WHERE status IN ('pending', 'sending') AND attempt_count = 0;
-- Each endpoint's parked deliveries, oldest first; a loose scan of it lists the endpoints with any.
CREATE INDEX deliveries_parked ON deliveries (endpoint_id, parked_due_at, id)
  WHERE status IN ('pending', 'sending') AND parked_due_at IS NOT NULL;
-- The leases of an endpoint (its attempts in flight, in any process): counted by every claim.
CREATE INDEX deliveries_leased ON deliveries (endpoint_id, locked_until)
  WHERE status IN ('pending', 'sending') AND locked_until IS NOT NULL;
