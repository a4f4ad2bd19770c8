#include "fault/writer.h"

#include <pqxx/pqxx>

namespace outbox::fault {

const char* const kFaultSchemaSql = R"(
CREATE TABLE fault_orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                           key text NOT NULL, key_seq int NOT NULL);
CREATE TABLE fault_ledger (outbox_id bigint PRIMARY KEY, key text NOT NULL,
                           key_seq int NOT NULL, payload_md5 text NOT NULL,
                           poison boolean NOT NULL);
CREATE TABLE fault_consumed (partition int NOT NULL, "offset" bigint NOT NULL,
                             outbox_id bigint, key text, key_seq int, payload_md5 text);
)";

namespace {

// Business row, outbox row and ledger row in one statement, one transaction.
constexpr const char* kInsertSql = R"(
WITH business AS (
  INSERT INTO fault_orders (key, key_seq) VALUES ($1, $3::int) RETURNING id),
event AS (
  INSERT INTO outbox (topic, key, payload, headers)
  SELECT 'fault', $1, convert_to($2, 'UTF8'), $4::jsonb FROM business RETURNING id)
INSERT INTO fault_ledger (outbox_id, key, key_seq, payload_md5, poison)
SELECT id, $1, $3::int, md5(convert_to($2, 'UTF8')), $5::boolean FROM event)";

void InsertRow(pqxx::connection& connection, const std::string& key, int seq, bool poison,
               int poison_kind, int oversized_bytes) {
  std::string payload = key + ":" + std::to_string(seq) + ":order";
  std::string headers = "{\"key-seq\": \"" + std::to_string(seq) + "\"}";
  if (poison && poison_kind == 0) payload += std::string(oversized_bytes, 'x');
  if (poison && poison_kind == 1) headers = "{\"key-seq\": " + std::to_string(seq) + "}";
  pqxx::work tx(connection);
  tx.exec_params(kInsertSql, key, payload, std::to_string(seq), headers, poison ? "t" : "f");
  tx.commit();
}

}  // namespace

Writer::Writer(std::string dsn, WriterOptions options, uint64_t seed)
    : dsn_(std::move(dsn)), options_(options), rng_(seed) {}

Writer::~Writer() { Stop(); }

void Writer::Start() {
  stopping_ = false;
  thread_ = std::thread([this] { Work(); });
}

void Writer::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Writer::Work() {
  std::unique_ptr<pqxx::connection> connection;
  const auto period = std::chrono::microseconds(1000000 / options_.rows_per_second);
  auto next = std::chrono::steady_clock::now();
  int64_t row = 0;
  while (!stopping_) {
    std::this_thread::sleep_until(next);
    next += period;
    const std::string key = "key-" + std::to_string(rng_() % options_.keys);
    const int seq = next_seq_++;
    ++row;
    const bool poison = options_.poison_every > 0 && row % options_.poison_every == 0;
    try {
      if (!connection || !connection->is_open())
        connection = std::make_unique<pqxx::connection>(dsn_);
      const int poison_kind = poison ? static_cast<int>(row / options_.poison_every % 2) : 0;
      InsertRow(*connection, key, seq, poison, poison_kind, options_.oversized_bytes);
      ++commits_;
    } catch (const std::exception&) {
      // Outcome unknown or failed: the ledger says which. The seq is never
      // reused, so the per-key order check stays exact.
      ++failed_;
      connection.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void Writer::HoldOpenTransaction(std::chrono::milliseconds hold) {
  pqxx::connection connection(dsn_);
  const int seq = next_seq_++;
  pqxx::work tx(connection);
  tx.exec_params(kInsertSql, "held-key", "held-key:" + std::to_string(seq) + ":order",
                 std::to_string(seq), "{\"key-seq\": \"" + std::to_string(seq) + "\"}", "f");
  std::this_thread::sleep_for(hold);
  tx.commit();
  ++commits_;
}

}  // namespace outbox::fault
