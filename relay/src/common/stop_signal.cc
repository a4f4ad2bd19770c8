#include "common/stop_signal.h"

namespace outbox {

void StopSignal::Request() {
  {
    std::lock_guard lock(mutex_);
    if (!requested_at_) requested_at_ = Clock::now();
  }
  changed_.notify_all();
}

bool StopSignal::requested() const {
  std::lock_guard lock(mutex_);
  return requested_at_.has_value();
}

std::optional<StopSignal::Clock::time_point> StopSignal::requested_at() const {
  std::lock_guard lock(mutex_);
  return requested_at_;
}

bool StopSignal::WaitFor(Clock::duration timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return requested_at_.has_value(); });
}

}  // namespace outbox
