-- 0016 (SQLite): endpoint transformations. An endpoint may carry JavaScript (Svix's
-- `handler(webhook)`) that rewrites each request before it is signed and sent. The code is kept
-- even while disabled, as Svix keeps it; updated_at is when code or switch last changed (epoch ms).
-- Read with every endpoint (the worker needs it at claim time), written only by
-- PATCH …/transformation.
ALTER TABLE endpoints ADD COLUMN transformation_code TEXT;
ALTER TABLE endpoints ADD COLUMN transformation_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN transformation_updated_at INTEGER;
