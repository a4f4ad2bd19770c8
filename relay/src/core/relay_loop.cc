#include "core/relay_loop.h"

#include <algorithm>

#include "common/log.h"

namespace outbox {
namespace {

std::string KeyOf(const OutboxMessage& m) { return m.key.value_or(""); }

}  // namespace

RelayLoop::RelayLoop(OutboxStore& store, Sink& sink, const StopSignal& stop,
                     RelayObserver& observer, RelayLoopOptions options)
    : store_(store),
      sink_(sink),
      stop_(stop),
      observer_(observer),
      options_(options),
      loop_backoff_(options.backoff_initial, options.backoff_max),
      row_backoff_(options.backoff_initial, options.backoff_max) {}

Status RelayLoop::Run() {
  RefreshBlockedKeys(/*force=*/true);
  Step step;
  while ((step = RunOnce()) != Step::kStopped && step != Step::kFatal) {
  }
  // The last batch's outcomes are written back even when stop came
  // mid-batch; if the database is away they are lost, and the rows are
  // simply sent again after the restart.
  if (!unsettled_.empty() && !Settle()) {
    LogWarn("stopping with acknowledged rows not removed; they will be sent again",
            {{"rows", std::to_string(unsettled_.delivered.size())}});
  }
  if (step == Step::kFatal) {
    return Status(StatusCode::kInternal, "the kafka producer failed fatally " +
                                             std::to_string(options_.max_consecutive_fatal) +
                                             " batches in a row");
  }
  return Status::Ok();
}

RelayLoop::Step RelayLoop::RunOnce() {
  observer_.OnHeartbeat();
  if (!unsettled_.empty() && !Settle()) {
    return stop_.requested() ? Step::kStopped : BackOff();
  }
  if (stop_.requested()) return Step::kStopped;
  RefreshBlockedKeys(/*force=*/false);

  const auto started = SteadyClock::now();
  Result<std::vector<OutboxMessage>> batch = store_.ReadBatch(options_.batch_size);
  observer_.OnStoreResult(batch.ok());
  if (!batch.ok()) {
    LogWarn("reading the outbox failed; backing off",
            {{"code", StatusCodeName(batch.status().code())},
             {"error", batch.status().message()},
             {"failures", std::to_string(loop_backoff_.failures() + 1)}});
    return BackOff();
  }
  if (batch->empty()) {
    sink_.Poll();
    stop_.WaitFor(options_.poll_interval);
    return Step::kIdle;
  }
  const BatchProgress progress = PublishBatch(*batch);
  if (!unsettled_.empty()) Settle();
  observer_.OnBatch(batch->size(),
                    std::chrono::duration<double>(SteadyClock::now() - started).count());
  if (progress.dead_lettered > 0) RefreshBlockedKeys(/*force=*/true);

  consecutive_fatal_ = progress.fatal ? consecutive_fatal_ + 1 : 0;
  if (consecutive_fatal_ >= options_.max_consecutive_fatal) {
    LogError("the kafka producer keeps failing fatally; exiting so that it starts afresh",
             {{"batches", std::to_string(consecutive_fatal_)}});
    return Step::kFatal;
  }
  if (progress.delivered + progress.dead_lettered == 0) return BackOff();
  loop_backoff_.Reset();
  return Step::kPublished;
}

RelayLoop::BatchProgress RelayLoop::PublishBatch(std::vector<OutboxMessage>& batch) {
  BatchProgress progress;
  // Keys whose later rows in this batch must wait (block_key, after a dead
  // letter) and keys with a row that was not delivered (for order checks).
  std::set<std::string> held_keys;
  std::set<std::string> undelivered_keys;

  std::vector<OutboxMessage> to_send;
  to_send.reserve(batch.size());
  for (OutboxMessage& row : batch) {
    if (row.key && held_keys.count(*row.key) > 0) continue;  // stays pending
    std::optional<Rejection> rejection;
    if (!row.defect.empty()) {
      rejection = Rejection{row.defect_reason, row.defect};
    } else {
      rejection = sink_.Precheck(row);
    }
    if (rejection) {
      DeadLetterRow(row, rejection->reason, rejection->detail, held_keys, progress);
      continue;
    }
    to_send.push_back(std::move(row));
  }
  if (to_send.empty()) return progress;

  std::vector<DeliveryOutcome> outcomes = Publish(to_send);
  const bool outage = std::none_of(outcomes.begin(), outcomes.end(), [](const auto& o) {
    return o.kind == DeliveryKind::kDelivered || o.kind == DeliveryKind::kRejected;
  });

  for (size_t i = 0; i < to_send.size(); ++i) {
    const OutboxMessage& row = to_send[i];
    DeliveryOutcome& outcome = outcomes[i];
    // A row behind a dead-lettered (block_key) or undelivered earlier row of
    // its key waits: sending it now would overtake that row.
    const bool must_wait =
        row.key && (held_keys.count(*row.key) > 0 || undelivered_keys.count(*row.key) > 0);
    // A permanent error fails the whole produce request, healthy rows with
    // it: send a rejected row alone before believing it is poison.
    if (outcome.kind == DeliveryKind::kRejected && to_send.size() > 1 && !must_wait) {
      LogInfo("the broker rejected a row sent with others; sending it alone before judging it",
              {{"id", std::to_string(row.id)}, {"reason", outcome.reason}});
      outcome = Publish(std::span(&row, 1)).front();
    }
    if (outcome.kind == DeliveryKind::kDelivered) {
      if (row.key && undelivered_keys.count(*row.key) > 0) {
        LogWarn("a row was delivered after an earlier row of its key failed; order broken",
                {{"id", std::to_string(row.id)}, {"key", *row.key}});
      }
      unsettled_.delivered.push_back(row.id);
      observer_.OnDelivered(row, outcome);
      ++progress.delivered;
      continue;
    }
    if (row.key) undelivered_keys.insert(*row.key);
    observer_.OnNotDelivered(row, outcome);
    if (must_wait) continue;  // stays pending, charged nothing
    switch (outcome.kind) {
      case DeliveryKind::kRejected:
        DeadLetterRow(row, outcome.reason, outcome.detail, held_keys, progress);
        break;
      case DeliveryKind::kRetriable:
        // Only a failure about this row's topic or partition, while other
        // rows get through, is charged to the row; a connection problem (an
        // outage, or a batch that straddled one) leaves it pending as it is.
        if (!outage && outcome.blames_row) ScheduleRetry(row, outcome, held_keys, progress);
        break;
      case DeliveryKind::kFatal:
        progress.fatal = true;
        break;
      case DeliveryKind::kNotReported:
      case DeliveryKind::kDelivered:
        break;
    }
  }
  const size_t failed = to_send.size() - progress.delivered;
  if (failed > 0) {
    const auto first = std::find_if(outcomes.begin(), outcomes.end(), [](const auto& o) {
      return o.kind != DeliveryKind::kDelivered;
    });
    LogWarn(outage ? "nothing in the batch was delivered; backing off"
                   : "some messages were not delivered",
            {{"failed", std::to_string(failed)},
             {"batch", std::to_string(to_send.size())},
             {"kind", DeliveryKindName(first->kind)},
             {"reason", first->reason},
             {"error", first->detail}});
  }
  return progress;
}

std::vector<DeliveryOutcome> RelayLoop::Publish(std::span<const OutboxMessage> messages) {
  const auto started = SteadyClock::now();
  observer_.OnInFlight(messages.size());
  std::vector<DeliveryOutcome> outcomes =
      sink_.Publish(messages, [&] { return ShouldGiveUp(started); });
  observer_.OnInFlight(0);
  observer_.OnSinkResult(std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) {
    return o.kind == DeliveryKind::kDelivered;
  }));
  return outcomes;
}

void RelayLoop::DeadLetterRow(const OutboxMessage& row, const std::string& reason,
                              const std::string& error, std::set<std::string>& held_keys,
                              BatchProgress& progress) {
  const bool blocks_key =
      options_.on_undeliverable == UndeliverablePolicy::kBlockKey && row.key.has_value();
  unsettled_.dead_letters.push_back({row.id, reason, error, blocks_key});
  if (blocks_key) held_keys.insert(*row.key);
  observer_.OnDeadLettered(row, reason);
  ++progress.dead_lettered;
  LogWarn(blocks_key ? "row moved to the dead-letter table; later rows of its key wait"
                     : "row moved to the dead-letter table",
          {{"id", std::to_string(row.id)},
           {"topic", row.topic},
           {"key", KeyOf(row)},
           {"reason", reason},
           {"error", error}});
}

void RelayLoop::ScheduleRetry(const OutboxMessage& row, const DeliveryOutcome& outcome,
                              std::set<std::string>& held_keys, BatchProgress& progress) {
  const int attempts = row.attempts + 1;
  if (options_.max_attempts > 0 && attempts >= options_.max_attempts) {
    DeadLetterRow(row, "max_attempts",
                  "gave up after " + std::to_string(attempts) +
                      " attempts; last error: " + outcome.reason + ": " + outcome.detail,
                  held_keys, progress);
    return;
  }
  unsettled_.retries.push_back(
      {row.id, outcome.reason + ": " + outcome.detail, row_backoff_.DelayAfter(attempts)});
  observer_.OnRetryScheduled(row, outcome.reason);
}

bool RelayLoop::Settle() {
  const Status status = store_.Settle(unsettled_);
  observer_.OnStoreResult(status.ok());
  if (!status.ok()) {
    LogWarn("writing back the batch's outcome failed; will retry before reading more",
            {{"delivered", std::to_string(unsettled_.delivered.size())},
             {"dead_letters", std::to_string(unsettled_.dead_letters.size())},
             {"code", StatusCodeName(status.code())},
             {"error", status.message()}});
    return false;
  }
  unsettled_.clear();
  return true;
}

void RelayLoop::RefreshBlockedKeys(bool force) {
  const auto now = SteadyClock::now();
  if (!force && now - blocked_keys_refreshed_ < options_.blocked_keys_refresh) return;
  blocked_keys_refreshed_ = now;
  Result<int64_t> blocked = store_.CountBlockedKeys();
  if (blocked.ok()) observer_.OnBlockedKeys(*blocked);
}

RelayLoop::Step RelayLoop::BackOff() {
  stop_.WaitFor(loop_backoff_.Next());
  return Step::kBackedOff;
}

bool RelayLoop::ShouldGiveUp(SteadyClock::time_point publish_started) const {
  const auto now = SteadyClock::now();
  if (now - publish_started >= options_.publish_timeout) return true;
  const auto stop_at = stop_.requested_at();
  return stop_at && now - *stop_at >= options_.drain_timeout;
}

}  // namespace outbox
