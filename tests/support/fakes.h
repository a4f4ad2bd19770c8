// Hand-written fakes of the core's two interfaces, with error injection. The
// store follows the real one's rules on which rows are due.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "core/outbox_store.h"
#include "core/sink.h"

namespace outbox::testing {

class FakeStore : public OutboxStore {
 public:
  void Add(int64_t id, std::string topic = "t", std::optional<std::string> key = "k");
  OutboxMessage& row(int64_t id) { return rows_.at(id); }
  bool Contains(int64_t id) const { return rows_.count(id) > 0; }
  size_t size() const { return rows_.size(); }
  // Makes every waiting row due now (as if its retry time had come).
  void MakeAllDue() { next_attempt_.clear(); }

  using OutboxStore::ReadBatch;
  Result<std::vector<OutboxMessage>> ReadBatch(const ReadRequest& request) override;
  Status Settle(const Settlement& settlement) override;
  Result<int64_t> CountBlockedKeys() override;

  // The next N calls fail with kUnavailable.
  int fail_reads = 0;
  int fail_settles = 0;
  int reads = 0;
  std::vector<ReadRequest> requests;  // every read's request
  int settles = 0;

  std::map<int64_t, DeadLetter> dead_letters;
  std::vector<RetryLater> retries;  // every retry ever scheduled

 private:
  bool Waiting(int64_t id) const;

  std::map<int64_t, OutboxMessage> rows_;
  std::map<int64_t, SteadyClock::time_point> next_attempt_;
  std::map<int64_t, std::string> blocked_keys_by_id_;  // dead letters that block a key
};

// A FakeStore that settles on another thread, as PgOutboxStore does (its
// calls take turns on a mutex). Write-backs can be held until released, to
// see what the loop does while one is under way.
class ConcurrentFakeStore : public FakeStore {
 public:
  Result<std::vector<OutboxMessage>> ReadBatch(const ReadRequest& request) override;
  Status Settle(const Settlement& settlement) override;
  Result<int64_t> CountBlockedKeys() override;
  bool settles_concurrently() const override { return true; }

  // Write-backs wait (without the mutex) until ReleaseSettles().
  void HoldSettles();
  void ReleaseSettles();
  // Waits until a write-back is held, or `n` reads were made; false after 5 s.
  bool AwaitHeldSettle();
  bool AwaitReads(int n);
  size_t rows() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false;
  int held_ = 0;
};

// Decides each message's fate; by default everything is delivered.
class FakeSink : public Sink {
 public:
  using Decide = std::function<DeliveryOutcome(const OutboxMessage&, size_t batch_size)>;
  Decide decide = [](const OutboxMessage&, size_t) {
    return DeliveryOutcome{DeliveryKind::kDelivered, "", ""};
  };
  // Called after decisions, with the give-up predicate (e.g. to wait on it).
  std::function<void(const GiveUp&)> before_return;
  std::function<std::optional<Rejection>(const OutboxMessage&)> precheck;

  void Send(std::span<const OutboxMessage> batch) override;
  std::vector<DeliveryOutcome> AwaitOldest(const GiveUp& give_up) override;
  std::optional<Rejection> Precheck(const OutboxMessage& message) const override;

  std::vector<int64_t> published_ids;  // every send, in order
  std::vector<size_t> batch_sizes;     // every Send call's size
  size_t max_batches_in_flight = 0;    // the most Sends awaiting at once

 private:
  std::deque<std::vector<DeliveryOutcome>> in_flight_;
};

DeliveryOutcome Delivered();
DeliveryOutcome Failed(DeliveryKind kind, std::string reason);
// A retriable failure about the row's topic or partition (charged to the row).
DeliveryOutcome FailedForRow(std::string reason);

}  // namespace outbox::testing
