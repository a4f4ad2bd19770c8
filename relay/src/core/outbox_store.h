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
#include "common/stop_signal.h"
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

// A row the broker acknowledged, and where it put it (from its delivery
// report; -1 when unknown).
struct Delivered {
  Delivered() = default;
  Delivered(int64_t id, int32_t partition = -1, int64_t offset = -1)  // NOLINT: ids read well
      : id(id), partition(partition), offset(offset) {}
  int64_t id = 0;
  int32_t partition = -1;
  int64_t offset = -1;
};

// What became of a batch, written back in one transaction.
struct Settlement {
  // Removed from the outbox, or marked sent (relay.on_ack: mark_sent).
  std::vector<Delivered> delivered;
  std::vector<DeadLetter> dead_letters;
  std::vector<RetryLater> retries;

  bool empty() const { return delivered.empty() && dead_letters.empty() && retries.empty(); }
  void clear() {
    delivered.clear();
    dead_letters.clear();
    retries.clear();
  }
};

// What to read.
struct ReadRequest {
  size_t max_rows = 0;
  // Stop adding rows once key + payload bytes reach this (at least one row
  // is always read, so a single large row cannot stall the relay).
  int64_t max_bytes = INT64_MAX;
  // A row whose key + payload bytes exceed this comes without its payload,
  // marked as a defect (msg_size_too_large): memory stays bounded by the
  // in-flight limits even for a 1 GB payload.
  int64_t max_message_bytes = INT64_MAX;
  // Ids of the rows in flight, ascending: not read again. Only these: a row
  // between them that was not visible when their batch was read (its
  // transaction committed later) is read, in id order with the rest.
  std::vector<int64_t> in_flight{};

  // The lowest id in flight; 0 when nothing is (ids start at 1).
  int64_t lowest_in_flight() const { return in_flight.empty() ? 0 : in_flight.front(); }
};

// How an idle wait for new rows ended.
enum class Wakeup {
  kNotified,  // the database announced newly committed rows
  kTimedOut,  // nothing announced (or the store cannot listen); poll
};

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Up to `max_rows` committed rows that are due, lowest id first. Reads
  // never remember a position: every committed row stays visible until
  // removed, so a row whose transaction commits late is read by a later
  // call. Not due: rows waiting for a retry, later rows of the same key
  // (per-key order), and rows of keys blocked by a dead letter.
  virtual Result<std::vector<OutboxMessage>> ReadBatch(const ReadRequest& request) = 0;
  Result<std::vector<OutboxMessage>> ReadBatch(size_t max_rows) {
    return ReadBatch(ReadRequest{.max_rows = max_rows});
  }

  // Waits up to `timeout` for the database to announce newly committed rows;
  // returns early (kTimedOut) when `stop` is requested. A store that cannot
  // listen just waits.
  virtual Wakeup AwaitNewRows(std::chrono::milliseconds timeout, const StopSignal& stop) {
    stop.WaitFor(timeout);
    return Wakeup::kTimedOut;
  }

  // Whether AwaitNewRows can be woken by the database (it listens, and the
  // notify trigger exists). Without it the relay only polls.
  virtual bool listening() const { return false; }

  // Applies a settlement atomically. Safe to repeat after an unknown outcome:
  // rows already removed or moved are ignored.
  virtual Status Settle(const Settlement& settlement) = 0;

  // Whether Settle() may run on another thread while the other calls run on
  // the caller's (the store writes back on a session of its own). The relay
  // loop then writes delivered rows back while it reads the next batch.
  virtual bool settles_concurrently() const { return false; }

  // How many keys a dead letter currently blocks.
  virtual Result<int64_t> CountBlockedKeys() = 0;
};

}  // namespace outbox
