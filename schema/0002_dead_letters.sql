-- 0002: per-row failure bookkeeping and the dead-letter table.
-- Apply with `outbox-relay migrate --config FILE`, or by hand with
-- `psql -v ON_ERROR_STOP=1 -1 -f schema/0002_dead_letters.sql`.

-- Relay-managed columns; their defaults keep application inserts unchanged.
-- (Adding a column with a constant default does not rewrite the table.)
ALTER TABLE outbox
    ADD COLUMN IF NOT EXISTS attempts        integer NOT NULL DEFAULT 0,  -- row-specific failures
    ADD COLUMN IF NOT EXISTS last_error      text,
    ADD COLUMN IF NOT EXISTS first_failed_at timestamptz,
    ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz;                 -- NULL = now

-- The few rows waiting for a retry, by key: the reader holds back later rows
-- of the same key so that per-key order survives retries.
CREATE INDEX IF NOT EXISTS outbox_waiting_by_key
    ON outbox (key, id) WHERE next_attempt_at IS NOT NULL;

-- Rows that can never be delivered as they are, moved here (in the same
-- transaction that deletes them from the outbox) with the reason.
CREATE TABLE IF NOT EXISTS outbox_dead_letter (
    id               bigint PRIMARY KEY,  -- the outbox id, also the outbox-id header
    topic            text NOT NULL,
    key              text,
    payload          bytea,
    headers          jsonb,
    created_at       timestamptz NOT NULL,
    reason           text NOT NULL,       -- bounded code, e.g. msg_size_too_large
    error            text NOT NULL,       -- the detail
    attempts         integer NOT NULL,
    first_failed_at  timestamptz NOT NULL,
    last_failed_at   timestamptz NOT NULL,
    -- on_undeliverable: block_key: later rows of this key wait until an
    -- operator requeues or purges this row.
    blocks_key       boolean NOT NULL DEFAULT false,
    dead_lettered_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS outbox_dead_letter_blocking
    ON outbox_dead_letter (key) WHERE blocks_key;

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (2, 'failure bookkeeping and dead letters')
ON CONFLICT (version) DO NOTHING;
