#include "outbox/lease_plan.h"

#include <algorithm>

namespace outbox {

int FairShare(int shards, int live, int rank) {
  if (live <= 0 || rank < 0) return 0;
  return shards / live + (rank < shards % live ? 1 : 0);
}

LeasePlan PlanRound(const std::set<int>& held, const std::set<int>& draining, int shards,
                    const std::vector<std::string>& live_ids, const std::string& self) {
  LeasePlan plan;
  const auto me = std::find(live_ids.begin(), live_ids.end(), self);
  // Not (yet) in the list: count as the last one, so a share is never
  // claimed twice while the list catches up.
  const int live = static_cast<int>(live_ids.size()) + (me == live_ids.end() ? 1 : 0);
  const int rank = static_cast<int>(me - live_ids.begin());
  plan.target = FairShare(shards, live, rank);

  std::vector<int> keeping;  // held and not draining, ascending
  for (int shard : held) {
    if (draining.count(shard) == 0) keeping.push_back(shard);
  }
  int kept = static_cast<int>(keeping.size());
  // Below the share: keep draining shards first (cheaper than a handover),
  // then claim free ones.
  for (int shard : draining) {
    if (kept >= plan.target) break;
    if (held.count(shard) == 0) continue;
    plan.stop_drain.insert(shard);
    ++kept;
  }
  plan.claim = std::max(0, plan.target - kept);
  // Above it: hand over the highest-numbered shards.
  for (auto it = keeping.rbegin(); it != keeping.rend() && kept > plan.target; ++it, --kept) {
    plan.start_drain.insert(*it);
  }
  return plan;
}

}  // namespace outbox
