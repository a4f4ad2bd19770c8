-- The demo application's business table. The relay never reads it: it only
-- sees the outbox rows written in the same transaction.
CREATE TABLE IF NOT EXISTS orders (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer     text NOT NULL,
    amount_cents bigint NOT NULL,
    placed_at    timestamptz NOT NULL DEFAULT now()
);
