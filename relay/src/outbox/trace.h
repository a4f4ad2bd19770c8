// `outbox-relay trace`: where a row is, from the database's own records.
// One connection per call; libpqxx stays in trace.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace outbox {

enum class RowState {
  kPending,       // in the outbox, not yet acknowledged
  kSent,          // in the outbox, marked sent (relay.on_ack: mark_sent)
  kDeadLettered,  // in outbox_dead_letter
  kGone,          // in neither: removed after delivery, purged, or never committed
  kNotYet,        // above every id handed out so far
};
const char* RowStateName(RowState state);

struct TracedRow {
  int64_t id = 0;
  RowState state = RowState::kGone;
  // Unset for kGone and kNotYet.
  std::string topic;
  std::optional<std::string> key;
  std::optional<int64_t> key_seq;
  std::string created_at;  // ISO 8601, UTC
  int attempts = 0;
  // kPending
  std::optional<std::string> last_error;
  std::optional<double> next_attempt_in_seconds;  // > 0: waiting for a retry
  // kSent
  std::string sent_at;
  std::optional<int32_t> partition;
  std::optional<int64_t> offset;
  // kDeadLettered
  std::string reason;
  std::string error;
  std::string dead_lettered_at;
  bool blocks_key = false;
  // kGone / kNotYet: the highest id handed out so far (unknown when the
  // role may not read the outbox's id sequence).
  std::optional<int64_t> highest_id;
};

// The row with this id, in whatever state it is.
Result<TracedRow> TraceId(const std::string& dsn, int64_t id);
// The last `limit` rows of this key (highest ids first) in the outbox and
// the dead letters. Scans the outbox unless it has an index on
// hashtextextended(key, 0) (see docs/sent-trail.md).
Result<std::vector<TracedRow>> TraceKey(const std::string& dsn, const std::string& key, int limit);

}  // namespace outbox
