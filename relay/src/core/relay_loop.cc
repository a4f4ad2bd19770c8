#include "core/relay_loop.h"

#include <algorithm>
#include <string>

#include "common/log.h"

namespace outbox {

RelayLoop::RelayLoop(OutboxStore& store, Sink& sink, const StopSignal& stop,
                     RelayObserver& observer, RelayLoopOptions options)
    : store_(store),
      sink_(sink),
      stop_(stop),
      observer_(observer),
      options_(options),
      backoff_(options.backoff_initial, options.backoff_max) {}

void RelayLoop::Run() {
  while (RunOnce() != Step::kStopped) {
  }
  // Acknowledged rows are removed even when stop came mid-batch; if the
  // database is away now they stay pending and are re-sent after restart.
  if (!acked_not_removed_.empty() && !RemoveAcknowledged()) {
    LogWarn("stopping with acknowledged rows not removed; they will be sent again",
            {{"rows", std::to_string(acked_not_removed_.size())}});
  }
}

RelayLoop::Step RelayLoop::RunOnce() {
  observer_.OnHeartbeat();
  if (!acked_not_removed_.empty() && !RemoveAcknowledged()) {
    return stop_.requested() ? Step::kStopped : BackOff();
  }
  if (stop_.requested()) return Step::kStopped;

  Result<std::vector<OutboxMessage>> batch = store_.ReadBatch(options_.batch_size);
  observer_.OnStoreResult(batch.ok());
  if (!batch.ok()) {
    LogWarn("reading the outbox failed; backing off",
            {{"code", StatusCodeName(batch.status().code())},
             {"error", batch.status().message()},
             {"failures", std::to_string(backoff_.failures() + 1)}});
    return BackOff();
  }
  if (batch->empty()) {
    observer_.OnOldestPending(std::nullopt);
    stop_.WaitFor(options_.poll_interval);
    return Step::kIdle;
  }
  const OutboxMessage& oldest = batch->front();
  observer_.OnOldestPending(oldest.read_at -
                            std::chrono::duration_cast<SteadyClock::duration>(
                                std::chrono::duration<double>(oldest.age_at_read_seconds)));
  const bool any_delivered = Publish(*batch) > 0;
  if (!acked_not_removed_.empty()) RemoveAcknowledged();
  if (!any_delivered) return BackOff();
  backoff_.Reset();
  return Step::kPublished;
}

size_t RelayLoop::Publish(std::vector<OutboxMessage>& batch) {
  // Rows that cannot be sent as they are stay out of the sink.
  const auto sendable_end = std::stable_partition(
      batch.begin(), batch.end(), [](const OutboxMessage& m) { return m.defect.empty(); });
  std::span<const OutboxMessage> sendable(batch.data(), sendable_end - batch.begin());
  size_t delivered = 0;
  size_t failed = 0;
  const DeliveryOutcome* first_failure = nullptr;
  const OutboxMessage* first_failed = nullptr;

  std::vector<DeliveryOutcome> outcomes;
  if (!sendable.empty()) {
    const auto started = SteadyClock::now();
    outcomes = sink_.Publish(sendable, [&] { return ShouldGiveUp(started); });
  }
  for (size_t i = 0; i < sendable.size(); ++i) {
    const DeliveryOutcome& outcome = outcomes[i];
    if (outcome.kind == DeliveryKind::kDelivered) {
      acked_not_removed_.push_back(sendable[i].id);
      observer_.OnDelivered(sendable[i], outcome);
      ++delivered;
      continue;
    }
    observer_.OnNotDelivered(sendable[i], outcome);
    if (failed++ == 0) {
      first_failure = &outcome;
      first_failed = &sendable[i];
    }
  }
  if (!sendable.empty()) observer_.OnSinkResult(delivered > 0);

  for (auto it = sendable_end; it != batch.end(); ++it) {
    DeliveryOutcome outcome{DeliveryKind::kRejected, "invalid_row", it->defect};
    observer_.OnNotDelivered(*it, outcome);
    LogWarn("outbox row cannot be sent as it is; it stays pending",
            {{"id", std::to_string(it->id)}, {"problem", it->defect}});
  }
  if (failed > 0) {
    LogWarn("messages not delivered; they stay pending and will be retried",
            {{"failed", std::to_string(failed)},
             {"batch", std::to_string(sendable.size())},
             {"first_id", std::to_string(first_failed->id)},
             {"kind", DeliveryKindName(first_failure->kind)},
             {"reason", first_failure->reason},
             {"error", first_failure->detail}});
  }
  return delivered;
}

bool RelayLoop::RemoveAcknowledged() {
  const Status status = store_.Remove(acked_not_removed_);
  observer_.OnStoreResult(status.ok());
  if (!status.ok()) {
    LogWarn("removing acknowledged rows failed; will retry before reading more",
            {{"rows", std::to_string(acked_not_removed_.size())},
             {"code", StatusCodeName(status.code())},
             {"error", status.message()}});
    return false;
  }
  acked_not_removed_.clear();
  return true;
}

RelayLoop::Step RelayLoop::BackOff() {
  stop_.WaitFor(backoff_.Next());
  return Step::kBackedOff;
}

bool RelayLoop::ShouldGiveUp(SteadyClock::time_point publish_started) const {
  const auto now = SteadyClock::now();
  if (now - publish_started >= options_.publish_timeout) return true;
  const auto stop_at = stop_.requested_at();
  return stop_at && now - *stop_at >= options_.drain_timeout;
}

}  // namespace outbox
