-- Counts dead-letter requeues. A requeue puts rows back with their original,
-- low ids; the relay starts its reads above ids it knows are gone (dead index
-- entries are not walked), so it must learn of a requeue in the very
-- statement that could otherwise publish a later row of the same key first.
-- `outbox-relay dead-letters requeue` bumps it in the requeue's transaction;
-- anyone putting rows back by hand with explicit ids should do the same:
--
--   SELECT nextval('outbox_relay_requeues');

CREATE SEQUENCE IF NOT EXISTS outbox_relay_requeues;

-- Every relay reads it with each batch and every requeue bumps it, whatever
-- roles a deployment uses; it holds nothing but a count, and a stray bump
-- only makes relays reread from the lowest id once.
GRANT SELECT, USAGE ON SEQUENCE outbox_relay_requeues TO PUBLIC;

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (4, 'requeue counter')
ON CONFLICT (version) DO NOTHING;
