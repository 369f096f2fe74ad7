-- 0016: endpoint transformations, the PostgreSQL twin of sqlite/migrations/0016_endpoint_transformations.sql.
-- An endpoint may carry JavaScript (Svix's `handler(webhook)`) that rewrites each request before it
-- is signed and sent. The code is kept even while disabled, as Svix keeps it; updated_at is when
-- code or switch last changed (epoch ms). A constant default (false) is stored in the catalogue,
-- not written into each row, so these are instant even on a large table.
ALTER TABLE endpoints ADD COLUMN transformation_code text;
ALTER TABLE endpoints ADD COLUMN transformation_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE endpoints ADD COLUMN transformation_updated_at bigint;
