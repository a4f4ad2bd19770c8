-- Roles with only what each side of the outbox needs. Not a migration (roles
-- are cluster-wide and creating them needs CREATEROLE): an administrator runs
-- it once per database, after `outbox-relay migrate`, and again after later
-- migrations (it is idempotent):
--
--   psql -v ON_ERROR_STOP=1 -d app -f schema/roles/least_privilege.sql
--
-- It creates two group roles (NOLOGIN) and grants them table privileges; give
-- them to the login roles you use:
--
--   CREATE ROLE relay_svc LOGIN PASSWORD '...' IN ROLE outbox_relay;
--   GRANT outbox_writer TO app_svc;
--
-- outbox_relay reads and removes outbox rows, records retries, moves rows to
-- the dead-letter table, keeps its shard leases and LISTENs (LISTEN needs no
-- privilege). It cannot read or write any business table, cannot change a
-- row's topic, key, payload or headers, and cannot delete dead letters.
-- outbox_writer may only add outbox rows (in the application's transaction).
--
-- Optional: the gauge outbox_relay_oldest_open_transaction_age_seconds reads
-- other sessions' transaction start times from pg_stat_activity, which only
-- members of pg_read_all_stats (or the sessions' own role) can see. Without
-- it the gauge stays absent; everything else works.
--
--   GRANT pg_read_all_stats TO outbox_relay;

DO $$
BEGIN
  CREATE ROLE outbox_relay NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$
BEGIN
  CREATE ROLE outbox_writer NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- The relay.
GRANT SELECT, DELETE ON outbox TO outbox_relay;
GRANT UPDATE (attempts, last_error, first_failed_at, next_attempt_at, committed_at,
              sent_at, sent_partition, sent_offset) ON outbox TO outbox_relay;
-- No DELETE: the relay cannot destroy dead letters. To let
-- relay.dead_letter_retention remove old ones, grant it deliberately:
--   GRANT DELETE ON outbox_dead_letter TO outbox_relay;
GRANT SELECT, INSERT ON outbox_dead_letter TO outbox_relay;
GRANT SELECT ON outbox_relay_schema_migrations TO outbox_relay;
GRANT SELECT, UPDATE ON outbox_relay_lease TO outbox_relay;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_relay_instance TO outbox_relay;
GRANT SELECT, USAGE ON SEQUENCE outbox_relay_requeues TO outbox_relay;

-- The application: insert outbox rows, nothing else (ids come from the
-- identity column, whose sequence needs no grant of its own for INSERT).
GRANT INSERT (topic, key, payload, headers) ON outbox TO outbox_writer;
