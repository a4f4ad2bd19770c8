-- No value a writer can put in a row may stop delivery, and a row's age
-- counts from its original commit.
--
-- A B-tree entry holds at most ~2.7 kB, so an index on `key` makes every
-- statement that indexes a longer key fail (SQLSTATE 54000): a 100 kB key
-- broke the dead-letter write-back that also removes delivered rows, and
-- halted every key. The relay's key probes use a 64-bit hash of the key
-- instead (and compare the key itself to rule out collisions), so a key of
-- any size is indexed in 8 bytes.
--
-- Locks: each CREATE INDEX takes a SHARE lock on its table (writers wait)
-- for as long as one scan of it takes; on an outbox that is being drained
-- that is milliseconds. The DROPs take ACCESS EXCLUSIVE for an instant.

CREATE INDEX IF NOT EXISTS outbox_waiting_by_key_hash
    ON outbox (hashtextextended(key, 0), id) WHERE next_attempt_at IS NOT NULL;
DROP INDEX IF EXISTS outbox_waiting_by_key;

CREATE INDEX IF NOT EXISTS outbox_dead_letter_blocking_hash
    ON outbox_dead_letter (hashtextextended(key, 0)) WHERE blocks_key;
DROP INDEX IF EXISTS outbox_dead_letter_blocking;

-- When the row entered the queue, for the delivery-lag gauge and the latency
-- histogram. NULL while the relay has not touched the row: its age then
-- comes from its inserting transaction's commit (track_commit_timestamp) or
-- created_at. The relay fills it on the first retry, because that UPDATE
-- replaces the row version whose commit time the age was read from; a
-- dead letter put back by `dead-letters requeue` gets the requeue's time
-- (it waits again from when an operator decided to send it).
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS committed_at timestamptz;

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (6, 'hash-indexed keys; ages that survive retries')
ON CONFLICT (version) DO NOTHING;
