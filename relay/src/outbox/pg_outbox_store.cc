#include "outbox/pg_outbox_store.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/log.h"
#include "outbox/pg_errors.h"

namespace outbox {
namespace {

// Lowest ids first; index-driven (primary key), so the cost does not grow
// with the backlog. No cursor: a row committed late by a transaction that
// took its id early is still here and is read by the next call.
constexpr const char* kReadBatchSql = R"(
SELECT id, topic, key, payload, headers::text,
       extract(epoch FROM clock_timestamp() - created_at)::float8
  FROM outbox
 ORDER BY id
 LIMIT $1)";

// Session-level, so it is released the moment the holder's connection ends.
// The key is arbitrary and shared by every relay on this database.
constexpr const char* kTryLockSql = "SELECT pg_try_advisory_lock(7956016237345505073)";

constexpr const char* kRemoveSql = "DELETE FROM outbox WHERE id = ANY($1::bigint[])";

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

std::string IdArray(std::span<const int64_t> ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(ids[i]);
  }
  out.push_back('}');
  return out;
}

}  // namespace

struct PgOutboxStore::Connection {
  explicit Connection(const std::string& dsn) : pq(dsn) {}
  pqxx::connection pq;
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
    pqxx::nontransaction(connection->pq)
        .exec("SET statement_timeout = '30s'; SET lock_timeout = '10s'");
    connection->pq.prepare("read_batch", kReadBatchSql);
    connection->pq.prepare("remove", kRemoveSql);
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
    LogWarn("lost the database session that held the outbox lock");
    if (on_lock_change_) on_lock_change_(false);
  }
}

bool PgOutboxStore::TryLock() {
  pqxx::nontransaction tx(connection_->pq);
  if (!tx.exec(kTryLockSql)[0][0].as<bool>()) {
    if (!standby_logged_) {
      LogInfo("another relay holds the outbox lock; standing by");
      standby_logged_ = true;
    }
    return false;
  }
  holds_lock_ = true;
  standby_logged_ = false;
  LogInfo("holding the outbox lock; publishing");
  if (on_lock_change_) on_lock_change_(true);
  return true;
}

Result<std::vector<OutboxMessage>> PgOutboxStore::ReadBatch(size_t max_rows) {
  if (Status s = EnsureConnected(); !s.ok()) return s;
  try {
    if (!holds_lock_ && !TryLock()) return std::vector<OutboxMessage>{};
    pqxx::nontransaction tx(connection_->pq);
    const pqxx::result rows = tx.exec_prepared("read_batch", static_cast<int64_t>(max_rows));
    const auto read_at = SteadyClock::now();
    std::vector<OutboxMessage> batch;
    batch.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      OutboxMessage& m = batch.emplace_back();
      m.id = row[0].as<int64_t>();
      m.topic = row[1].as<std::string>();
      if (!row[2].is_null()) m.key = row[2].as<std::string>();
      if (!row[3].is_null()) m.payload = pqxx::binarystring(row[3]).str();
      if (!row[4].is_null()) m.defect = ParseHeaders(row[4].as<std::string>(), &m.headers);
      m.age_at_read_seconds = row[5].as<double>();
      m.read_at = read_at;
    }
    return batch;
  } catch (const std::exception& e) {
    return Classify(e);
  }
}

Status PgOutboxStore::Remove(std::span<const int64_t> ids) {
  if (ids.empty()) return Status::Ok();
  if (Status s = EnsureConnected(); !s.ok()) return s;
  try {
    pqxx::nontransaction tx(connection_->pq);
    tx.exec_prepared("remove", IdArray(ids));
    return Status::Ok();
  } catch (const std::exception& e) {
    return Classify(e);
  }
}

}  // namespace outbox
