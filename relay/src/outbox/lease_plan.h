// What one round of lease keeping should do, decided from what the lease
// and instance tables say (pure, so the balancing rules are unit-tested).
//
// The live instances, ordered by id, split the shards evenly: each holds
// shards / live, and the first shards % live of them one more. An instance
// below its share claims free shards (never held, released, or whose lease
// ran out); one above it hands its extra shards over: it stops reading them
// (draining), and releases them once nothing read from them is in flight.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace outbox {

// How many of `shards` the instance at `rank` among `live` instances holds.
int FairShare(int shards, int live, int rank);

struct LeasePlan {
  int target = 0;             // this instance's fair share
  int claim = 0;              // free shards to claim now
  std::set<int> start_drain;  // held shards to hand over
  std::set<int> stop_drain;   // draining shards to keep after all
};

// `held`: shards this instance holds (draining ones included); `live_ids`:
// ids of the live instances (this one included).
LeasePlan PlanRound(const std::set<int>& held, const std::set<int>& draining, int shards,
                    const std::vector<std::string>& live_ids, const std::string& self);

}  // namespace outbox
