-- 0008 (SQLite): three things a message may carry besides its payload.
-- tags: the sender's free-form labels (JSON array or NULL), read back with the message; the lists
--   filter by one tag through message_tags, one row per (message, tag), whose (app_id, tag, msg_id)
--   index walks a tag's messages in id order, the order every message list pages in.
-- deliver_at: scheduled delivery (epoch ms or NULL): the message's deliveries are due then.
-- content_type: the Content-Type a raw payload is delivered with (NULL: application/json).
ALTER TABLE messages ADD COLUMN tags TEXT;
ALTER TABLE messages ADD COLUMN deliver_at INTEGER;
ALTER TABLE messages ADD COLUMN content_type TEXT;

CREATE TABLE message_tags (
  msg_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  app_id TEXT NOT NULL,
  tag    TEXT NOT NULL,
  PRIMARY KEY (msg_id, tag)
) WITHOUT ROWID;
CREATE INDEX message_tags_app_tag ON message_tags (app_id, tag, msg_id);
