// Removes what the outbox keeps only for a while, on its own thread and
// database session, so that cleaning up never holds up delivery:
//   - sent rows older than relay.sent_retention: by dropping whole daily
//     partitions of a partitioned outbox (schema/options/1001), else in
//     bounded batches of short transactions;
//   - dead letters older than relay.dead_letter_retention, except those that
//     block their key (only an operator may unblock a key);
// and keeps relay.partitions_ahead days of partitions ready. With several
// relays, one at a time does it (a transaction-level advisory lock per step).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "core/retention_report.h"

namespace outbox {

struct RetentionOptions {
  std::chrono::seconds sent_retention{0};         // 0 = keep forever
  std::chrono::seconds dead_letter_retention{0};  // 0 = keep until purged
  int partitions_ahead = 3;
  // Rows per DELETE: each batch is its own short transaction.
  int batch_rows = 5000;
  // Between rounds (a round works until nothing expired is left).
  std::chrono::milliseconds interval{10000};
};

class RetentionKeeper {
 public:
  using ReportCallback = std::function<void(const RetentionReport&)>;
  RetentionKeeper(std::string dsn, RetentionOptions options, ReportCallback on_report);
  ~RetentionKeeper();  // stops and joins

  // Runs a round now and then every `interval` on the keeper's thread.
  void Start();
  // One round in the caller's thread (tests use it directly).
  Result<RetentionReport> RunRound();

 private:
  void Work();
  // Deletes in batches from `table` while `where` matches; rows removed.
  int64_t DeleteInBatches(const std::string& table, const std::string& where);
  bool stopping();

  struct Session;  // the keeper's connection (libpqxx stays in the .cc)
  std::string dsn_;
  RetentionOptions options_;
  ReportCallback on_report_;
  std::unique_ptr<Session> session_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace outbox
