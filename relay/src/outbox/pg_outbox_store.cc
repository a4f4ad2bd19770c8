#include "outbox/pg_outbox_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <pqxx/pqxx>

#include "common/log.h"
#include "common/secrets.h"
#include "common/text.h"
#include "outbox/enqueued_at_sql.h"
#include "outbox/notify_channel.h"
#include "outbox/pg_errors.h"
#include "outbox/row_headers.h"
#include "outbox/session_settings.h"
#include "outbox/sql_text.h"
#include "outbox/statements.h"

namespace outbox {
namespace {

// Lowest ids first, driven by the index of pending rows (schema/0007), so
// the cost grows neither with the backlog nor with the sent rows kept
// (relay.on_ack: mark_sent). No cursor: a row committed late by a
// transaction that took its id early is still here and is read by the next
// call. A row is due unless it waits for a retry, an earlier row of its key waits for one
// (per-key order), or a dead letter blocks its key; both probes use small
// partial indexes on a hash of the key (schema/0006), so keys of any size
// work.
//
// One plan for every state (the session keeps generic plans): the rare
// states are looked up once per statement (`rare`), and a row pays for a
// probe only while one exists: the OR tests the flag first. Likewise the
// shard of each row is hashed only while this relay holds some but not all
// shards.
//
// @LIMIT@ rows at most (a literal, one prepared statement per batch size).
// The ids in $1 (a multirange of runs of consecutive ids, so the test is a
// binary search) are in flight and not read again. Exactly those: every
// other id, also one between two ids in flight, is read in id order, because
// a row whose transaction committed after the read of an earlier batch may
// lie between that batch's ids, and the next row of its key may be above
// them. (Skipping the whole id range of the batches in flight broke per-key
// order under concurrent writers.) Rows are added while the key + payload
// bytes before them stay under $2; ids below $3 (ReadFloor) are known to be
// gone and not walked. Only rows of shards leased to this relay are read:
// the shards in $4 at the epochs in $5 that the lease table still gives to
// owner $6 ($7 shards in all, see schema/0005), checked on the database's
// clock in this very statement. A payload is left out when key + payload exceed $8
// (message.max.bytes): the row can never be sent and is dead-lettered from
// the table itself, so it is never held in memory. The requeue counter
// (schema/0004) and the message size come with the rows. A row's age counts
// from committed_at once the relay has set it (schema/0006), else from its
// commit when track_commit_timestamp is on, else from created_at (the
// inserting transaction's start).
constexpr const char* kReadBatchSql = R"(
WITH leased AS MATERIALIZED (
  SELECT coalesce(array_agg(l.shard), '{}') AS shards, count(*) = $7::int AS all_shards
    FROM outbox_relay_lease l
    JOIN unnest($4::int[], $5::bigint[]) AS h(shard, epoch)
      ON h.shard = l.shard AND h.epoch = l.epoch
   WHERE l.owner = $6 AND l.lease_until > now()),
rare AS MATERIALIZED (
  SELECT EXISTS (SELECT 1 FROM outbox w WHERE w.next_attempt_at > now()) AS waits,
         EXISTS (SELECT 1 FROM outbox_dead_letter d WHERE d.blocks_key) AS blocks),
first AS (
  SELECT o.*, o.xmin AS inserted_by,
         coalesce(octet_length(o.key), 0) + coalesce(octet_length(o.payload), 0) AS message_bytes
    FROM outbox o WHERE o.id >= $3 AND o.sent_at IS NULL
    AND NOT ($1::int8multirange @> o.id)
    AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
    AND (NOT (SELECT waits FROM rare) OR
         NOT EXISTS (SELECT 1 FROM outbox w
                      WHERE w.next_attempt_at > now()
                        AND hashtextextended(w.key, 0) = hashtextextended(o.key, 0)
                        AND w.key = o.key AND w.id < o.id))
    AND (NOT (SELECT blocks FROM rare) OR
         NOT EXISTS (SELECT 1 FROM outbox_dead_letter d
                      WHERE d.blocks_key AND hashtextextended(d.key, 0) = hashtextextended(o.key, 0)
                        AND d.key = o.key))
    AND ((SELECT all_shards FROM leased) OR
         outbox_relay_shard(o.key, o.id, $7::int) = ANY ((SELECT shards FROM leased)::int[]))
    ORDER BY o.id LIMIT @LIMIT@),
sized AS (
  SELECT f.*, sum(f.message_bytes) OVER (ORDER BY f.id ROWS UNBOUNDED PRECEDING) AS bytes_through
    FROM first f)
SELECT id, topic, key, CASE WHEN message_bytes <= $8::bigint THEN payload END, headers::text,
       extract(epoch FROM clock_timestamp() - @ENQUEUED_AT@)::float8,
       attempts,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_relay_requeues),
       message_bytes, key_seq
  FROM sized
 WHERE bytes_through - message_bytes < $2
 ORDER BY id)";

// Write-backs are fenced: a row is removed, retried or dead-lettered only if
// its shard is still this relay's at the epoch it holds (a relay paused past
// its lease finds the epoch raised by the next holder). A lease that ran out
// but was not claimed still counts: nobody else has acted on the shard, and
// removing acknowledged rows then saves sending them again. FOR SHARE keeps
// a concurrent claim off the shard until this statement ends (the claim skips
// locked rows), or makes this statement see the claim and touch nothing. @S@, @E@, @O@, @N@: the
// parameters with the held shards, their epochs, the owner and the shard count.
constexpr const char* kFenceCte = R"(fence AS (
  SELECT l.shard FROM outbox_relay_lease l
    JOIN unnest(@S@::int[], @E@::bigint[]) AS h(shard, epoch)
      ON h.shard = l.shard AND h.epoch = l.epoch
   WHERE l.owner = @O@
     FOR SHARE OF l))";

// One array of fenced shards (an InitPlan), so each row's shard is hashed
// once, not once per fence row in a nested-loop join.
constexpr const char* kFencedRow =
    "outbox_relay_shard(o.key, o.id, @N@) = ANY ((SELECT array_agg(shard) FROM fence)::int[])";

constexpr const char* kRemoveSql = R"(
WITH @FENCE@
DELETE FROM outbox o WHERE o.id = ANY($1::bigint[]) AND @FENCED@)";

// relay.on_ack: mark_sent. A row marked once keeps its first record (a
// repeated write-back changes nothing). next_attempt_at goes, so sent rows
// stay out of the retry index.
//
// Each row's partition and offset come from $2, a jsonb object of
// "id": [partition, offset] (a binary search per row), not from a join with
// the ids unnested: with no join, every plan finds the rows by id in an
// index. A join planned while the statistics said the outbox was empty (as
// they do for up to a minute after a burst) compared every pending row with
// every id: 1.2-1.6 s per 1,000 rows with 7,000 pending
// (tests/integration/generic_plan_test.cc).
constexpr const char* kMarkSentSql = R"(
WITH @FENCE@
UPDATE outbox o
   SET sent_at = now(),
       sent_partition = nullif(($2::jsonb -> o.id::text ->> 0)::int, -1),
       sent_offset = nullif(($2::jsonb -> o.id::text ->> 1)::bigint, -1),
       next_attempt_at = NULL
 WHERE o.id = ANY($1::bigint[]) AND o.sent_at IS NULL AND @FENCED@)";

// Moves rows to the dead-letter table in the statement that deletes them.
constexpr const char* kDeadLetterSql = R"(
WITH @FENCE@,
input AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[])
           AS i(id, reason, error, blocks_key)),
moved AS (
  DELETE FROM outbox o USING input i WHERE o.id = i.id AND @FENCED@
  RETURNING o.*, i.reason, i.error, i.blocks_key)
INSERT INTO outbox_dead_letter
  (id, topic, key, payload, headers, created_at, reason, error, attempts,
   first_failed_at, last_failed_at, blocks_key, key_seq)
SELECT id, topic, key, payload, headers, created_at, reason, error, attempts + 1,
       coalesce(first_failed_at, now()), now(), blocks_key, key_seq
  FROM moved
ON CONFLICT (id) DO NOTHING)";

constexpr const char* kRetryLaterSql = R"(
WITH @FENCE@
UPDATE outbox o
   SET attempts = o.attempts + 1,
       last_error = i.error,
       committed_at = @ENQUEUED_AT@,
       first_failed_at = coalesce(o.first_failed_at, now()),
       next_attempt_at = now() + i.delay_ms * interval '1 millisecond'
  FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS i(id, error, delay_ms)
 WHERE o.id = i.id AND @FENCED@)";

// What ReadFloor needs: this statement's snapshot bounds and the lowest id at
// or above the current floor (an index probe that starts at the floor).
constexpr const char* kObserveFloorSql = R"(
SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,
       (SELECT min(id) FROM outbox WHERE id >= $1 AND sent_at IS NULL)
  FROM pg_current_snapshot() s)";

// Whether schema/0003's trigger is there and enabled; without it nothing
// would ever be announced, and the relay polls without complaint.
// Also whether the schema is recent enough for this relay (schema/0007), and
// whether the per-key sequence's trigger is there and enabled.
constexpr const char* kSchemaCheckSql = R"(
SELECT EXISTS (SELECT 1 FROM outbox_relay_schema_migrations WHERE version = 7),
       EXISTS (SELECT 1 FROM pg_trigger
                WHERE tgrelid = 'outbox'::regclass AND tgname = 'outbox_notify'
                  AND tgenabled <> 'D'),
       EXISTS (SELECT 1 FROM pg_trigger
                WHERE tgrelid = 'outbox'::regclass AND tgname = 'outbox_key_seq'
                  AND tgenabled <> 'D'))";

constexpr const char* kCountBlockedKeysSql =
    "SELECT count(DISTINCT key) FROM outbox_dead_letter WHERE blocks_key";

// A write-back statement fenced by the leases in parameters first..first+3.
std::string Fenced(const std::string& sql, int first) {
  std::string fence = kFenceCte;
  fence = ReplaceAll(fence, "@S@", "$" + std::to_string(first));
  fence = ReplaceAll(fence, "@E@", "$" + std::to_string(first + 1));
  fence = ReplaceAll(fence, "@O@", "$" + std::to_string(first + 2));
  const std::string fenced = ReplaceAll(kFencedRow, "@N@", "$" + std::to_string(first + 3));
  return ReplaceAll(ReplaceAll(sql, "@FENCE@", fence), "@FENCED@", fenced);
}

// An error text as stored with a row: bounded and valid UTF-8, so that no
// message (a broker's, or one quoting a row's value) can make the write-back
// fail, which would stop every key.
std::string StoredError(const std::string& error) { return SafeText(ScrubSecrets(error), 4096); }

// MarkSentSql's $2: {"id": [partition, offset], ...}.
std::string SentPositions(const std::vector<Delivered>& delivered) {
  std::string json = "{";
  for (const Delivered& d : delivered) {
    if (json.size() > 1) json += ',';
    json += '"' + std::to_string(d.id) + "\":[" + std::to_string(d.partition) + ',' +
            std::to_string(d.offset) + ']';
  }
  return json + '}';
}

template <typename T, typename Field>
std::string Column(const std::vector<T>& rows, Field field) {
  return ArrayLiteral(rows, [&](const T& row) { return field(row); });
}

}  // namespace

// Notifications on the relay's channel (schema/0003's trigger). Only their
// arrival matters: it ends AwaitNewRows().
class NewRowsListener : public pqxx::notification_receiver {
 public:
  explicit NewRowsListener(pqxx::connection_base& c)
      : pqxx::notification_receiver(c, kNewRowsChannel) {}
  void operator()(const std::string&, int) override {}
};

struct PgOutboxStore::Connection {
  explicit Connection(const std::string& dsn) : pq(dsn), statements(pq, BehindPooler(pq)) {}
  pqxx::connection pq;
  Statements statements;
  // Declared after pq: destroyed (UNLISTEN) before the connection closes.
  std::unique_ptr<NewRowsListener> listener;
};

PgOutboxStore::PgOutboxStore(std::string dsn, LeaseOptions leases,
                             LeaseKeeper::ReportCallback on_leases, StoreOptions options)
    : dsn_(dsn),
      options_(options),
      keeper_(std::move(dsn), std::move(leases), std::move(on_leases)) {}

PgOutboxStore::~PgOutboxStore() = default;

std::unique_ptr<PgOutboxStore::Connection> PgOutboxStore::Open() {
  auto connection = std::make_unique<Connection>(dsn_);
  Statements& statements = connection->statements;
  if (!statements.pooled()) {
    pqxx::nontransaction(connection->pq)
        .exec(std::string(kSessionSettingsSql) +
              // Plans each statement once per session. Every statement
              // here is written so that one plan serves every parameter and
              // table state (the read: an index scan of the pending rows in
              // id order, whatever the backlog; tested by
              // tests/integration/generic_plan_test.cc). Planning the read
              // for each call cost more than running it (1.6 ms against
              // 1.4 ms for 500 rows, measured with outbox-bench explain),
              // and with small batches it was most of the relay's database
              // time.
              "; SET plan_cache_mode = force_generic_plan"
              // Every statement here finds its outbox rows through an index
              // (ids; the pending rows in id order). A plan made while the
              // outbox held a few rows and its statistics said empty (after
              // a drain, or a TRUNCATE) scanned and sorted the whole table,
              // and went on doing so as it grew: the read took 4.5 ms for 4
              // rows once 9,600 sent rows were kept, and the write-back 2 ms
              // for 3 (on_ack: mark_sent, seen with auto_explain). Costs the
              // read nothing measurable with JIT off (outbox-bench explain).
              "; SET enable_seqscan = off"
              // A write-back need not wait for its WAL flush: if the server
              // crashes before the flush, the rows it removed (or marked,
              // or dead-lettered) come back and are sent again, which the
              // at-least-once contract allows; nothing is removed early.
              // Waiting cost the loop an fsync per batch, with the relay
              // idle meanwhile, and the disk one flush per batch next to
              // the writers' own (on this project's 2-core bench machine
              // the gain was within its noise: bench/README.md).
              "; SET synchronous_commit = off");
  }
  statements.Add("remove", RemoveSql());
  statements.Add("mark_sent", MarkSentSql());
  statements.Add("dead_letter", Fenced(kDeadLetterSql, 5));
  statements.Add("retry_later", ReplaceAll(Fenced(kRetryLaterSql, 4), "@ENQUEUED_AT@",
                                           EnqueuedAtSql("o", "o.xmin")));
  statements.Add("observe_floor", kObserveFloorSql);
  return connection;
}

Status PgOutboxStore::EnsureWriteConnected() {
  if (write_connection_ && write_connection_->pq.is_open()) return Status::Ok();
  DropConnection(write_connection_);
  try {
    write_connection_ = Open();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Classify(e, write_connection_);
  }
}

Status PgOutboxStore::EnsureConnected() {
  if (connection_ && connection_->pq.is_open()) return Status::Ok();
  DropConnection(connection_);
  try {
    auto connection = Open();
    Statements& statements = connection->statements;
    if (statements.pooled() != pooled_logged_) {
      if (statements.pooled()) {
        LogWarn(
            "a connection pooler is between the relay and PostgreSQL; the relay keeps no "
            "session state (unnamed statements, no LISTEN: it polls; no statement_timeout: "
            "set the pooler's query_timeout)");
      }
      pooled_logged_ = statements.pooled();
    }
    const pqxx::row schema = pqxx::nontransaction(connection->pq).exec1(kSchemaCheckSql);
    if (!schema[0].as<bool>()) {
      return Status(StatusCode::kFailedPrecondition,
                    "the database schema is older than this relay (schema/0007 is "
                    "not applied): run `outbox-relay migrate`");
    }
    if (options_.per_key_sequence && !schema[2].as<bool>()) {
      return Status(StatusCode::kFailedPrecondition,
                    "relay.per_key_sequence is true but the outbox has no enabled "
                    "outbox_key_seq trigger (schema/options/1002_per_key_sequence.sql): run "
                    "`outbox-relay migrate` with this config");
    }
    const bool trigger = schema[1].as<bool>();
    // Behind a pooler a LISTEN would hold on to one server connection's
    // session that this relay's next statements may never use again.
    const bool listen = trigger && !statements.pooled();
    if (listen) connection->listener = std::make_unique<NewRowsListener>(connection->pq);
    if (listening_logged_ != listen) {
      LogInfo(listen    ? "listening for new rows (notify trigger outbox_notify)"
              : trigger ? "polling for new rows (no LISTEN behind a connection pooler)"
                        : "no notify trigger on the outbox; polling for new rows");
      listening_logged_ = listen;
    }
    connection_ = std::move(connection);
    // The server may have restarted: write-backs it lost (they commit
    // without waiting for the flush) put rows back below the floor.
    floor_.Reset();
    // Leases are taken once the schema is known to have them; the first
    // round runs here, so a lone relay reads at once.
    if (!keeper_.started()) keeper_.Start();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Classify(e, connection_);
  }
}

Status PgOutboxStore::Classify(const std::exception& e, std::unique_ptr<Connection>& connection) {
  const Status status = StatusOfPqxxError(e);
  // Broken connections, commits in doubt and anything unexpected: start
  // from a fresh connection. Every statement here is safe to repeat. (An SQL
  // error the server answered leaves the session usable.)
  if (status.code() == StatusCode::kUnavailable ||
      dynamic_cast<const pqxx::sql_error*>(&e) == nullptr) {
    DropConnection(connection);
  }
  return status;
}

void PgOutboxStore::DropConnection(std::unique_ptr<Connection>& connection) {
  if (connection) LogWarn("lost the database session; reconnecting");
  connection.reset();
}

void PgOutboxStore::ReportDrained(const std::vector<int>& draining, const ReadRequest& request) {
  std::vector<int> drained;
  std::map<int, int64_t> marks;
  for (int shard : draining) {
    // Rows of a draining shard are no longer read, so those in flight have
    // ids up to the highest id read so far. Once the lowest id in flight is
    // above that (or nothing is in flight), they have all been settled.
    const int64_t mark = drain_marks_.count(shard) ? drain_marks_[shard] : highest_id_read_;
    if (request.in_flight.empty() || request.lowest_in_flight() > mark) {
      drained.push_back(shard);
    } else {
      marks[shard] = mark;
    }
  }
  drain_marks_ = std::move(marks);
  if (!drained.empty()) keeper_.Drained(drained);
}

Result<std::vector<OutboxMessage>> PgOutboxStore::ReadBatch(const ReadRequest& request) {
  if (Status s = EnsureConnected(); !s.ok()) return s;
  try {
    const LeaseView leases = keeper_.View();
    ReportDrained(leases.draining, request);
    // Shards acquired while batches are in flight join at once: reads skip
    // only the ids in flight, so no row of theirs is passed over.
    const HeldLeases& held = leases.readable;
    if (held.shards.empty()) {
      // Standing by, unless leases cannot be kept at all (e.g. the role
      // lacks its grants): that is the operator's to see, not an idle relay.
      if (Status kept = keeper_.last_round(); !kept.ok()) return kept;
      return std::vector<OutboxMessage>{};
    }
    MaintainFloor();
    pqxx::result rows;
    {
      pqxx::nontransaction tx(connection_->pq);
      rows = connection_->statements.Exec(
          tx, ReadStatement(request.max_rows), RunsMultirange(request.in_flight), request.max_bytes,
          floor_.floor(), NumberArray(held.shards), NumberArray(held.epochs), keeper_.instance_id(),
          held.shard_count, request.max_message_bytes);
    }
    if (!rows.empty()) {
      // Rows were put back with low ids since the last read: the floor may
      // hide them while showing later rows of their keys. Read again from
      // the lowest id.
      const int64_t requeues = rows[0][7].as<int64_t>();
      const bool requeued = requeues_seen_ && *requeues_seen_ != requeues;
      requeues_seen_ = requeues;
      if (requeued && floor_.floor() > 0) {
        floor_.Reset();
        return ReadBatch(request);
      }
    }
    const auto read_at = SteadyClock::now();
    std::vector<OutboxMessage> batch;
    batch.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      OutboxMessage& m = batch.emplace_back();
      m.id = row[0].as<int64_t>();
      if (m.id < floor_before_reset_) {
        LogWarn("a row was found below the read floor; it was hidden until now",
                {{"id", m.id}, {"floor", floor_before_reset_}});
        floor_before_reset_ = 0;
      }
      m.topic = row[1].as<std::string>();
      if (!row[2].is_null()) m.key = row[2].as<std::string>();
      if (!row[3].is_null()) m.payload = pqxx::binarystring(row[3]).str();
      const int64_t message_bytes = row[8].as<int64_t>();
      if (message_bytes > request.max_message_bytes) {
        m.defect_reason = kMessageTooLarge;
        m.defect = "message of " + std::to_string(message_bytes) +
                   " bytes (key + payload) exceeds message.max.bytes (" +
                   std::to_string(request.max_message_bytes) + ")";
      }
      if (!row[4].is_null()) {
        if (auto defect = ParseRowHeaders(row[4].as<std::string>(), &m.headers)) {
          m.defect_reason = std::move(defect->reason);
          m.defect = std::move(defect->detail);
        }
      }
      m.age_at_read_seconds = row[5].as<double>();
      m.attempts = row[6].as<int>();
      if (options_.per_key_sequence && !row[9].is_null()) m.key_seq = row[9].as<int64_t>();
      m.read_at = read_at;
    }
    if (!batch.empty()) highest_id_read_ = std::max(highest_id_read_, batch.back().id);
    return batch;
  } catch (const std::exception& e) {
    return Classify(e, connection_);
  }
}

std::string PgOutboxStore::RemoveSql() { return Fenced(kRemoveSql, 2); }

std::string PgOutboxStore::MarkSentSql() { return Fenced(kMarkSentSql, 3); }

std::string PgOutboxStore::ReadBatchSql(size_t max_rows) {
  return ReplaceAll(ReplaceAll(kReadBatchSql, "@LIMIT@", std::to_string(max_rows)), "@ENQUEUED_AT@",
                    EnqueuedAtSql("sized", "inserted_by"));
}

std::string PgOutboxStore::ReadStatement(size_t max_rows) {
  const std::string name = "read_batch_" + std::to_string(max_rows);
  if (!connection_->statements.Has(name)) connection_->statements.Add(name, ReadBatchSql(max_rows));
  return name;
}

void PgOutboxStore::MaintainFloor() {
  const auto now = SteadyClock::now();
  if (now - floor_reset_at_ >= kFloorResetInterval) {
    // A safety net for rows put back below the floor without bumping the
    // requeue counter: start from the lowest id again, now and then.
    floor_before_reset_ = floor_.floor();
    floor_.Reset();
    floor_reset_at_ = now;
  }
  if (now - floor_observed_at_ < kFloorObserveInterval) return;
  floor_observed_at_ = now;
  pqxx::nontransaction tx(connection_->pq);
  const pqxx::row seen = connection_->statements.Exec1(tx, "observe_floor", floor_.floor());
  ReadFloor::Observation observation;
  observation.xmin = seen[0].as<int64_t>();
  observation.xmax = seen[1].as<int64_t>();
  if (!seen[2].is_null()) observation.lowest_live = seen[2].as<int64_t>();
  floor_.Observe(observation);
}

bool PgOutboxStore::listening() const { return connection_ && connection_->listener; }

Wakeup PgOutboxStore::AwaitNewRows(std::chrono::milliseconds timeout, const StopSignal& stop) {
  if (!listening()) {
    stop.WaitFor(timeout);
    return Wakeup::kTimedOut;
  }
  // In slices, so that a stop request ends the wait promptly.
  const auto deadline = SteadyClock::now() + timeout;
  try {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0 || stop.requested()) return Wakeup::kTimedOut;
      const auto slice = std::min<std::chrono::microseconds>(left, std::chrono::milliseconds(50));
      // Also serves notifications that arrived during earlier statements.
      if (connection_->pq.await_notification(0, static_cast<long>(slice.count())) > 0) {
        return Wakeup::kNotified;
      }
    }
  } catch (const std::exception& e) {
    // The next statement reconnects; the caller polls meanwhile.
    const Status status = Classify(e, connection_);
    LogWarn("waiting for notifications failed", {{"error", status.message()}});
    return Wakeup::kTimedOut;
  }
}

Status PgOutboxStore::Settle(const Settlement& settlement) {
  if (settlement.empty()) return Status::Ok();
  if (Status s = EnsureWriteConnected(); !s.ok()) return s;
  // The relay's first read took the leases long before its first write-back
  // (on the loop's thread); a store that only writes back takes them here.
  if (!keeper_.started()) keeper_.Start();
  const HeldLeases held = keeper_.Held();
  if (held.shards.empty()) {
    // Every statement below would be fenced out: the rows stay pending, and
    // whoever holds their shards now sends them (again).
    LogInfo("outcomes not written back: this relay holds no shard leases any more");
    return Status::Ok();
  }
  const std::string shards = NumberArray(held.shards), epochs = NumberArray(held.epochs);
  const std::string& owner = keeper_.instance_id();
  try {
    const auto& delivered = settlement.delivered;
    const auto remove = [&](pqxx::transaction_base& tx) -> int64_t {
      const std::string ids =
          Column(delivered, [](const Delivered& d) { return std::to_string(d.id); });
      if (!options_.mark_sent) {
        return write_connection_->statements
            .Exec(tx, "remove", ids, shards, epochs, owner, held.shard_count)
            .affected_rows();
      }
      return write_connection_->statements
          .Exec(tx, "mark_sent", ids, SentPositions(delivered), shards, epochs, owner,
                held.shard_count)
          .affected_rows();
    };
    int64_t removed = 0;
    if (settlement.dead_letters.empty() && settlement.retries.empty()) {
      // The common case is one statement: no BEGIN/COMMIT round trips.
      pqxx::nontransaction tx(write_connection_->pq);
      removed = remove(tx);
    } else {
      pqxx::work tx(write_connection_->pq);
      if (!settlement.delivered.empty()) removed = remove(tx);
      const auto& dead = settlement.dead_letters;
      if (!dead.empty()) {
        write_connection_->statements.Exec(
            tx, "dead_letter",
            Column(dead, [](const DeadLetter& d) { return std::to_string(d.id); }),
            Column(dead, [](const DeadLetter& d) { return QuotedElement(d.reason); }),
            Column(dead, [](const DeadLetter& d) { return QuotedElement(StoredError(d.error)); }),
            Column(dead, [](const DeadLetter& d) { return d.blocks_key ? "t" : "f"; }), shards,
            epochs, owner, held.shard_count);
      }
      const auto& retries = settlement.retries;
      if (!retries.empty()) {
        write_connection_->statements.Exec(
            tx, "retry_later",
            Column(retries, [](const RetryLater& r) { return std::to_string(r.id); }),
            Column(retries,
                   [](const RetryLater& r) { return QuotedElement(StoredError(r.error)); }),
            Column(retries, [](const RetryLater& r) { return std::to_string(r.delay.count()); }),
            shards, epochs, owner, held.shard_count);
      }
      tx.commit();
    }
    const int64_t kept = static_cast<int64_t>(settlement.delivered.size()) - removed;
    if (kept > 0) {
      // Also after a write-back repeated on an unknown outcome (the rows are
      // gone or marked already); usually a lease that moved on: the new holder sends
      // these rows again (duplicates, in order).
      LogInfo(
          "acknowledged rows were not written back: already settled, or their shard's lease "
          "moved "
          "to another relay",
          {{"rows", kept}});
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Classify(e, write_connection_);
  }
}

Result<int64_t> PgOutboxStore::CountBlockedKeys() {
  if (Status s = EnsureConnected(); !s.ok()) return s;
  try {
    pqxx::nontransaction tx(connection_->pq);
    return tx.exec(kCountBlockedKeysSql)[0][0].as<int64_t>();
  } catch (const std::exception& e) {
    return Classify(e, connection_);
  }
}

}  // namespace outbox
