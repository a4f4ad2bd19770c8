#include "core/relay_loop.h"

#include <algorithm>

#include "common/log.h"
#include "common/text.h"

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
      row_backoff_(options.backoff_initial, options.backoff_max),
      idle_waits_(options.poll_interval) {
  if (store_.settles_concurrently()) write_back_ = std::make_unique<BackgroundWriteBack>(store_);
}

Status RelayLoop::Run() {
  RefreshBlockedKeys(/*force=*/true);
  Step step;
  while ((step = RunOnce()) != Step::kStopped && step != Step::kFatal) {
  }
  // The last batches' outcomes are written back even when stop came
  // mid-batch; if the database is away they are lost, and the rows are
  // simply sent again after the restart.
  CollectWriteBack(/*wait=*/true);
  if (!unsettled_.empty() && !Settle()) {
    LogWarn("stopping with acknowledged rows not removed; they will be sent again",
            {{"rows", unsettled_.delivered.size()}});
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
  if (!WriteBack()) {
    // Reports of batches in flight are still collected (they join what
    // awaits the database); nothing new is read until it is back.
    if (!in_flight_.empty()) return CompleteOldest();
    return stop_.requested() ? Step::kStopped : BackOff();
  }
  if (stop_.requested()) {
    // Drain: collect what is in flight (up to drain_timeout), read nothing.
    return in_flight_.empty() ? Step::kStopped : CompleteOldest();
  }
  RefreshBlockedKeys(/*force=*/false);

  bool caught_up = true;
  if (CanReadAhead() && !ReadAndSend(caught_up)) {
    return in_flight_.empty() ? BackOff() : CompleteOldest();
  }
  if (in_flight_.empty()) {
    // Everything read was settled without sending (dead letters), or
    // nothing was due.
    if (!unsettled_.empty()) return Step::kPublished;
    return Idle();
  }
  // Read further ahead while there is room and rows are waiting; otherwise
  // collect the oldest batch.
  if (!caught_up && CanReadAhead()) return Step::kPublished;
  return CompleteOldest();
}

bool RelayLoop::CanReadAhead() const {
  if (in_flight_.empty()) return true;
  if (one_at_a_time_) return false;
  // A whole batch must fit: reads always ask for batch_size rows, so the
  // store can keep one prepared statement per batch size.
  return in_flight_rows_ + options_.batch_size <= options_.max_in_flight_rows &&
         in_flight_bytes_ < options_.max_in_flight_bytes;
}

ReadRequest RelayLoop::NextRead() const {
  ReadRequest request;
  request.max_rows = options_.batch_size;
  request.max_bytes = options_.max_in_flight_bytes - in_flight_bytes_;
  request.max_message_bytes = options_.max_message_bytes;
  request.in_flight.reserve(in_flight_rows_);
  for (const InFlightBatch& batch : in_flight_) {
    for (const OutboxMessage& row : batch.rows) request.in_flight.push_back(row.id);
  }
  // Delivered rows whose write-back is under way are still in the table.
  if (const Settlement* settling = write_back_ ? write_back_->settlement() : nullptr) {
    for (const Delivered& row : settling->delivered) request.in_flight.push_back(row.id);
  }
  // Each batch is sorted, but a later one may hold a row that committed late
  // with an id below an earlier batch's.
  std::sort(request.in_flight.begin(), request.in_flight.end());
  return request;
}

bool RelayLoop::ReadAndSend(bool& caught_up) {
  const ReadRequest request = NextRead();
  InFlightBatch batch;
  batch.read_started = SteadyClock::now();
  Result<std::vector<OutboxMessage>> rows = store_.ReadBatch(request);
  observer_.OnStoreResult(rows.ok());
  if (!rows.ok()) {
    LogWarn("reading the outbox failed; backing off",
            {{"code", StatusCodeName(rows.status().code())},
             {"error", rows.status().message()},
             {"failures", loop_backoff_.failures() + 1}});
    return false;
  }
  caught_up = rows->size() < request.max_rows;
  // Rows come lowest id first (the store's contract).
  const bool new_rows = !rows->empty() && rows->back().id > highest_id_read_;
  if (new_rows) highest_id_read_ = rows->back().id;
  RecordWakeup(new_rows);
  if (rows->empty()) return true;
  batch.read = rows->size();
  batch.rows.reserve(rows->size());
  for (OutboxMessage& row : *rows) {
    if (row.key && batch.held_keys.count(*row.key) > 0) continue;  // stays pending
    std::optional<Rejection> rejection;
    if (!row.defect.empty()) {
      rejection = Rejection{row.defect_reason, row.defect};
    } else {
      rejection = sink_.Precheck(row);
    }
    if (rejection) {
      DeadLetterRow(row, rejection->reason, rejection->detail, batch.held_keys, batch.progress);
      continue;
    }
    batch.bytes += static_cast<int64_t>((row.key ? row.key->size() : 0) +
                                        (row.payload ? row.payload->size() : 0));
    batch.rows.push_back(std::move(row));
  }
  if (batch.rows.empty()) {
    // Only dead letters: settled with the next write-back.
    if (batch.progress.dead_lettered > 0) RefreshBlockedKeys(/*force=*/true);
    loop_backoff_.Reset();
    return true;
  }
  batch.sent_at = SteadyClock::now();
  sink_.Send(batch.rows);
  in_flight_rows_ += batch.rows.size();
  in_flight_bytes_ += batch.bytes;
  in_flight_.push_back(std::move(batch));
  ReportInFlight();
  return true;
}

RelayLoop::Step RelayLoop::CompleteOldest() {
  InFlightBatch batch = std::move(in_flight_.front());
  in_flight_.pop_front();
  std::vector<DeliveryOutcome> outcomes =
      sink_.AwaitOldest([&] { return ShouldGiveUp(batch.sent_at); });
  in_flight_rows_ -= batch.rows.size();
  in_flight_bytes_ -= batch.bytes;
  ReportInFlight();
  observer_.OnSinkResult(std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) {
    return o.kind == DeliveryKind::kDelivered;
  }));
  DecideOutcomes(batch, outcomes);
  const BatchProgress& progress = batch.progress;
  WriteBack();
  observer_.OnBatch(batch.read,
                    std::chrono::duration<double>(SteadyClock::now() - batch.read_started).count());
  if (progress.dead_lettered > 0) RefreshBlockedKeys(/*force=*/true);
  if (in_flight_.empty()) troubled_keys_.clear();
  one_at_a_time_ = progress.troubled;

  // Batches that were in flight with a fatal one failed on the same
  // producer: together they count once.
  if (progress.fatal && fatal_shadow_ > 0) {
    --fatal_shadow_;
  } else {
    consecutive_fatal_ = progress.fatal ? consecutive_fatal_ + 1 : 0;
    fatal_shadow_ = progress.fatal ? in_flight_.size() : 0;
  }
  if (consecutive_fatal_ >= options_.max_consecutive_fatal) {
    LogError("the kafka producer keeps failing fatally; exiting so that it starts afresh",
             {{"batches", consecutive_fatal_}});
    return Step::kFatal;
  }
  if (progress.delivered + progress.dead_lettered == 0) {
    return stop_.requested() ? Step::kPublished : BackOff();
  }
  loop_backoff_.Reset();
  return Step::kPublished;
}

void RelayLoop::DecideOutcomes(InFlightBatch& batch, std::vector<DeliveryOutcome>& outcomes) {
  const std::vector<OutboxMessage>& rows = batch.rows;
  BatchProgress& progress = batch.progress;
  std::set<std::string>& held_keys = batch.held_keys;
  // Keys with a row not delivered (from this batch, or from an earlier batch
  // while this one was in flight).
  std::set<std::string>& undelivered_keys = troubled_keys_;
  // With later batches in flight, a row cannot be sent alone or retried
  // without overtaking them: it stays pending, charged nothing, and the loop
  // goes one batch at a time until it is handled.
  const bool alone = in_flight_.empty();
  const bool outage = std::none_of(outcomes.begin(), outcomes.end(), [](const auto& o) {
    return o.kind == DeliveryKind::kDelivered || o.kind == DeliveryKind::kRejected;
  });

  for (size_t i = 0; i < rows.size(); ++i) {
    const OutboxMessage& row = rows[i];
    DeliveryOutcome& outcome = outcomes[i];
    // A row behind a dead-lettered (block_key) or undelivered earlier row of
    // its key waits: sending it now would overtake that row.
    const bool must_wait =
        row.key && (held_keys.count(*row.key) > 0 || undelivered_keys.count(*row.key) > 0);
    // A permanent error fails the whole produce request, healthy rows with
    // it: send a rejected row alone before believing it is poison.
    if (outcome.kind == DeliveryKind::kRejected && rows.size() > 1 && !must_wait && alone) {
      LogInfo("the broker rejected a row sent with others; sending it alone before judging it",
              {{"id", row.id}, {"reason", outcome.reason}});
      const auto resent = SteadyClock::now();
      outcome = sink_.Publish(std::span(&row, 1), [&] { return ShouldGiveUp(resent); }).front();
    }
    if (outcome.kind == DeliveryKind::kDelivered) {
      if (row.key && undelivered_keys.count(*row.key) > 0) {
        LogWarn("a row was delivered after an earlier row of its key failed; order broken",
                {{"id", row.id}, {"key", Abbreviated(*row.key)}});
      }
      unsettled_.delivered.push_back({row.id, outcome.partition, outcome.offset});
      observer_.OnDelivered(row, outcome);
      ++progress.delivered;
      continue;
    }
    progress.troubled = true;
    if (row.key) undelivered_keys.insert(*row.key);
    observer_.OnNotDelivered(row, outcome);
    if (must_wait || !alone) continue;  // stays pending, charged nothing
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
  const size_t failed = rows.size() - progress.delivered;
  if (failed > 0) {
    const auto first = std::find_if(outcomes.begin(), outcomes.end(), [](const auto& o) {
      return o.kind != DeliveryKind::kDelivered;
    });
    LogWarn(outage ? "nothing in the batch was delivered; backing off"
                   : "some messages were not delivered",
            {{"failed", failed},
             {"batch", rows.size()},
             {"kind", DeliveryKindName(first->kind)},
             {"reason", first->reason},
             {"error", first->detail}});
  }
}

RelayLoop::Step RelayLoop::Idle() {
  sink_.Poll();
  // What this wake-up finds is known after the next read (RecordWakeup).
  last_wakeup_ = store_.AwaitNewRows(idle_waits_.next(), stop_);
  return Step::kIdle;
}

void RelayLoop::RecordWakeup(bool new_rows) {
  if (!last_wakeup_) return;
  const bool listening = store_.listening();
  const IdleWaits::Change change = idle_waits_.Record(*last_wakeup_, listening, new_rows);
  last_wakeup_.reset();
  if (change == IdleWaits::Change::kNotificationsLost) {
    LogWarn(
        "new rows keep arriving without a notification; polling instead (is a "
        "transaction-pooling PgBouncer between the relay and the database?)",
        {{"polls", IdleWaits::kUnannouncedLimit}});
  } else if (change == IdleWaits::Change::kNotificationsBack) {
    LogInfo("notifications of new rows are arriving again");
  }
  observer_.OnNotifications(idle_waits_.notifications_working());
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
          {{"id", row.id},
           {"topic", Abbreviated(row.topic)},
           {"key", Abbreviated(KeyOf(row))},
           {"reason", reason},
           {"error", Abbreviated(error)}});
}

void RelayLoop::ScheduleRetry(const OutboxMessage& row, const DeliveryOutcome& outcome,
                              std::set<std::string>& held_keys, BatchProgress& progress) {
  const int attempts = row.attempts + 1;
  if (options_.max_attempts > 0 && attempts >= options_.max_attempts) {
    DeadLetterRow(row, kMaxAttempts,
                  "gave up after " + std::to_string(attempts) +
                      " attempts; last error: " + outcome.reason + ": " + outcome.detail,
                  held_keys, progress);
    return;
  }
  unsettled_.retries.push_back(
      {row.id, outcome.reason + ": " + outcome.detail, row_backoff_.DelayAfter(attempts)});
  observer_.OnRetryScheduled(row, outcome.reason);
}

bool RelayLoop::CollectWriteBack(bool wait) {
  if (!write_back_ || !write_back_->pending() || !(wait || write_back_->finished())) return true;
  Settlement failed;
  const Status status = write_back_->Collect(&failed);
  observer_.OnStoreResult(status.ok());
  if (status.ok()) return true;
  LogWarn("writing back delivered rows failed; will retry before reading more",
          {{"delivered", failed.delivered.size()},
           {"code", StatusCodeName(status.code())},
           {"error", status.message()}});
  // Written back together with what came since.
  for (Delivered& row : failed.delivered) unsettled_.delivered.push_back(row);
  write_back_failing_ = true;
  return false;
}

bool RelayLoop::WriteBack() {
  // One write-back at a time: a new one waits for the one under way.
  if (!CollectWriteBack(/*wait=*/!unsettled_.empty())) return false;
  if (unsettled_.empty()) return true;
  const bool background = write_back_ && !write_back_->pending() && !write_back_failing_ &&
                          unsettled_.dead_letters.empty() && unsettled_.retries.empty();
  if (!background) {
    if (!Settle()) return false;
    write_back_failing_ = false;
    return true;
  }
  write_back_->Start(std::move(unsettled_));
  unsettled_.clear();
  return true;
}

bool RelayLoop::Settle() {
  const Status status = store_.Settle(unsettled_);
  observer_.OnStoreResult(status.ok());
  if (!status.ok()) {
    LogWarn("writing back the batch's outcome failed; will retry before reading more",
            {{"delivered", unsettled_.delivered.size()},
             {"dead_letters", unsettled_.dead_letters.size()},
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

void RelayLoop::ReportInFlight() { observer_.OnInFlight(in_flight_rows_); }

bool RelayLoop::ShouldGiveUp(SteadyClock::time_point sent_at) const {
  const auto now = SteadyClock::now();
  if (now - sent_at >= options_.publish_timeout) return true;
  const auto stop_at = stop_.requested_at();
  return stop_at && now - *stop_at >= options_.drain_timeout;
}

}  // namespace outbox
