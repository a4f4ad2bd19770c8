#include "support/fakes.h"

#include <algorithm>

namespace outbox::testing {

void FakeStore::Add(int64_t id, std::string topic, std::optional<std::string> key) {
  OutboxMessage m;
  m.id = id;
  m.topic = std::move(topic);
  m.key = std::move(key);
  m.payload = "payload-" + std::to_string(id);
  rows_[id] = std::move(m);
}

bool FakeStore::Waiting(int64_t id) const {
  const auto it = next_attempt_.find(id);
  return it != next_attempt_.end() && it->second > SteadyClock::now();
}

Result<std::vector<OutboxMessage>> FakeStore::ReadBatch(const ReadRequest& request) {
  ++reads;
  requests.push_back(request);
  if (fail_reads > 0) {
    --fail_reads;
    return Status(StatusCode::kUnavailable, "injected read failure");
  }
  std::set<std::string> held;  // keys blocked by a dead letter or a waiting row
  for (const auto& [id, key] : blocked_keys_by_id_) held.insert(key);
  std::vector<OutboxMessage> batch;
  int64_t bytes = 0;
  for (const auto& [id, row] : rows_) {
    if (batch.size() == request.max_rows || bytes >= request.max_bytes) break;
    if (std::binary_search(request.in_flight.begin(), request.in_flight.end(), id)) continue;
    const bool keyed = row.key.has_value();
    if (keyed && held.count(*row.key) > 0) continue;
    if (Waiting(id)) {
      if (keyed) held.insert(*row.key);
      continue;
    }
    batch.push_back(row);
    batch.back().read_at = SteadyClock::now();
    bytes += static_cast<int64_t>(row.key.value_or("").size() + row.payload.value_or("").size());
  }
  return batch;
}

Status FakeStore::Settle(const Settlement& settlement) {
  ++settles;
  if (fail_settles > 0) {
    --fail_settles;
    return Status(StatusCode::kUnavailable, "injected settle failure");
  }
  for (const outbox::Delivered& d : settlement.delivered) rows_.erase(d.id);
  for (const DeadLetter& d : settlement.dead_letters) {
    const auto it = rows_.find(d.id);
    if (it == rows_.end()) continue;
    if (d.blocks_key) blocked_keys_by_id_[d.id] = it->second.key.value_or("");
    dead_letters[d.id] = d;
    rows_.erase(it);
  }
  for (const RetryLater& r : settlement.retries) {
    const auto it = rows_.find(r.id);
    if (it == rows_.end()) continue;
    ++it->second.attempts;
    next_attempt_[r.id] = SteadyClock::now() + r.delay;
    retries.push_back(r);
  }
  return Status::Ok();
}

Result<int64_t> FakeStore::CountBlockedKeys() {
  std::set<std::string> keys;
  for (const auto& [id, key] : blocked_keys_by_id_) keys.insert(key);
  return static_cast<int64_t>(keys.size());
}

void FakeSink::Send(std::span<const OutboxMessage> batch) {
  std::vector<DeliveryOutcome> outcomes;
  batch_sizes.push_back(batch.size());
  for (const OutboxMessage& m : batch) {
    published_ids.push_back(m.id);
    outcomes.push_back(decide(m, batch.size()));
  }
  in_flight_.push_back(std::move(outcomes));
  max_batches_in_flight = std::max(max_batches_in_flight, in_flight_.size());
}

std::vector<DeliveryOutcome> FakeSink::AwaitOldest(const GiveUp& give_up) {
  if (before_return) before_return(give_up);
  std::vector<DeliveryOutcome> outcomes = std::move(in_flight_.front());
  in_flight_.pop_front();
  return outcomes;
}

std::optional<Rejection> FakeSink::Precheck(const OutboxMessage& message) const {
  return precheck ? precheck(message) : std::nullopt;
}

DeliveryOutcome Delivered() { return DeliveryOutcome{DeliveryKind::kDelivered, "", ""}; }

DeliveryOutcome FailedForRow(std::string reason) {
  DeliveryOutcome outcome = Failed(DeliveryKind::kRetriable, std::move(reason));
  outcome.blames_row = true;
  return outcome;
}

DeliveryOutcome Failed(DeliveryKind kind, std::string reason) {
  return DeliveryOutcome{kind, std::move(reason), "injected"};
}

Result<std::vector<OutboxMessage>> ConcurrentFakeStore::ReadBatch(const ReadRequest& request) {
  std::lock_guard lock(mutex_);
  changed_.notify_all();
  return FakeStore::ReadBatch(request);
}

Status ConcurrentFakeStore::Settle(const Settlement& settlement) {
  std::unique_lock lock(mutex_);
  ++held_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return !hold_; });
  --held_;
  return FakeStore::Settle(settlement);
}

Result<int64_t> ConcurrentFakeStore::CountBlockedKeys() {
  std::lock_guard lock(mutex_);
  return FakeStore::CountBlockedKeys();
}

void ConcurrentFakeStore::HoldSettles() {
  std::lock_guard lock(mutex_);
  hold_ = true;
}

void ConcurrentFakeStore::ReleaseSettles() {
  {
    std::lock_guard lock(mutex_);
    hold_ = false;
  }
  changed_.notify_all();
}

bool ConcurrentFakeStore::AwaitHeldSettle() {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return held_ > 0; });
}

bool ConcurrentFakeStore::AwaitReads(int n) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return reads >= n; });
}

size_t ConcurrentFakeStore::rows() const {
  std::lock_guard lock(mutex_);
  return size();
}

}  // namespace outbox::testing
