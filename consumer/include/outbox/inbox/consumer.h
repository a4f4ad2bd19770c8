// outbox::inbox: applies each message of the relay's topics to the
// consumer's PostgreSQL database exactly once.
//
// For every message: one transaction records (consumer name, outbox-id) in
// the inbox, checks the key's outbox-seq, runs the handler, and commits. The
// Kafka offset is committed only after that. A crash anywhere redelivers,
// and the inbox drops the repeat.
//
//   outbox::inbox::ApplySchema(dsn);
//   outbox::inbox::Consumer consumer(options, [](pqxx::work& tx, const Message& m) {
//     tx.exec_params("UPDATE ...", ...);  // the business change, in the inbox's transaction
//   });
//   consumer.Run();  // until Stop() (from another thread or a signal handler's thread)
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "outbox/inbox/message.h"
#include "outbox/inbox/options.h"

namespace pqxx {
class transaction_base;
}

namespace outbox::inbox {

// The application's change for one message, inside the inbox's transaction
// (a pqxx::work). Throw to refuse it: the transaction rolls back and the
// message is retried per Options::max_attempts. Do not commit or abort the
// transaction yourself: a commit is ignored (the inbox's own one commits),
// an abort counts as a failure. An exception from the hooks is logged.
using Handler = std::function<void(pqxx::transaction_base& tx, const Message& message)>;

// Creates or upgrades the inbox tables (schema/inbox/*.sql, embedded) in the
// database at `dsn`. Concurrent callers apply each file once. Throws
// std::runtime_error naming the file on failure.
void ApplySchema(const std::string& dsn);

// Counts since the consumer was made (the metrics hold the same).
struct Stats {
  int64_t applied = 0;
  int64_t duplicates = 0;
  int64_t held = 0;
  int64_t dead_lettered = 0;
  int64_t gaps = 0;
  int64_t reorders = 0;
  int64_t handler_errors = 0;
};

class Consumer {
 public:
  // Throws std::invalid_argument for a missing or contradictory option.
  Consumer(Options options, Handler handler);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Reads, applies and commits until Stop(). The message in hand is finished
  // (or left for redelivery, if its database is gone), offsets are committed
  // and the group is left before it returns. Throws std::runtime_error when
  // Kafka reports a fatal error.
  void Run();
  // Safe from any thread, and from a signal handler.
  void Stop();

  Stats stats() const;
  const std::shared_ptr<prometheus::Registry>& registry() const;

 private:
  struct Parts;
  // Options::max_batch > 1: `first` and what is fetched after it, in one
  // transaction.
  void ProcessBatch(Message first);

  std::unique_ptr<Parts> parts_;
  std::atomic<bool> stopping_{false};
};

}  // namespace outbox::inbox
