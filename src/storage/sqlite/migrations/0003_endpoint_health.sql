-- 0003: endpoint health. failing_since is the time of the first failed attempt after the endpoint's
-- last success (NULL while healthy): a success clears it, a failure sets it when unset, and an
-- endpoint still failing `TAPWIRE_AUTO_DISABLE_AFTER` later is disabled. Re-enabling it clears it.
-- Only completeAttempt writes it (and updateEndpoint clears it on re-enable), so no index is needed.
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;
