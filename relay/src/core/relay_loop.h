// The relay loop: read a batch of committed rows, publish it, remove exactly
// the rows the broker acknowledged. No I/O types here: the store and the sink
// are interfaces, so every failure path is unit-testable with fakes.
//
// Threading: Run()/RunOnce() on one thread; the StopSignal may be requested
// from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/stop_signal.h"
#include "core/backoff.h"
#include "core/observer.h"
#include "core/outbox_store.h"
#include "core/sink.h"

namespace outbox {

struct RelayLoopOptions {
  size_t batch_size = 500;
  // Sleep when the outbox is empty.
  std::chrono::milliseconds poll_interval{200};
  // Longest wait for a batch's delivery reports in normal operation. Must
  // exceed the producer's message.timeout.ms so that librdkafka always
  // reports first; it is the last line of defence against a wedged sink.
  std::chrono::milliseconds publish_timeout{40000};
  // After stop is requested: how long outstanding reports are awaited.
  std::chrono::milliseconds drain_timeout{10000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30000};
};

class RelayLoop {
 public:
  RelayLoop(OutboxStore& store, Sink& sink, const StopSignal& stop, RelayObserver& observer,
            RelayLoopOptions options);

  // Runs until stop is requested, then drains: outstanding acks are awaited
  // (up to drain_timeout) and acknowledged rows removed once more.
  void Run();

  enum class Step {
    kIdle,       // nothing pending; slept poll_interval
    kPublished,  // a batch was published (some rows may have failed)
    kBackedOff,  // a step failed; slept the back-off delay
    kStopped,    // stop was requested; nothing more to do
  };
  Step RunOnce();

  // Acknowledged rows whose removal has not succeeded yet.
  size_t acked_not_removed() const { return acked_not_removed_.size(); }

 private:
  // Removes acknowledged rows; false if the store failed (they are kept).
  bool RemoveAcknowledged();
  Step BackOff();
  bool ShouldGiveUp(SteadyClock::time_point publish_started) const;
  // Publishes the batch; returns how many rows the broker acknowledged.
  size_t Publish(std::vector<OutboxMessage>& batch);

  OutboxStore& store_;
  Sink& sink_;
  const StopSignal& stop_;
  RelayObserver& observer_;
  RelayLoopOptions options_;
  Backoff backoff_;
  // Acked by the broker, not yet removed: removing these comes before
  // reading anything new, so a database outage re-sends nothing it need not.
  std::vector<int64_t> acked_not_removed_;
};

}  // namespace outbox
