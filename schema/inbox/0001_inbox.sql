-- 0001: the consumer side's inbox (consumer/, the outbox::inbox library).
-- Applied in the CONSUMER's database by outbox::inbox::ApplySchema() (which
-- the library's consumers call at start), or by hand with
-- `psql -v ON_ERROR_STOP=1 -1 -f schema/inbox/0001_inbox.sql`.
--
-- One row per message a consumer has decided on, keyed by the relay's
-- `outbox-id` header: the transaction that records it also runs the
-- application's handler, so a redelivered message finds its row and is
-- dropped as a duplicate. Several consumers (names) share the tables.
CREATE TABLE IF NOT EXISTS inbox (
    consumer    text        NOT NULL,
    outbox_id   bigint      NOT NULL,
    topic       text        NOT NULL,
    "partition" integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    -- applied: the handler ran and committed with this row;
    -- held: waiting in inbox_held for an earlier number of its key;
    -- dead_lettered: in inbox_dead_letter with its reason, never applied.
    outcome     text        NOT NULL CHECK (outcome IN ('applied', 'held', 'dead_lettered')),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, outbox_id)
);
-- Retention removes the oldest decided rows first.
CREATE INDEX IF NOT EXISTS inbox_received_at ON inbox (consumer, received_at);

-- The last `outbox-seq` applied per key (keys are bytes: Kafka keys need not
-- be UTF-8). Locked by the transaction of each keyed message, so two
-- consumers of one group take turns on a key during a rebalance.
CREATE TABLE IF NOT EXISTS inbox_key_seq (
    consumer   text        NOT NULL,
    key        bytea       NOT NULL,
    last_seq   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, key)
);

-- Messages held behind a gap (on_gap: hold): applied, in number order, once
-- the missing number arrives or an operator moves the key's last_seq past
-- the gap (see docs/inbox.md).
CREATE TABLE IF NOT EXISTS inbox_held (
    consumer    text        NOT NULL,
    key         bytea       NOT NULL,
    seq         bigint      NOT NULL,
    outbox_id   bigint      NOT NULL,
    topic       text        NOT NULL,
    "partition" integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    payload     bytea,
    headers     jsonb       NOT NULL,  -- [[name, value], ...]; a non-UTF-8 value as {"hex": ...}
    held_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, key, seq)
);

-- Messages the consumer will not apply, with the reason: no or a malformed
-- outbox-id or outbox-seq header, a handler that kept failing, a number out
-- of order under on_gap: hold. The partition moves on past them.
CREATE TABLE IF NOT EXISTS inbox_dead_letter (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer         text        NOT NULL,
    topic            text        NOT NULL,
    "partition"      integer     NOT NULL,
    "offset"         bigint      NOT NULL,
    outbox_id        bigint,               -- NULL when the header was missing or malformed
    key              bytea,
    payload          bytea,
    headers          jsonb       NOT NULL,
    reason           text        NOT NULL,  -- a bounded code, e.g. missing_outbox_id
    error            text        NOT NULL,  -- the detail
    attempts         integer     NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    -- A redelivered bad message is not recorded twice.
    UNIQUE (consumer, topic, "partition", "offset")
);

CREATE TABLE IF NOT EXISTS outbox_inbox_schema_migrations (
    version     integer     PRIMARY KEY,
    description text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO outbox_inbox_schema_migrations (version, description)
VALUES (1, 'inbox, per-key sequence, held messages, dead letters')
ON CONFLICT (version) DO NOTHING;
