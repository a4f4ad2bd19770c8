#include "support/fakes.h"

namespace outbox::testing {

void FakeStore::Add(int64_t id, std::string topic, std::optional<std::string> key) {
  OutboxMessage m;
  m.id = id;
  m.topic = std::move(topic);
  m.key = std::move(key);
  m.payload = "payload-" + std::to_string(id);
  rows_[id] = std::move(m);
}

Result<std::vector<OutboxMessage>> FakeStore::ReadBatch(size_t max_rows) {
  ++reads;
  if (fail_reads > 0) {
    --fail_reads;
    return Status(StatusCode::kUnavailable, "injected read failure");
  }
  std::vector<OutboxMessage> batch;
  for (const auto& [id, row] : rows_) {
    if (batch.size() == max_rows) break;
    batch.push_back(row);
    batch.back().read_at = SteadyClock::now();
  }
  return batch;
}

Status FakeStore::Remove(std::span<const int64_t> ids) {
  ++remove_calls;
  if (fail_removes > 0) {
    --fail_removes;
    return Status(StatusCode::kUnavailable, "injected remove failure");
  }
  for (int64_t id : ids) rows_.erase(id);
  return Status::Ok();
}

std::vector<DeliveryOutcome> FakeSink::Publish(std::span<const OutboxMessage> batch,
                                               const GiveUp& give_up) {
  std::vector<DeliveryOutcome> outcomes;
  for (const OutboxMessage& m : batch) {
    published_ids.push_back(m.id);
    outcomes.push_back(decide(m));
  }
  if (before_return) before_return(give_up);
  return outcomes;
}

DeliveryOutcome Failed(DeliveryKind kind, std::string reason) {
  return DeliveryOutcome{kind, std::move(reason), "injected"};
}

}  // namespace outbox::testing
