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

}  // namespace outbox
