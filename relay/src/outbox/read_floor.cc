#include "outbox/read_floor.h"

#include <algorithm>

namespace outbox {

void ReadFloor::Observe(const Observation& seen, Clock::time_point now) {
  while (!candidates_.empty() && candidates_.front().xmax <= seen.xmin &&
         now - candidates_.front().seen_at >= kMinAge) {
    // Every transaction that could still add a row below this candidate has
    // ended, and `seen` shows all live rows at or above the floor.
    int64_t raised = candidates_.front().lowest_live;
    if (seen.lowest_live) raised = std::min(raised, *seen.lowest_live);
    floor_ = std::max(floor_, raised);
    candidates_.pop_front();
  }
  if (seen.lowest_live && candidates_.size() < kMaxCandidates) {
    candidates_.push_back({*seen.lowest_live, seen.xmax, now});
  }
}

void ReadFloor::Reset() {
  floor_ = 0;
  candidates_.clear();
}

}  // namespace outbox
