// How much is waiting, read straight from the database on an interval (not
// from the relay loop, which can be blocked on a broker for seconds).
#pragma once

#include <cstdint>
#include <optional>

#include "common/status.h"

namespace outbox {

struct Backlog {
  // Rows in the outbox. Exact up to `pending_exact_limit`; above it, the
  // planner's live-tuple estimate (pending_is_estimate).
  int64_t pending = 0;
  bool pending_is_estimate = false;
  // Age of the lowest-id row (its commit time if track_commit_timestamp is
  // on, else created_at), by the database clock; nullopt when empty.
  std::optional<double> oldest_pending_age_seconds;
  // Age of the oldest transaction in this database that has written
  // something and is still open: rows it inserted are invisible to the
  // relay until it commits (and it holds back vacuum). nullopt: none, or
  // the relay's role may not see other sessions (grant pg_monitor).
  std::optional<double> oldest_open_transaction_age_seconds;
};

class BacklogSource {
 public:
  virtual ~BacklogSource() = default;
  virtual Result<Backlog> Read() = 0;
};

}  // namespace outbox
