// A stop request shared between the signal thread and the relay loop, with an
// interruptible sleep so back-off waits end as soon as shutdown starts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace outbox {

class StopSignal {
 public:
  using Clock = std::chrono::steady_clock;

  // Any thread. Idempotent: the first call's time is kept.
  void Request();
  bool requested() const;
  std::optional<Clock::time_point> requested_at() const;

  // Sleeps up to `timeout`; returns true if stop was requested (before or
  // during the wait).
  bool WaitFor(Clock::duration timeout) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::optional<Clock::time_point> requested_at_;
};

}  // namespace outbox
