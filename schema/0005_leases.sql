-- Several relays at once. The outbox is divided into shards by key: every
-- row of a key belongs to the same shard, and a relay reads, removes, retries
-- or dead-letters a row only while it holds a live lease on the row's shard.
-- So each key has one publisher at a time, and keys keep their order while
-- relays come, go and hand shards over.
--
-- A lease is time-limited (relay.lease_ttl_ms) and renewed by its holder;
-- the shards of a relay that died, was paused or lost the database are free
-- once its lease ran out. `epoch` is a fencing token: it grows by one every
-- time a shard changes hands, and the relay's statements that remove or
-- update rows check it (with the lease's expiry, on the database's clock), so
-- a relay that was paused past its lease cannot touch rows it no longer owns.
--
-- The number of shards (16) caps how many relays share the work; more
-- instances stand by. To change it, stop every relay first (a key's shard
-- depends on the count), then add or delete rows here, e.g.
--
--   INSERT INTO outbox_relay_lease (shard) SELECT generate_series(16, 31);

CREATE TABLE IF NOT EXISTS outbox_relay_lease (
  shard       integer PRIMARY KEY,
  owner       text,                                  -- instance id; NULL = free
  epoch       bigint NOT NULL DEFAULT 0,             -- fencing token
  lease_until timestamptz NOT NULL DEFAULT '-infinity',
  acquired_at timestamptz
);

INSERT INTO outbox_relay_lease (shard)
SELECT generate_series(0, 15)
ON CONFLICT (shard) DO NOTHING;

-- The relays that are running (or were recently): each renews alive_until
-- with its leases, and the live ones split the shards evenly between them.
CREATE TABLE IF NOT EXISTS outbox_relay_instance (
  id          text PRIMARY KEY,
  host        text NOT NULL,
  pid         integer NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  alive_until timestamptz NOT NULL
);

-- The shard of a row: a hash of its key (the hash PostgreSQL's own hash
-- partitioning uses, stable across versions), or of its id when it has no
-- key (no order to keep, so such rows spread over every shard).
CREATE OR REPLACE FUNCTION outbox_relay_shard(key text, id bigint, shards integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((hashtextextended(coalesce(key, id::text), 0) & 9223372036854775807) % shards)::integer $$;

INSERT INTO outbox_relay_schema_migrations (version, description)
VALUES (5, 'shard leases for several relays')
ON CONFLICT (version) DO NOTHING;
