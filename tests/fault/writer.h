// The application under test: each transaction commits a business row, its
// outbox row and an insert-only ledger row (outbox id, key, key_seq, payload
// hash, poison flag). The relay's role cannot touch the ledger, so it stays
// the truth of what was committed; a commit whose outcome is unknown
// resolves itself (only ledger rows count).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>

namespace outbox::fault {

struct WriterOptions {
  int keys = 40;
  int rows_per_second = 400;
  // Every Nth row is poison (alternately oversized and with malformed
  // headers); 0 = none.
  int poison_every = 0;
  int oversized_bytes = 40000;  // above the relay's message.max.bytes in the harness
};

class Writer {
 public:
  Writer(std::string dsn, WriterOptions options, uint64_t seed);
  ~Writer();

  void Start();
  void Stop();  // joins
  // Inserts one row in a transaction held open for `hold`, while the writer
  // keeps committing around it (blocking; its own connection).
  void HoldOpenTransaction(std::chrono::milliseconds hold);

  int64_t commits() const { return commits_; }
  int64_t failed_commits() const { return failed_; }

 private:
  void Work();

  std::string dsn_;
  WriterOptions options_;
  std::mt19937_64 rng_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int> next_seq_{1};  // key_seq shared by all keys: increasing per key too
  std::thread thread_;
};

// The ledger, business and consumed tables, created by the harness owner.
extern const char* const kFaultSchemaSql;

}  // namespace outbox::fault
