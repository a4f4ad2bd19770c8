// The index-driven queries behind the backlog gauges and `status`, shared so
// that both say the same thing. Internal to outbox/.
#pragma once

#include <pqxx/pqxx>

#include "core/backlog.h"

namespace outbox {

// Up to this many rows are counted exactly (an index-only scan of at most
// this many entries); above it the count is the planner's estimate.
constexpr int64_t kPendingExactLimit = 10000;

Backlog QueryBacklog(pqxx::transaction_base& tx);

// Rows kept as sent (relay.on_ack: mark_sent): exact up to kSentExactLimit
// (an index-only scan of schema/0007's partial index), then an estimate.
constexpr int64_t kSentExactLimit = 100000;
struct SentRows {
  int64_t rows = 0;
  bool is_estimate = false;
};
SentRows CountSentRows(pqxx::transaction_base& tx);

}  // namespace outbox
