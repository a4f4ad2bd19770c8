#include "core/backoff.h"

#include <algorithm>

namespace outbox {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, uint64_t seed)
    : initial_(initial), max_(std::max(initial, max)), rng_(seed) {}

std::chrono::milliseconds Backoff::Next() { return DelayAfter(++failures_); }

std::chrono::milliseconds Backoff::DelayAfter(int failures) {
  const int doublings = std::clamp(failures - 1, 0, 30);
  const int64_t ceiling =
      std::min<int64_t>(max_.count(), initial_.count() * (int64_t{1} << doublings));
  std::uniform_int_distribution<int64_t> pick(ceiling / 2, ceiling);
  return std::chrono::milliseconds(pick(rng_));
}

}  // namespace outbox
