-- 0001: the outbox table and the ledger of applied schema files.
-- Apply with `outbox-relay migrate --config FILE`, or by hand with
-- `psql -v ON_ERROR_STOP=1 -1 -f schema/0001_outbox.sql`.

CREATE TABLE IF NOT EXISTS outbox_relay_schema_migrations (
    version     integer PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Applications insert (topic, key, payload, headers) in the same transaction
-- as their business change. The relay publishes each row to `topic` and
-- deletes it only after the broker acknowledged it.
CREATE TABLE IF NOT EXISTS outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic      text NOT NULL,
    key        text,          -- Kafka key; NULL = no key
    payload    bytea,         -- NULL = tombstone
    headers    jsonb,         -- object of string values, sent as Kafka headers
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every row is inserted once and deleted once: let autovacuum keep up with
-- the churn long before the default 20 % of dead rows accumulates, so the
-- relay's index scan does not wade through dead entries.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 10000
);

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (1, 'outbox table')
ON CONFLICT (version) DO NOTHING;
