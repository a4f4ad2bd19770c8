-- 0007: the sent trail (relay.on_ack: mark_sent) and the per-key sequence's
-- column.
--
-- With relay.on_ack: mark_sent a delivered row is kept and these columns
-- say where the broker put it, from the row's own delivery report. All three
-- are NULL while the row is pending; with on_ack: delete they stay NULL (the
-- row goes on its ack). relay.sent_retention bounds how long sent rows stay.
ALTER TABLE outbox
    ADD COLUMN IF NOT EXISTS sent_at        timestamptz,
    ADD COLUMN IF NOT EXISTS sent_partition integer,
    ADD COLUMN IF NOT EXISTS sent_offset    bigint,
    -- 1, 2, 3, ... per key, gapless in commit order; filled by the trigger
    -- of schema/options/1002_per_key_sequence.sql, NULL without it. Kept through
    -- a dead letter and its requeue, so the message keeps its number.
    ADD COLUMN IF NOT EXISTS key_seq        bigint;

ALTER TABLE outbox_dead_letter
    ADD COLUMN IF NOT EXISTS key_seq bigint;

-- The relay reads pending rows through this index: its size, and the cost of
-- a read, do not grow with the number of sent rows kept.
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (id) WHERE sent_at IS NULL;

-- Retention removes the oldest sent rows first, in bounded batches.
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- `outbox-relay audit` walks the sent rows of a topic in the order the
-- broker stored them, in pages of short transactions (a long-lived snapshot
-- would hold back vacuum on the outbox).
CREATE INDEX IF NOT EXISTS outbox_sent_position
    ON outbox (topic, sent_partition, sent_offset) WHERE sent_at IS NOT NULL;

-- Locks: adding the columns (no default) is a catalog change that takes
-- ACCESS EXCLUSIVE for an instant; each CREATE INDEX takes SHARE on the
-- outbox (writers wait) for one scan of it. On an outbox drained in delete
-- mode that is milliseconds; on a 10M-row table build the indexes first
-- with CREATE INDEX CONCURRENTLY under the same names.

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (7, 'sent trail and per-key sequence column')
ON CONFLICT (version) DO NOTHING;
