-- Wakes the relay the moment outbox rows are committed, instead of at its
-- next poll. The trigger fires once per INSERT statement (not per row), and
-- PostgreSQL folds identical notifications of one transaction into one, so a
-- transaction costs one notification however many rows it writes. It is
-- delivered at commit, never for a rolled-back transaction.
--
-- Cost: at commit, a notifying transaction takes a cluster-wide lock on the
-- notification queue, so notifying commits are serialised with each other.
-- Under heavy concurrent write load this can cap commit throughput. The relay
-- does not need the trigger (it falls back to polling every
-- relay.poll_interval_ms); to trade wake-up latency for commit throughput:
--
--   DROP TRIGGER outbox_notify ON outbox;
--
-- Migrations are append-only and never re-create it. Behind a
-- transaction-pooling PgBouncer notifications are not delivered; the relay
-- detects that and says so (outbox_relay_notify_working = 0).

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_relay', '');
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify
  AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (3, 'notify the relay on insert')
ON CONFLICT (version) DO NOTHING;
