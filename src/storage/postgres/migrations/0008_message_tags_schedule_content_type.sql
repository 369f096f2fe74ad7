-- 0008: three things a message may carry besides its payload, the PostgreSQL twin of
-- sqlite/migrations/0008_message_tags_schedule_content_type.sql.
-- tags: the sender's free-form labels, read back with the message; the lists filter by one tag
--   through message_tags, one row per (message, tag), whose (app_id, tag, msg_id) index walks a
--   tag's messages in id order, the order every message list pages in. The primary key
--   (msg_id, tag) answers "has this message the tag" and the cascade from messages.
-- deliver_at: scheduled delivery (epoch ms or NULL): the message's deliveries are due then.
-- content_type: the Content-Type a raw payload is delivered with (NULL: application/json).
-- Columns without defaults rewrite nothing.
ALTER TABLE messages ADD COLUMN tags text[];
ALTER TABLE messages ADD COLUMN deliver_at bigint;
ALTER TABLE messages ADD COLUMN content_type text;

CREATE TABLE message_tags (
  msg_id text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  app_id text COLLATE "C" NOT NULL,
  tag    text NOT NULL COLLATE "C",
  PRIMARY KEY (msg_id, tag)
);
CREATE INDEX message_tags_app_tag ON message_tags (app_id, tag, msg_id);
