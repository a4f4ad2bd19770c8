// The relay loop: read a batch of committed rows, publish it, then settle it
// in one transaction: remove exactly the rows the broker acknowledged, move
// rows that can never be delivered to the dead-letter table, and schedule
// row-specific retries. No I/O types here: the store and the sink are
// interfaces, so every failure path is unit-testable with fakes.
//
// Threading: Run()/RunOnce() on one thread; the StopSignal may be requested
// from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/stop_signal.h"
#include "core/backoff.h"
#include "core/observer.h"
#include "core/outbox_store.h"
#include "core/sink.h"

namespace outbox {

// What happens to later rows of a key when one of its rows is dead-lettered.
enum class UndeliverablePolicy {
  kBlockKey,    // they wait until an operator requeues or purges it (order kept)
  kDeadLetter,  // they continue (the dead-lettered row is out of order if requeued)
};

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
  // Loop back-off after a failed step, and a row's retry delay after a
  // row-specific failure: initial, doubling with jitter, up to max.
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30000};
  UndeliverablePolicy on_undeliverable = UndeliverablePolicy::kBlockKey;
  // Row-specific retriable failures before a row is dead-lettered; 0 = never.
  // Failures during an outage (nothing in the batch delivered) do not count.
  int max_attempts = 10;
  // Batches in a row that end with a fatal producer error before the loop
  // gives up, so that the supervisor restarts the process.
  int max_consecutive_fatal = 3;
  // How often the blocked-keys gauge is refreshed without a new dead letter.
  std::chrono::milliseconds blocked_keys_refresh{15000};
};

class RelayLoop {
 public:
  RelayLoop(OutboxStore& store, Sink& sink, const StopSignal& stop, RelayObserver& observer,
            RelayLoopOptions options);

  // Runs until stop is requested, then drains: outstanding acks are awaited
  // (up to drain_timeout) and the batch settled once more. Returns an error
  // only when the producer kept failing fatally.
  Status Run();

  enum class Step {
    kIdle,       // nothing due; slept poll_interval
    kPublished,  // a batch made progress (delivered or dead-lettered rows)
    kBackedOff,  // nothing made progress; slept the back-off delay
    kStopped,    // stop was requested; nothing more to do
    kFatal,      // max_consecutive_fatal reached
  };
  Step RunOnce();

  // Outcomes of the last batch not yet written back.
  const Settlement& unsettled() const { return unsettled_; }

 private:
  struct BatchProgress {
    size_t delivered = 0;
    size_t dead_lettered = 0;
    bool fatal = false;
  };

  BatchProgress PublishBatch(std::vector<OutboxMessage>& batch);
  std::vector<DeliveryOutcome> Publish(std::span<const OutboxMessage> messages);
  // Records a row that can never be delivered as it is.
  void DeadLetterRow(const OutboxMessage& row, const std::string& reason, const std::string& error,
                     std::set<std::string>& held_keys, BatchProgress& progress);
  void ScheduleRetry(const OutboxMessage& row, const DeliveryOutcome& outcome,
                     std::set<std::string>& held_keys, BatchProgress& progress);
  // Writes unsettled_ back; false if the store failed (it is kept).
  bool Settle();
  void RefreshBlockedKeys(bool force);
  Step BackOff();
  bool ShouldGiveUp(SteadyClock::time_point publish_started) const;

  OutboxStore& store_;
  Sink& sink_;
  const StopSignal& stop_;
  RelayObserver& observer_;
  RelayLoopOptions options_;
  Backoff loop_backoff_;
  Backoff row_backoff_;
  int consecutive_fatal_ = 0;
  SteadyClock::time_point blocked_keys_refreshed_{};
  // Settling comes before reading anything new, so a database outage
  // re-sends nothing it need not.
  Settlement unsettled_;
};

}  // namespace outbox
