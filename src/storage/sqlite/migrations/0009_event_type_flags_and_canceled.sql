-- 0009 (SQLite): event types get Svix's `featureFlags` (a list) and `groupName`, and deliveries and
-- attempts may be `canceled`.
--
-- feature_flags is a JSON list (NULL = no flag); the singular feature_flag of 0001 becomes its
-- first element and is still written (as that first element) for older readers.
ALTER TABLE event_types ADD COLUMN feature_flags TEXT;
ALTER TABLE event_types ADD COLUMN group_name TEXT;
UPDATE event_types SET feature_flags = json_array(feature_flag) WHERE feature_flag IS NOT NULL;

-- canceled (Svix's status 4): a delivery Tapwire dropped unsent, because its endpoint was deleted
-- or disabled or its message's payload was gone before it could be sent; the attempt recorded for
-- such a drop is canceled too. SQLite cannot alter a CHECK constraint, and rebuilding these tables
-- would copy every delivery and attempt (and deleting the old deliveries table would cascade to the
-- attempts). A CHECK that admits more values than before does not change what is stored, so, as
-- SQLite's documentation describes for such changes, the table definitions are rewritten in place
-- (writable_schema), the schema is reloaded (RESET), and a throwaway table bumps the schema version
-- so other connections reload it too. Every existing row satisfies the wider checks.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (status IN (''success'', ''pending'', ''fail'', ''sending''))',
                       'CHECK (status IN (''success'', ''pending'', ''fail'', ''sending'', ''canceled''))')
WHERE type = 'table' AND name = 'deliveries';
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (status IN (''success'', ''fail''))', 'CHECK (status IN (''success'', ''fail'', ''canceled''))')
WHERE type = 'table' AND name = 'attempts';
PRAGMA writable_schema = RESET;
CREATE TABLE schema_version_bump_0009 (x INTEGER);
DROP TABLE schema_version_bump_0009;
