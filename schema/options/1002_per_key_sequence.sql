-- Option: a per-key sequence (relay.per_key_sequence: true). Every keyed row
-- gets key_seq = the next number for its key (1, 2, 3, ...), sent as header
-- `outbox-seq`, so a consumer can tell a lost message from a hole in the ids.
-- Applied by `outbox-relay migrate` when the config enables it, or by
-- `psql -v ON_ERROR_STOP=1 -1 -f schema/options/1002_per_key_sequence.sql` after
-- the numbered files.
--
-- Gapless in commit order: the number comes from a counter row per key that
-- the inserting transaction holds locked until it ends. A rolled-back insert
-- rolls its increment back, and writers of one key take turns, as they
-- already do when they update one aggregate (measured in bench/README.md).
-- The row's id is taken once the counter is locked, so ids of one key also
-- increase in commit order and the relay's id-ordered reads send 1, 2, 3.
-- (The id the insert drew before the trigger ran is left unused.)
--
-- Keys of any size: counters are keyed by md5(key) (a 2^-64 chance that two
-- keys among 2^32 share a counter, which shows as gaps, never as loss).

CREATE TABLE IF NOT EXISTS outbox_key_seq (
    key_md5  uuid PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- SECURITY DEFINER: writers need no grant on the counters.
CREATE OR REPLACE FUNCTION outbox_assign_key_seq() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  -- A dead letter put back by `outbox-relay dead-letters requeue` keeps its
  -- id and its number (the requeue sets outbox_relay.requeue for its
  -- transaction).
  IF NEW.key IS NULL OR current_setting('outbox_relay.requeue', true) = 'on' THEN
    RETURN NEW;
  END IF;
  INSERT INTO outbox_key_seq AS s (key_md5, last_seq) VALUES (md5(NEW.key)::uuid, 1)
  ON CONFLICT (key_md5) DO UPDATE SET last_seq = s.last_seq + 1
  RETURNING s.last_seq INTO NEW.key_seq;
  NEW.id := nextval(pg_get_serial_sequence('outbox', 'id'));
  RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS outbox_key_seq ON outbox;
CREATE TRIGGER outbox_key_seq BEFORE INSERT ON outbox
  FOR EACH ROW EXECUTE FUNCTION outbox_assign_key_seq();

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (1002, 'per-key sequence')
ON CONFLICT (version) DO NOTHING;
