#include "pg_inbox_store.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "text.h"

namespace outbox::inbox {
namespace {

const char* OutcomeName(RowOutcome outcome) {
  switch (outcome) {
    case RowOutcome::kApplied:
      return "applied";
    case RowOutcome::kHeld:
      return "held";
    case RowOutcome::kDeadLettered:
      return "dead_lettered";
  }
  return "applied";
}

// jsonb holds only NUL-free UTF-8: anything else is kept as {"hex": ...}.
nlohmann::json TextOrHex(const std::string& bytes) {
  if (IsStorableText(bytes)) return bytes;
  return nlohmann::json{{"hex", ToHex(bytes)}};
}

std::string FromTextOrHex(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  return FromHex(value.at("hex").get<std::string>());
}

std::string HeadersJson(const Headers& headers) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& [name, value] : headers) array.push_back({TextOrHex(name), TextOrHex(value)});
  return array.dump();
}

Headers HeadersFromJson(const std::string& text) {
  Headers headers;
  for (const nlohmann::json& pair : nlohmann::json::parse(text)) {
    headers.emplace_back(FromTextOrHex(pair.at(0)), FromTextOrHex(pair.at(1)));
  }
  return headers;
}

// A nullable parameter (libpqxx 6 takes a null const char* as NULL).
class Nullable {
 public:
  explicit Nullable(std::optional<std::string> text) : text_(std::move(text)) {}
  const char* get() const { return text_ ? text_->c_str() : nullptr; }

 private:
  std::optional<std::string> text_;
};

// NULL, or the bytes as hex for decode($n, 'hex').
Nullable Hex(const std::optional<std::string>& bytes) {
  return Nullable(bytes ? std::optional<std::string>(ToHex(*bytes)) : std::nullopt);
}

std::optional<std::string> OptionalBytes(const pqxx::field& hex) {
  if (hex.is_null()) return std::nullopt;
  return FromHex(hex.c_str());
}

// A text column must hold valid UTF-8: a handler's message need not be.
std::string StorableText(std::string_view text) {
  return IsStorableText(text) ? std::string(text) : Printable(text, 4096);
}

// The inbox's statements, prepared once per connection (parsed and planned
// once, not per message).
const std::pair<const char*, const char*> kStatements[] = {
    {"inbox_record",
     "INSERT INTO inbox (consumer, outbox_id, topic, \"partition\", \"offset\", "
     "outcome) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"},
    {"inbox_set_outcome", "UPDATE inbox SET outcome = $3 WHERE consumer = $1 AND outbox_id = $2"},
    {"inbox_lock_last_seq",
     "SELECT last_seq FROM inbox_key_seq WHERE consumer = $1 AND key = decode($2, 'hex') "
     "FOR UPDATE"},
    {"inbox_set_last_seq",
     "INSERT INTO inbox_key_seq AS s (consumer, key, last_seq) "
     "VALUES ($1, decode($2, 'hex'), $3) ON CONFLICT (consumer, key) "
     "DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = now()"},
    {"inbox_hold",
     "INSERT INTO inbox_held (consumer, key, seq, outbox_id, topic, "
     "\"partition\", \"offset\", payload, headers) VALUES ($1, decode($2, "
     "'hex'), $3, $4, $5, $6, $7, decode($8, 'hex'), $9::jsonb) "
     "ON CONFLICT DO NOTHING"},
    {"inbox_take_held",
     "DELETE FROM inbox_held WHERE consumer = $1 AND key = decode($2, 'hex') AND seq = $3 "
     "RETURNING outbox_id, topic, \"partition\", \"offset\", encode(payload, 'hex'), "
     "headers::text"},
    {"inbox_dead_letter",
     "INSERT INTO inbox_dead_letter (consumer, topic, \"partition\", \"offset\", outbox_id, "
     "key, payload, headers, reason, error, attempts) VALUES ($1, $2, $3, $4, $5, "
     "decode($6, 'hex'), decode($7, 'hex'), $8::jsonb, $9, $10, $11) "
     "ON CONFLICT DO NOTHING"},
};

const char* SqlOf(std::string_view name) {
  for (const auto& [statement, sql] : kStatements) {
    if (name == statement) return sql;
  }
  throw std::logic_error("no inbox statement " + std::string(name));
}

bool TransientSqlState(const std::string& sqlstate) { return sqlstate.rfind("40", 0) == 0; }

// Runs an inbox statement; the connection's loss or a refusal becomes
// StoreUnavailable (the transaction is lost either way). `broken` tells
// the next Begin() to connect again: the connection cannot go here, while a
// pqxx::work may still refer to it.
template <typename Body>
auto Guarded(bool* broken, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const pqxx::broken_connection& e) {
    *broken = true;
    throw StoreUnavailable(std::string("lost the database: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    *broken = true;
    throw StoreUnavailable(std::string("commit in doubt: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    throw StoreUnavailable("SQLSTATE " + e.sqlstate() + ": " + e.what());
  } catch (const pqxx::failure& e) {
    *broken = true;
    throw StoreUnavailable(e.what());
  } catch (const pqxx::usage_error& e) {
    // The handler aborted the inbox's transaction itself (a commit passes:
    // libpqxx ignores the second one). Counted as the handler's failure.
    *broken = true;
    throw HandlerFailed(std::string("the handler ended the inbox's transaction: ") + e.what(),
                        false);
  }
}

}  // namespace

class PgInboxStore::Transaction : public InboxTransaction {
 public:
  Transaction(PgInboxStore& store, pqxx::connection& connection) : store_(store), tx_(connection) {}

  // A prepared statement, or behind a transaction pooler the same text with
  // its parameters (a pooler's server sessions do not keep what was prepared).
  template <typename... Args>
  pqxx::result Exec(const char* statement, Args&&... args) {
    if (store_.prepare_) return tx_.exec_prepared(statement, std::forward<Args>(args)...);
    return tx_.exec_params(SqlOf(statement), std::forward<Args>(args)...);
  }

  // Plain SAVEPOINT statements, not pqxx::subtransaction: libpqxx 6 sends a
  // subtransaction's parameterized statements before its SAVEPOINT (it
  // opens the savepoint lazily, on the first plain exec), so a rollback
  // would have kept them (seen in this library's batch test). A kept
  // savepoint is not released: ROLLBACK TO goes to the newest of the name,
  // and a RELEASE would cost a round trip for nothing (a released
  // subtransaction still counts towards the 64 PostgreSQL caches per
  // transaction, see Options::max_batch).
  void BeginMessage() override {
    Guarded(&store_.broken_, [&] { tx_.exec("SAVEPOINT inbox_message"); });
  }

  void EndMessage(bool keep) override {
    if (keep) return;
    Guarded(&store_.broken_, [&] { tx_.exec("ROLLBACK TO SAVEPOINT inbox_message"); });
  }

  bool Record(const Message& m, RowOutcome outcome) override {
    return Guarded(&store_.broken_, [&] {
      return Exec("inbox_record", store_.consumer_, m.outbox_id, m.topic, m.partition, m.offset,
                  OutcomeName(outcome))
                 .affected_rows() == 1;
    });
  }

  void SetOutcome(int64_t outbox_id, RowOutcome outcome) override {
    Guarded(&store_.broken_,
            [&] { Exec("inbox_set_outcome", store_.consumer_, outbox_id, OutcomeName(outcome)); });
  }

  std::optional<int64_t> LockLastSeq(const std::string& key) override {
    return Guarded(&store_.broken_, [&]() -> std::optional<int64_t> {
      pqxx::result r = Exec("inbox_lock_last_seq", store_.consumer_, ToHex(key));
      if (r.empty()) return std::nullopt;
      return r[0][0].as<int64_t>();
    });
  }

  void SetLastSeq(const std::string& key, int64_t seq) override {
    Guarded(&store_.broken_,
            [&] { Exec("inbox_set_last_seq", store_.consumer_, ToHex(key), seq); });
  }

  bool Hold(const Message& m) override {
    return Guarded(&store_.broken_, [&] {
      return Exec("inbox_hold", store_.consumer_, ToHex(*m.key), *m.outbox_seq, m.outbox_id,
                  m.topic, m.partition, m.offset, Hex(m.payload).get(), HeadersJson(m.headers))
                 .affected_rows() == 1;
    });
  }

  std::optional<Message> TakeHeld(const std::string& key, int64_t seq) override {
    return Guarded(&store_.broken_, [&]() -> std::optional<Message> {
      pqxx::result r = Exec("inbox_take_held", store_.consumer_, ToHex(key), seq);
      if (r.empty()) return std::nullopt;
      Message m;
      m.key = key;
      m.outbox_seq = seq;
      m.outbox_id = r[0][0].as<int64_t>();
      m.topic = r[0][1].as<std::string>();
      m.partition = r[0][2].as<int32_t>();
      m.offset = r[0][3].as<int64_t>();
      m.payload = OptionalBytes(r[0][4]);
      m.headers = HeadersFromJson(r[0][5].as<std::string>());
      return m;
    });
  }

  void DeadLetter(const Message& m, std::optional<int64_t> outbox_id, std::string_view reason,
                  std::string_view error, int attempts) override {
    Nullable id(outbox_id ? std::optional<std::string>(std::to_string(*outbox_id)) : std::nullopt);
    Nullable key = Hex(m.key), payload = Hex(m.payload);
    Guarded(&store_.broken_, [&] {
      Exec("inbox_dead_letter", store_.consumer_, m.topic, m.partition, m.offset, id.get(),
           key.get(), payload.get(), HeadersJson(m.headers), std::string(reason),
           StorableText(error), attempts);
    });
  }

  void Apply(const Message& m) override {
    try {
      store_.handler_(tx_, m);
    } catch (const pqxx::broken_connection& e) {
      store_.broken_ = true;
      throw StoreUnavailable(std::string("lost the database in the handler: ") + e.what());
    } catch (const pqxx::sql_error& e) {
      throw HandlerFailed("SQLSTATE " + e.sqlstate() + ": " + e.what(),
                          TransientSqlState(e.sqlstate()));
    } catch (const std::exception& e) {
      throw HandlerFailed(e.what(), false);
    } catch (...) {
      throw HandlerFailed("the handler threw something that is not a std::exception", false);
    }
  }

  void Commit() override {
    Guarded(&store_.broken_, [&] { tx_.commit(); });
  }

 private:
  PgInboxStore& store_;
  pqxx::work tx_;
};

PgInboxStore::PgInboxStore(std::string dsn, std::string consumer, Handler handler, bool prepare)
    : dsn_(std::move(dsn)),
      consumer_(std::move(consumer)),
      handler_(std::move(handler)),
      prepare_(prepare) {}

PgInboxStore::~PgInboxStore() = default;

pqxx::connection& PgInboxStore::Connection() {
  if (broken_ || connection_ == nullptr || !connection_->is_open()) {
    connection_.reset();
    broken_ = false;
    Guarded(&broken_, [&] {
      auto connection = std::make_unique<pqxx::connection>(dsn_);
      if (prepare_) {
        for (const auto& [name, sql] : kStatements) connection->prepare(name, sql);
      }
      connection_ = std::move(connection);
    });
  }
  return *connection_;
}

std::unique_ptr<InboxTransaction> PgInboxStore::Begin() {
  pqxx::connection& connection = Connection();
  return Guarded(&broken_, [&] { return std::make_unique<Transaction>(*this, connection); });
}

int64_t PgInboxStore::RemoveOlderThan(std::chrono::seconds age, int batch) {
  pqxx::connection& connection = Connection();
  return Guarded(&broken_, [&] {
    pqxx::work tx(connection);
    pqxx::result r = tx.exec_params(
        "DELETE FROM inbox WHERE ctid = ANY(ARRAY("
        "SELECT ctid FROM inbox WHERE consumer = $1 AND outcome <> 'held' "
        "AND received_at < now() - make_interval(secs => $2) ORDER BY received_at LIMIT $3))",
        consumer_, static_cast<int64_t>(age.count()), batch);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

}  // namespace outbox::inbox
