// What one round of retention (outbox/retention_keeper) came to, for the
// metrics.
#pragma once

#include <cstdint>
#include <optional>

namespace outbox {

struct RetentionReport {
  // Sent rows kept in the outbox (relay.on_ack: mark_sent). Exact up to
  // 100,000, an estimate above.
  int64_t sent_rows = 0;
  bool sent_rows_is_estimate = false;
  // Removed in this round.
  int64_t sent_rows_removed = 0;
  int64_t dead_letters_removed = 0;
  int64_t partitions_dropped = 0;
  int64_t partitions_created = 0;
  // Partitioned outbox only: days of partitions ready beyond today.
  std::optional<int> partitions_ahead;
};

}  // namespace outbox
