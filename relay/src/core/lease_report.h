// What one round of shard lease keeping came to (outbox/lease_keeper), for
// the metrics.
#pragma once

#include <cstdint>
#include <map>

namespace outbox {

struct LeaseReport {
  int shard_count = 0;
  int owned = 0;
  int live_instances = 0;
  std::map<int, int64_t> epochs;  // held shard -> its lease epoch
  int acquired = 0;               // in this round
  int released = 0;
  int lost = 0;
};

}  // namespace outbox
