// Hand-written fakes of the core's two interfaces, with error injection.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "core/outbox_store.h"
#include "core/sink.h"

namespace outbox::testing {

// An outbox in memory: rows by id, lowest first.
class FakeStore : public OutboxStore {
 public:
  void Add(int64_t id, std::string topic = "t", std::optional<std::string> key = "k");
  OutboxMessage& row(int64_t id) { return rows_.at(id); }
  bool Contains(int64_t id) const { return rows_.count(id) > 0; }
  size_t size() const { return rows_.size(); }

  Result<std::vector<OutboxMessage>> ReadBatch(size_t max_rows) override;
  Status Remove(std::span<const int64_t> ids) override;

  // The next N calls fail with kUnavailable.
  int fail_reads = 0;
  int fail_removes = 0;
  int reads = 0;
  int remove_calls = 0;

 private:
  std::map<int64_t, OutboxMessage> rows_;
};

// Decides each message's fate; by default everything is delivered.
class FakeSink : public Sink {
 public:
  using Decide = std::function<DeliveryOutcome(const OutboxMessage&)>;
  Decide decide = [](const OutboxMessage&) {
    return DeliveryOutcome{DeliveryKind::kDelivered, "", ""};
  };
  // Called after decisions, with the give-up predicate (e.g. to wait on it).
  std::function<void(const GiveUp&)> before_return;

  std::vector<DeliveryOutcome> Publish(std::span<const OutboxMessage> batch,
                                       const GiveUp& give_up) override;

  std::vector<int64_t> published_ids;  // every send, in order
};

DeliveryOutcome Failed(DeliveryKind kind, std::string reason);

}  // namespace outbox::testing
