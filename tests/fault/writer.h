// The application under test, written the way applications write: several
// connections commit transactions concurrently on the same keys. Each
// transaction updates the key's business row (an account: its `seq` goes up
// by one, which serialises the writers of a key, as updating one aggregate
// does), then inserts the outbox row carrying that seq and an insert-only
// ledger row (outbox id, key, key_seq, payload hash, expected fate). Some
// transactions take their outbox id and commit late, some run long while
// holding their key, some roll back (their seq is rolled back too, so each
// key's committed seqs stay gapless in commit order). The relay's role
// cannot touch the ledger, so it stays the truth of what was committed; a
// commit whose outcome is unknown resolves itself (only ledger rows count).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace outbox::fault {

struct WriterOptions {
  int keys = 40;
  int rows_per_second = 400;  // offered, over all connections
  int connections = 4;
  // A quarter of the transactions go to this many hot keys (0 = none).
  int hot_keys = 3;
  // Every Nth transaction of a connection rolls back after its insert; every
  // Mth holds its key for long_transaction_ms before it commits (0 = none).
  int rollback_every = 20;
  int long_transaction_every = 50;
  int long_transaction_ms = 300;
  // Every Nth row is poison on a healthy key (alternately oversized and with
  // malformed headers); 0 = none. Only for policies that let its key go on.
  int poison_every = 0;
  int oversized_bytes = 40000;  // above the relay's message.max.bytes in the harness
  // Every Nth row is a hostile row (HostileRows(): extreme values in every
  // column, on keys of their own); 0 = none.
  int hostile_every = 0;
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
  int64_t rollbacks() const { return rollbacks_; }

 private:
  void Work(int connection_index);

  std::string dsn_;
  WriterOptions options_;
  uint64_t seed_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> rollbacks_{0};
  std::atomic<int64_t> rows_{0};  // rows attempted, over all connections
  std::vector<std::thread> threads_;
};

// The ledger, account and consumed tables, created by the harness owner.
extern const char* const kFaultSchemaSql;

}  // namespace outbox::fault
