-- Option: a partitioned outbox, for relay.on_ack: mark_sent with a
-- relay.sent_retention. Expired sent rows then go by dropping whole daily
-- partitions: no DELETE, no dead tuples, no VACUUM debt.
--
-- It creates the outbox in place of schema/0001, so it applies only to a
-- database without one: `outbox-relay migrate --partitioned`, or
-- `psql -v ON_ERROR_STOP=1 -1 -f schema/options/1001_partitioned.sql` and then
-- `outbox-relay migrate` for the numbered files after 0001.
--
-- Partitions are by created_at, one per UTC day. The relay keeps
-- relay.partitions_ahead days of them ready (it calls
-- outbox_relay_maintain_partitions below every few minutes). A row whose day
-- has no partition lands in outbox_default, so an insert never fails; the
-- relay prunes that one row by row.

CREATE TABLE IF NOT EXISTS outbox_relay_schema_migrations (
    version     integer PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
  IF to_regclass('outbox') IS NOT NULL THEN
    RAISE EXCEPTION 'an outbox table exists already; a partitioned outbox can only be created '
                    'on a database without one (see docs/sent-trail.md)';
  END IF;
END $$;

-- schema/0001's columns. The primary key includes the partition key, as
-- PostgreSQL requires; ids stay unique (one identity sequence).
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    topic      text NOT NULL,
    key        text,
    payload    bytea,
    headers    jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE TABLE outbox_default PARTITION OF outbox DEFAULT;

-- Creates the partitions for today and `days_ahead` more days, and drops
-- every earlier partition whose rows were all sent longer than `retention`
-- ago (none pending). A partition whose day is in outbox_default already
-- cannot be created; it is skipped and that day's rows stay there.
-- Dropping takes ACCESS EXCLUSIVE on the outbox: it waits at most 200 ms
-- (lock_timeout), else it is tried again at the next call, so it never holds
-- up writers or the relay for longer. SECURITY DEFINER: a relay role without
-- ownership of the outbox (schema/roles) can run it.
CREATE OR REPLACE FUNCTION outbox_relay_maintain_partitions(days_ahead integer, retention interval)
RETURNS TABLE (created integer, dropped integer, ahead integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  day date;
  part record;
  name text;
  keeps_rows boolean;
BEGIN
  created := 0; dropped := 0; ahead := 0;
  FOR day IN SELECT generate_series(today, today + days_ahead, interval '1 day')::date LOOP
    name := 'outbox_p' || to_char(day, 'YYYYMMDD');
    IF to_regclass(name) IS NULL THEN
      BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF outbox FOR VALUES FROM (%L) TO (%L)', name,
                       day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
        created := created + 1;
      EXCEPTION WHEN check_violation THEN
        RAISE WARNING 'outbox partition % not created: outbox_default holds rows of that day', name;
      END;
    END IF;
  END LOOP;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'outbox'::regclass AND c.relname ~ '^outbox_p[0-9]{8}$'
       AND to_date(substr(c.relname, 9), 'YYYYMMDD') + 1 <= (now() - retention) AT TIME ZONE 'UTC'
       AND retention > interval '0'  -- NULL or 0: keep every day
     ORDER BY c.relname
  LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE sent_at IS NULL OR sent_at > $1)',
                   part.relname) INTO STRICT keeps_rows USING now() - retention;
    CONTINUE WHEN keeps_rows;
    BEGIN
      SET LOCAL lock_timeout = '200ms';
      EXECUTE format('DROP TABLE %I', part.relname);
      dropped := dropped + 1;
    EXCEPTION WHEN lock_not_available THEN
      NULL;  -- busy: the next call tries again
    END;
  END LOOP;
  SELECT count(*)::integer INTO ahead FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = 'outbox'::regclass AND c.relname ~ '^outbox_p[0-9]{8}$'
     AND to_date(substr(c.relname, 9), 'YYYYMMDD') > today;
  RETURN NEXT;
END $$;

SELECT outbox_relay_maintain_partitions(3, NULL);

INSERT INTO outbox_relay_schema_migrations (version, description) VALUES
  (1, 'outbox table (partitioned, schema/options/1001_partitioned.sql)'),
  (1001, 'partitioned outbox')
ON CONFLICT (version) DO NOTHING;
