-- 0003: endpoint health, the PostgreSQL twin of sqlite/migrations/0003_endpoint_health.sql.
-- failing_since is the time (epoch ms) of the first failed attempt after the endpoint's last success
-- (NULL while healthy): a success clears it, a failure sets it when unset, and an endpoint still
-- failing `TAPWIRE_AUTO_DISABLE_AFTER` later is disabled. Re-enabling it clears it.
-- Adding a nullable column without a default rewrites nothing: instant even on a large table.
ALTER TABLE endpoints ADD COLUMN failing_since bigint;
