#include "outbox/pg_outbox_store.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "common/log.h"
#include "outbox/lock_key.h"
#include "outbox/pg_errors.h"

namespace outbox {
namespace {

// Lowest ids first, driven by the primary key, so the cost does not grow
// with the backlog. No cursor: a row committed late by a transaction that
// took its id early is still here and is read by the next call. A row is due
// unless it waits for a retry, an earlier row of its key waits for one
// (per-key order), or a dead letter blocks its key; both probes use small
// partial indexes (schema/0002).
//
// @LIMIT@ rows at most (a literal, one prepared statement per batch size);
// ids in [$1, $2] are in flight and skipped (two index
// range scans, below and above them, so in-flight rows are never visited);
// rows are added while the key + payload bytes before them stay under $3;
// ids below $4 (ReadFloor) are known to be gone and not walked. The last
// column is the requeue counter (schema/0004), read with the rows. A row's
// age counts from its commit when track_commit_timestamp is on, else from
// created_at (the inserting transaction's start).
constexpr const char* kReadBatchSql = R"(
WITH due AS (
  (SELECT o.*, o.xmin AS inserted_by FROM outbox o WHERE o.id < $1 AND o.id >= $4
    AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
    AND NOT EXISTS (SELECT 1 FROM outbox w
                     WHERE w.next_attempt_at > now() AND w.key = o.key AND w.id < o.id)
    AND NOT EXISTS (SELECT 1 FROM outbox_dead_letter d WHERE d.blocks_key AND d.key = o.key)
    ORDER BY o.id LIMIT @LIMIT@)
  UNION ALL
  (SELECT o.*, o.xmin AS inserted_by FROM outbox o WHERE o.id > $2 AND o.id >= $4
    AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
    AND NOT EXISTS (SELECT 1 FROM outbox w
                     WHERE w.next_attempt_at > now() AND w.key = o.key AND w.id < o.id)
    AND NOT EXISTS (SELECT 1 FROM outbox_dead_letter d WHERE d.blocks_key AND d.key = o.key)
    ORDER BY o.id LIMIT @LIMIT@)),
first AS (
  SELECT * FROM due ORDER BY id LIMIT @LIMIT@),
sized AS (
  SELECT f.*, sum(coalesce(octet_length(f.key), 0) + coalesce(octet_length(f.payload), 0))
                OVER (ORDER BY f.id ROWS UNBOUNDED PRECEDING) AS bytes_through
    FROM first f)
SELECT id, topic, key, payload, headers::text,
       extract(epoch FROM clock_timestamp() - coalesce(
         CASE WHEN current_setting('track_commit_timestamp') = 'on'
              THEN pg_xact_commit_timestamp(inserted_by) END, created_at))::float8,
       attempts,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_relay_requeues)
  FROM sized
 WHERE bytes_through - coalesce(octet_length(key), 0) - coalesce(octet_length(payload), 0) < $3
 ORDER BY id)";

constexpr const char* kRemoveSql = "DELETE FROM outbox WHERE id = ANY($1::bigint[])";

// Moves rows to the dead-letter table in the statement that deletes them.
constexpr const char* kDeadLetterSql = R"(
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[])
           AS i(id, reason, error, blocks_key)),
moved AS (
  DELETE FROM outbox o USING input i WHERE o.id = i.id
  RETURNING o.*, i.reason, i.error, i.blocks_key)
INSERT INTO outbox_dead_letter
  (id, topic, key, payload, headers, created_at, reason, error, attempts,
   first_failed_at, last_failed_at, blocks_key)
SELECT id, topic, key, payload, headers, created_at, reason, error, attempts + 1,
       coalesce(first_failed_at, now()), now(), blocks_key
  FROM moved
ON CONFLICT (id) DO NOTHING)";

constexpr const char* kRetryLaterSql = R"(
UPDATE outbox o
   SET attempts = o.attempts + 1,
       last_error = i.error,
       first_failed_at = coalesce(o.first_failed_at, now()),
       next_attempt_at = now() + i.delay_ms * interval '1 millisecond'
  FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS i(id, error, delay_ms)
 WHERE o.id = i.id)";

// What ReadFloor needs: this statement's snapshot bounds and the lowest id at
// or above the current floor (an index probe that starts at the floor).
constexpr const char* kObserveFloorSql = R"(
SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,
       (SELECT min(id) FROM outbox WHERE id >= $1)
  FROM pg_current_snapshot() s)";

// Whether schema/0003's trigger is there and enabled; without it nothing
// would ever be announced, and the relay polls without complaint.
// Also whether the schema is recent enough for this relay (schema/0004).
constexpr const char* kSchemaCheckSql = R"(
SELECT to_regclass('outbox_relay_requeues') IS NOT NULL,
       EXISTS (SELECT 1 FROM pg_trigger
                WHERE tgrelid = 'outbox'::regclass AND tgname = 'outbox_notify'
                  AND tgenabled <> 'D'))";

constexpr const char* kCountBlockedKeysSql =
    "SELECT count(DISTINCT key) FROM outbox_dead_letter WHERE blocks_key";

// Session-level, so it is released the moment the holder's connection ends.
const std::string kTryLockSql =
    "SELECT pg_try_advisory_lock(" + std::to_string(kPublisherLockKey) + ")";

// Parses the `headers` column; returns a defect description or "".
std::string ParseHeaders(const std::string& text,
                         std::vector<std::pair<std::string, std::string>>* headers) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_object()) {
    return "headers must be a JSON object of string values (got a " +
           std::string(parsed.type_name()) + ")";
  }
  for (const auto& [name, value] : parsed.items()) {
    if (!value.is_string()) {
      return "headers must be a JSON object of string values (\"" + name + "\" is a " +
             value.type_name() + ")";
    }
    headers->emplace_back(name, value.get<std::string>());
  }
  return "";
}

// PostgreSQL array literals for the unnest() parameters.
template <typename T, typename Format>
std::string ArrayLiteral(const std::vector<T>& items, Format format) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += format(items[i]);
  }
  out.push_back('}');
  return out;
}

std::string QuotedElement(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
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
  explicit Connection(const std::string& dsn) : pq(dsn) {}
  pqxx::connection pq;
  // Declared after pq: destroyed (UNLISTEN) before the connection closes.
  std::unique_ptr<NewRowsListener> listener;
  std::set<size_t> read_sizes;  // batch sizes with a prepared read
};

PgOutboxStore::PgOutboxStore(std::string dsn, LockCallback on_lock_change)
    : dsn_(std::move(dsn)), on_lock_change_(std::move(on_lock_change)) {}

PgOutboxStore::~PgOutboxStore() = default;

Status PgOutboxStore::EnsureConnected() {
  if (connection_ && connection_->pq.is_open()) return Status::Ok();
  DropConnection();
  try {
    auto connection = std::make_unique<Connection>(dsn_);
    // A statement that hangs (lock wait, lost server) must not wedge the
    // loop; the relay's statements are index lookups that take milliseconds.
    // The server side of keepalives: a session whose relay vanished (a
    // network partition) ends within ~15 s instead of holding the outbox
    // lock for the kernel's two hours. Ignored on Unix sockets.
    pqxx::nontransaction(connection->pq)
        .exec(
            "SET statement_timeout = '30s'; SET lock_timeout = '10s'; "
            // Plans every read for its actual id range: the outbox's
            // statistics are always stale (it fills and empties all day),
            // and a cached generic plan made when it was nearly empty can
            // stay in use while it holds a backlog. Costs ~1 ms of planning
            // per read.
            "SET plan_cache_mode = force_custom_plan; "
            "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
            "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 15000");
    connection->pq.prepare("remove", kRemoveSql);
    connection->pq.prepare("dead_letter", kDeadLetterSql);
    connection->pq.prepare("retry_later", kRetryLaterSql);
    connection->pq.prepare("observe_floor", kObserveFloorSql);
    const pqxx::row schema = pqxx::nontransaction(connection->pq).exec1(kSchemaCheckSql);
    if (!schema[0].as<bool>()) {
      return Status(StatusCode::kFailedPrecondition,
                    "the database schema is older than this relay (no sequence "
                    "outbox_relay_requeues): run `outbox-relay migrate`");
    }
    const bool trigger = schema[1].as<bool>();
    if (trigger) connection->listener = std::make_unique<NewRowsListener>(connection->pq);
    if (listening_logged_ != trigger) {
      LogInfo(trigger ? "listening for new rows (notify trigger outbox_notify)"
                      : "no notify trigger on the outbox; polling for new rows");
      listening_logged_ = trigger;
    }
    connection_ = std::move(connection);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Classify(e);
  }
}

Status PgOutboxStore::Classify(const std::exception& e) {
  std::string message = e.what();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const StatusCode code = ClassifySqlState(sql->sqlstate());
    if (code == StatusCode::kUnavailable) DropConnection();
    return Status(code, "SQLSTATE " + sql->sqlstate() + ": " + message);
  }
  // Broken connections, commits in doubt and anything unexpected: start
  // from a fresh connection. Every statement here is safe to repeat.
  DropConnection();
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return Status(StatusCode::kUnavailable, message);
  }
  return Status(StatusCode::kInternal, message);
}

void PgOutboxStore::DropConnection() {
  connection_.reset();
  if (holds_lock_) {
    holds_lock_ = false;
    lost_session_pid_ = session_pid_;
    LogWarn("lost the database session that held the outbox lock");
    if (on_lock_change_) on_lock_change_(false);
  }
}

bool PgOutboxStore::TryLock() {
  pqxx::nontransaction tx(connection_->pq);
  bool locked = tx.exec(kTryLockSql)[0][0].as<bool>();
  if (!locked && lost_session_pid_ != 0) {
    // The holder may be this relay's own previous session, cut off by the
    // network: the server keeps it (and the lock) until it notices the
    // peer is gone. It is abandoned, so end it and take the lock at once.
    const pqxx::result ended = tx.exec(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = " +
        std::to_string(kPublisherLockKey >> 32) +
        " AND l.objid = " + std::to_string(kPublisherLockKey & 0xffffffff) +
        " AND l.pid = " + std::to_string(lost_session_pid_));
    if (!ended.empty() && ended[0][0].as<bool>()) {
      LogWarn("ended this relay's previous database session, which still held the outbox lock",
              {{"pid", std::to_string(lost_session_pid_)}});
      // Termination is asynchronous; the lock is free once it has exited.
      for (int i = 0; i < 50 && !locked; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        locked = tx.exec(kTryLockSql)[0][0].as<bool>();
      }
    }
    lost_session_pid_ = 0;
  }
  if (!locked) {
    if (!standby_logged_) {
      LogInfo("another relay holds the outbox lock; standing by");
      standby_logged_ = true;
    }
    return false;
  }
  holds_lock_ = true;
  session_pid_ = connection_->pq.backendpid();
  standby_logged_ = false;
  LogInfo("holding the outbox lock; publishing");
  if (on_lock_change_) on_lock_change_(true);
  return true;
}

Result<std::vector<OutboxMessage>> PgOutboxStore::ReadBatch(const ReadRequest& request) {
  if (Status s = EnsureConnected(); !s.ok()) return s;
  try {
    if (!holds_lock_ && !TryLock()) return std::vector<OutboxMessage>{};
    MaintainFloor();
    pqxx::result rows;
    {
      pqxx::nontransaction tx(connection_->pq);
      // Nothing in flight: one range, everything above 0.
      const bool skip = request.skip_to > 0;
      rows =
          tx.exec_prepared(PrepareRead(request.max_rows), skip ? request.skip_from : int64_t{0},
                           skip ? request.skip_to : int64_t{0}, request.max_bytes, floor_.floor());
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
                {{"id", std::to_string(m.id)}, {"floor", std::to_string(floor_before_reset_)}});
        floor_before_reset_ = 0;
      }
      m.topic = row[1].as<std::string>();
      if (!row[2].is_null()) m.key = row[2].as<std::string>();
      if (!row[3].is_null()) m.payload = pqxx::binarystring(row[3]).str();
      if (!row[4].is_null()) {
        m.defect = ParseHeaders(row[4].as<std::string>(), &m.headers);
        if (!m.defect.empty()) m.defect_reason = "invalid_headers";
      }
      m.age_at_read_seconds = row[5].as<double>();
      m.attempts = row[6].as<int>();
      m.read_at = read_at;
    }
    return batch;
  } catch (const std::exception& e) {
    return Classify(e);
  }
}

std::string PgOutboxStore::ReadBatchSql(size_t max_rows) {
  std::string sql = kReadBatchSql;
  const std::string limit = std::to_string(max_rows);
  for (size_t at; (at = sql.find("@LIMIT@")) != std::string::npos;) sql.replace(at, 7, limit);
  return sql;
}

std::string PgOutboxStore::PrepareRead(size_t max_rows) {
  const std::string name = "read_batch_" + std::to_string(max_rows);
  if (connection_->read_sizes.insert(max_rows).second) {
    connection_->pq.prepare(name, ReadBatchSql(max_rows));
  }
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
  const pqxx::row seen = tx.exec_prepared1("observe_floor", floor_.floor());
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
    const Status status = Classify(e);
    LogWarn("waiting for notifications failed", {{"error", status.message()}});
    return Wakeup::kTimedOut;
  }
}

Status PgOutboxStore::Settle(const Settlement& settlement) {
  if (settlement.empty()) return Status::Ok();
  if (Status s = EnsureConnected(); !s.ok()) return s;
  try {
    if (settlement.dead_letters.empty() && settlement.retries.empty()) {
      // The common case is one statement: no BEGIN/COMMIT round trips.
      pqxx::nontransaction tx(connection_->pq);
      tx.exec_prepared("remove",
                       Column(settlement.delivered, [](int64_t id) { return std::to_string(id); }));
      return Status::Ok();
    }
    pqxx::work tx(connection_->pq);
    if (!settlement.delivered.empty()) {
      tx.exec_prepared("remove",
                       Column(settlement.delivered, [](int64_t id) { return std::to_string(id); }));
    }
    const auto& dead = settlement.dead_letters;
    if (!dead.empty()) {
      tx.exec_prepared("dead_letter",
                       Column(dead, [](const DeadLetter& d) { return std::to_string(d.id); }),
                       Column(dead, [](const DeadLetter& d) { return QuotedElement(d.reason); }),
                       Column(dead, [](const DeadLetter& d) { return QuotedElement(d.error); }),
                       Column(dead, [](const DeadLetter& d) { return d.blocks_key ? "t" : "f"; }));
    }
    const auto& retries = settlement.retries;
    if (!retries.empty()) {
      tx.exec_prepared(
          "retry_later", Column(retries, [](const RetryLater& r) { return std::to_string(r.id); }),
          Column(retries, [](const RetryLater& r) { return QuotedElement(r.error); }),
          Column(retries, [](const RetryLater& r) { return std::to_string(r.delay.count()); }));
    }
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Classify(e);
  }
}

Result<int64_t> PgOutboxStore::CountBlockedKeys() {
  if (Status s = EnsureConnected(); !s.ok()) return s;
  try {
    pqxx::nontransaction tx(connection_->pq);
    return tx.exec(kCountBlockedKeysSql)[0][0].as<int64_t>();
  } catch (const std::exception& e) {
    return Classify(e);
  }
}

}  // namespace outbox
