// Exponential back-off with jitter, capped, reset on success.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace outbox {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          uint64_t seed = std::random_device{}());

  // The next delay: a random value in [d/2, d] where d doubles per failure
  // from `initial` up to `max`. Jitter keeps several relays from retrying in
  // lockstep.
  std::chrono::milliseconds Next();
  // The delay after `failures` failures (1 = the first), without counting
  // one: for schedules kept elsewhere, such as a row's attempts.
  std::chrono::milliseconds DelayAfter(int failures);
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace outbox
