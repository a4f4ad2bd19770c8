#include "fault/writer.h"

#include <pqxx/pqxx>
#include <random>

#include "fault/hostile_rows.h"

namespace outbox::fault {

const char* const kFaultSchemaSql = R"(
CREATE TABLE fault_accounts (key_md5 text PRIMARY KEY, seq int NOT NULL DEFAULT 0);
CREATE TABLE fault_ledger (outbox_id bigint PRIMARY KEY, key text, key_seq int NOT NULL,
                           payload_md5 text NOT NULL, poison boolean NOT NULL,
                           written_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE fault_consumed (partition int NOT NULL, "offset" bigint NOT NULL,
                             outbox_id bigint, key text, key_seq int, payload_md5 text,
                             received_at timestamptz NOT NULL);
)";

namespace {

// The business change: the key's account row, locked until commit. Its new
// seq is the outbox row's key_seq (gapless per key in commit order). Found
// by the key's hash, so hostile 100 kB keys have an account too.
constexpr const char* kUpdateAccountSql = R"(
INSERT INTO fault_accounts AS a (key_md5, seq) VALUES (md5($1), 1)
ON CONFLICT (key_md5) DO UPDATE SET seq = a.seq + 1 RETURNING seq)";

// The outbox row and its ledger row, in the business change's transaction.
// The payload comes as hex, so any bytes can be written.
constexpr const char* kInsertEventSql = R"(
WITH event AS (
  INSERT INTO outbox (topic, key, payload, headers)
  VALUES ($1, $2, decode($3, 'hex'), $4::jsonb) RETURNING id)
INSERT INTO fault_ledger (outbox_id, key, key_seq, payload_md5, poison)
SELECT id, $2, $5::int, md5(decode($3, 'hex')), $6::boolean FROM event)";

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(digits[c >> 4]);
    hex.push_back(digits[c & 15]);
  }
  return hex;
}

std::string SeqHeaders(int seq) { return "{\"key-seq\": \"" + std::to_string(seq) + "\"}"; }

// The payload of a healthy row: its key and seq, readable in the topic.
std::string HealthyPayload(const std::string& key, int seq) {
  return key + ":" + std::to_string(seq) + ":order";
}

}  // namespace

Writer::Writer(std::string dsn, WriterOptions options, uint64_t seed)
    : dsn_(std::move(dsn)), options_(options), seed_(seed) {}

Writer::~Writer() { Stop(); }

void Writer::Start() {
  stopping_ = false;
  for (int i = 0; i < options_.connections; ++i) threads_.emplace_back([this, i] { Work(i); });
}

void Writer::Stop() {
  stopping_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Writer::Work(int connection_index) {
  std::mt19937_64 rng(seed_ * 31 + connection_index);
  std::unique_ptr<pqxx::connection> connection;
  const int per_connection = std::max(1, options_.rows_per_second / options_.connections);
  const auto period = std::chrono::microseconds(1000000 / per_connection);
  auto next = std::chrono::steady_clock::now();
  int64_t transactions = 0;
  while (!stopping_) {
    std::this_thread::sleep_until(next);
    next += period;
    ++transactions;
    const int64_t row = ++rows_;
    const bool hot = options_.hot_keys > 0 && rng() % 4 == 0;
    std::string key =
        "key-" + std::to_string(hot ? rng() % options_.hot_keys : rng() % options_.keys);
    std::string topic = "fault";
    std::string payload;
    std::optional<std::string> headers;
    bool poison = false;
    std::optional<HostileRow> hostile;
    if (options_.hostile_every > 0 && row % options_.hostile_every == 0) {
      hostile = MakeHostileRow(row / options_.hostile_every);
      key = hostile->key.value_or("");
    } else if (options_.poison_every > 0 && row % options_.poison_every == 0) {
      poison = true;
    }
    const bool roll_back =
        options_.rollback_every > 0 && transactions % options_.rollback_every == 0;
    const bool long_one =
        options_.long_transaction_every > 0 && transactions % options_.long_transaction_every == 0;
    try {
      if (!connection || !connection->is_open()) {
        connection = std::make_unique<pqxx::connection>(dsn_);
      }
      pqxx::work tx(*connection);
      int seq = 0;
      if (!hostile || hostile->key) {
        seq = tx.exec_params1(kUpdateAccountSql, key)[0].as<int>();
      } else {
        seq = static_cast<int>(row);  // keyless: no order to keep
      }
      if (long_one)
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.long_transaction_ms));
      if (hostile) {
        topic = hostile->topic;
        payload = hostile->payload;
        headers = hostile->headers.value_or(SeqHeaders(seq));
        poison = hostile->dead_letter;
      } else {
        payload = HealthyPayload(key, seq);
        headers = SeqHeaders(seq);
        if (poison && row / options_.poison_every % 2 == 0) {
          payload += std::string(options_.oversized_bytes, 'x');
        } else if (poison) {
          headers = "{\"key-seq\": " + std::to_string(seq) + "}";
        }
      }
      const std::optional<std::string> key_param =
          hostile && !hostile->key ? std::nullopt : std::optional<std::string>(key);
      tx.exec_params(kInsertEventSql, topic, key_param, Hex(payload), headers, std::to_string(seq),
                     poison ? "t" : "f");
      // The id is taken; the commit comes a moment later (an application's
      // round trip, or more), while later writers of this key wait for it.
      if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
      if (roll_back) {
        tx.abort();
        ++rollbacks_;
      } else {
        tx.commit();
        ++commits_;
      }
    } catch (const std::exception&) {
      // Outcome unknown or failed: the ledger says which, and a seq rolled
      // back with its transaction leaves no hole.
      ++failed_;
      connection.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void Writer::HoldOpenTransaction(std::chrono::milliseconds hold) {
  pqxx::connection connection(dsn_);
  pqxx::work tx(connection);
  const std::string key = "held-key";
  const int seq = tx.exec_params1(kUpdateAccountSql, key)[0].as<int>();
  tx.exec_params(kInsertEventSql, "fault", key, Hex(HealthyPayload(key, seq)), SeqHeaders(seq),
                 std::to_string(seq), "f");
  std::this_thread::sleep_for(hold);
  tx.commit();
  ++commits_;
}

}  // namespace outbox::fault
