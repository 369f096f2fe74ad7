-- 0009: event types get Svix's `featureFlags` (a list) and `groupName`, and deliveries and
-- attempts may be `canceled`; the PostgreSQL twin of sqlite/migrations/0009.
--
-- feature_flags NULL = no flag; the singular feature_flag of 0001 becomes its first element and is
-- still written (as that first element) for older readers.
ALTER TABLE event_types ADD COLUMN feature_flags text[], ADD COLUMN group_name text;
UPDATE event_types SET feature_flags = ARRAY[feature_flag] WHERE feature_flag IS NOT NULL;

-- canceled (Svix's status 4): a delivery Tapwire dropped unsent, because its endpoint was deleted
-- or disabled or its message's payload was gone before it could be sent; the attempt recorded for
-- such a drop is canceled too. The wider checks admit every existing row, so they are added
-- NOT VALID: no scan of the tables under an exclusive lock. New and updated rows are checked.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check,
  ADD CONSTRAINT deliveries_status_check CHECK (status IN ('success', 'pending', 'fail', 'sending', 'canceled')) NOT VALID;
ALTER TABLE attempts DROP CONSTRAINT attempts_status_check,
  ADD CONSTRAINT attempts_status_check CHECK (status IN ('success', 'fail', 'canceled')) NOT VALID;
