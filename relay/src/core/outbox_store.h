// Where outbox rows are read from and removed once delivered. The core sees
// only this interface; outbox/ implements it with libpqxx.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/message.h"

namespace outbox {

// A row to try again later (a row-specific, retriable failure).
struct RetryLater {
  int64_t id = 0;
  std::string error;
  std::chrono::milliseconds delay{0};
};

// A row to move to the dead-letter table.
struct DeadLetter {
  int64_t id = 0;
  std::string reason;  // bounded code
  std::string error;   // detail
  bool blocks_key = false;
};

// What became of a batch, written back in one transaction.
struct Settlement {
  std::vector<int64_t> delivered;  // removed from the outbox
  std::vector<DeadLetter> dead_letters;
  std::vector<RetryLater> retries;

  bool empty() const { return delivered.empty() && dead_letters.empty() && retries.empty(); }
  void clear() {
    delivered.clear();
    dead_letters.clear();
    retries.clear();
  }
};

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Up to `max_rows` committed rows that are due, lowest id first. Reads
  // never remember a position: every committed row stays visible until
  // removed, so a row whose transaction commits late is read by a later
  // call. Not due: rows waiting for a retry, later rows of the same key
  // (per-key order), and rows of keys blocked by a dead letter.
  virtual Result<std::vector<OutboxMessage>> ReadBatch(size_t max_rows) = 0;

  // Applies a settlement atomically. Safe to repeat after an unknown outcome:
  // rows already removed or moved are ignored.
  virtual Status Settle(const Settlement& settlement) = 0;

  // How many keys a dead letter currently blocks.
  virtual Result<int64_t> CountBlockedKeys() = 0;
};

}  // namespace outbox
