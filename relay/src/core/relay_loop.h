// The relay loop: read batches of committed rows, publish them, then settle
// each in one transaction: remove exactly the rows the broker acknowledged,
// move rows that can never be delivered to the dead-letter table, and
// schedule row-specific retries. No I/O types here: the store and the sink
// are interfaces, so every failure path is unit-testable with fakes.
//
// Pipelining: while earlier batches wait for their acks, the loop settles
// what came back and reads and sends the next batch, up to
// max_in_flight_rows and max_in_flight_bytes. With a store that settles
// concurrently, a write-back of delivered rows runs while the next batch is
// read (one at a time; its rows are skipped by reads until it is done).
// Dead letters and retries are written back before anything more is read,
// because they change which later rows of their keys are due. Batches are sent in id order
// on one producer, so each key's rows reach their partition in order. When a
// batch comes back with a row not delivered, the loop stops reading ahead
// until everything in flight is back, and handles the failure as a
// one-batch loop would (isolation, retries, held keys).
//
// Threading: Run()/RunOnce() on one thread; the StopSignal may be requested
// from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/stop_signal.h"
#include "core/background_write_back.h"
#include "core/backoff.h"
#include "core/idle_waits.h"
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
  size_t batch_size = 1000;
  // Rows and key + payload bytes read but not yet acknowledged and settled:
  // the relay's memory bound, whatever the backlog.
  size_t max_in_flight_rows = 3000;
  int64_t max_in_flight_bytes = 16 << 20;
  // The largest message the sink accepts: a row whose key and payload are
  // larger is dead-lettered without its payload ever being read.
  int64_t max_message_bytes = INT64_MAX;
  // Longest wait when caught up (a notification ends it early).
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
    kIdle,       // nothing due; waited for new rows
    kPublished,  // progress: a batch sent ahead, or one collected that
                 // delivered or dead-lettered rows
    kBackedOff,  // nothing made progress; slept the back-off delay
    kStopped,    // stop was requested; nothing more to do
    kFatal,      // max_consecutive_fatal reached
  };
  Step RunOnce();

  // Outcomes of collected batches not yet written back.
  const Settlement& unsettled() const { return unsettled_; }

 private:
  struct BatchProgress {
    size_t delivered = 0;
    size_t dead_lettered = 0;
    bool fatal = false;
    bool troubled = false;  // a row was not delivered
  };

  // A batch handed to the sink, awaiting its reports.
  struct InFlightBatch {
    std::vector<OutboxMessage> rows;
    // Keys whose later rows in this batch waited for a dead letter.
    std::set<std::string> held_keys;
    size_t read = 0;  // rows read, including those settled without sending
    int64_t bytes = 0;
    SteadyClock::time_point read_started{};
    SteadyClock::time_point sent_at{};
    BatchProgress progress;
  };

  bool CanReadAhead() const;
  ReadRequest NextRead() const;
  // Reads a batch and sends it; returns false if the read failed.
  // `caught_up` = the read returned fewer rows than asked for.
  bool ReadAndSend(bool& caught_up);
  // Collects the oldest batch's reports and decides each row's fate.
  Step CompleteOldest();
  void DecideOutcomes(InFlightBatch& batch, std::vector<DeliveryOutcome>& outcomes);
  Step Idle();
  // Tells idle_waits_ what the read after the last idle wait found.
  void RecordWakeup(bool new_rows);
  // Records a row that can never be delivered as it is.
  void DeadLetterRow(const OutboxMessage& row, const std::string& reason, const std::string& error,
                     std::set<std::string>& held_keys, BatchProgress& progress);
  void ScheduleRetry(const OutboxMessage& row, const DeliveryOutcome& outcome,
                     std::set<std::string>& held_keys, BatchProgress& progress);
  // Writes unsettled_ back; false if the store failed (it is kept).
  bool Settle();
  // Writes unsettled_ back, in the background when it can: only delivered
  // rows, a store that settles concurrently, and no failed write-back since
  // the last one that succeeded. False if a write-back failed (its rows are
  // back in unsettled_, kept).
  bool WriteBack();
  // Collects the background write-back if it has finished (or waits for it
  // when `wait`); false if it failed (its rows are back in unsettled_).
  bool CollectWriteBack(bool wait);
  void RefreshBlockedKeys(bool force);
  void ReportInFlight();
  Step BackOff();
  bool ShouldGiveUp(SteadyClock::time_point sent_at) const;

  OutboxStore& store_;
  Sink& sink_;
  const StopSignal& stop_;
  RelayObserver& observer_;
  RelayLoopOptions options_;
  Backoff loop_backoff_;
  Backoff row_backoff_;
  IdleWaits idle_waits_;
  std::optional<Wakeup> last_wakeup_;
  int consecutive_fatal_ = 0;
  size_t fatal_shadow_ = 0;
  SteadyClock::time_point blocked_keys_refreshed_{};
  // Batches sent and not yet reported, oldest first.
  std::deque<InFlightBatch> in_flight_;
  size_t in_flight_rows_ = 0;
  int64_t in_flight_bytes_ = 0;
  // Keys with a row not delivered in a batch while later batches were in
  // flight: a delivery of theirs in a later batch broke the key's order.
  std::set<std::string> troubled_keys_;
  // A batch came back with a row not delivered: read nothing more until
  // the batches in flight are back, then go one batch at a time until a
  // batch is delivered whole.
  bool one_at_a_time_ = false;
  int64_t highest_id_read_ = 0;
  // Settling comes before reading anything new, so a database outage
  // re-sends nothing it need not.
  Settlement unsettled_;
  // Set when the store settles concurrently.
  std::unique_ptr<BackgroundWriteBack> write_back_;
  // A write-back failed: the next ones run in the foreground until one
  // succeeds, so that a database that reads but cannot write back does not
  // let acknowledged rows pile up in memory.
  bool write_back_failing_ = false;
};

}  // namespace outbox
