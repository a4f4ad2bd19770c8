#include "inbox_metrics.h"

namespace outbox::inbox {
namespace {

prometheus::Family<prometheus::Counter>& Counters(prometheus::Registry& registry,
                                                  const std::string& name,
                                                  const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

}  // namespace

InboxMetrics::InboxMetrics(std::shared_ptr<prometheus::Registry> registry,
                           const std::string& consumer)
    : registry_(std::move(registry)),
      consumer_(consumer),
      messages_(Counters(*registry_, "outbox_inbox_messages_total",
                         "Messages decided, by outcome: applied (the handler committed), "
                         "duplicate (dropped: already in the inbox), held (behind a gap), "
                         "dead_lettered")),
      applied_(messages_.Add({{"consumer", consumer}, {"outcome", "applied"}})),
      duplicates_(messages_.Add({{"consumer", consumer}, {"outcome", "duplicate"}})),
      held_(messages_.Add({{"consumer", consumer}, {"outcome", "held"}})),
      dead_lettered_(messages_.Add({{"consumer", consumer}, {"outcome", "dead_lettered"}})),
      dead_letters_(Counters(*registry_, "outbox_inbox_dead_letters_total",
                             "Messages moved to inbox_dead_letter, by reason")),
      breaks_(Counters(*registry_, "outbox_inbox_sequence_breaks_total",
                       "outbox-seq numbers that were not the next of their key: gap (higher), "
                       "reorder (at or below the last applied)")),
      gaps_(breaks_.Add({{"consumer", consumer}, {"kind", "gap"}})),
      reorders_(breaks_.Add({{"consumer", consumer}, {"kind", "reorder"}})),
      handler_errors_(Counters(*registry_, "outbox_inbox_handler_errors_total",
                               "Handler runs that threw (each rolled back)")
                          .Add({{"consumer", consumer}})),
      store_errors_(Counters(*registry_, "outbox_inbox_store_errors_total",
                             "Inbox transactions lost to the database (retried)")
                        .Add({{"consumer", consumer}})),
      retention_removed_(Counters(*registry_, "outbox_inbox_retention_removed_total",
                                  "Inbox rows removed by retention")
                             .Add({{"consumer", consumer}})),
      lag_(prometheus::BuildGauge()
               .Name("outbox_inbox_lag_messages")
               .Help("Messages in the partition's log after the last one applied, per assigned "
                     "partition")
               .Register(*registry_)) {}

void InboxMetrics::Decided(Outcome outcome) {
  switch (outcome) {
    case Outcome::kApplied:
      applied_.Increment();
      break;
    case Outcome::kDuplicate:
      duplicates_.Increment();
      break;
    case Outcome::kHeld:
      held_.Increment();
      break;
    case Outcome::kDeadLettered:
      dead_lettered_.Increment();
      break;
    case Outcome::kStopped:
      break;
  }
}

void InboxMetrics::DeadLettered(const std::string& reason) {
  dead_letters_.Add({{"consumer", consumer_}, {"reason", reason}}).Increment();
}

void InboxMetrics::SequenceBreak(SequenceBreak::Kind kind) {
  (kind == SequenceBreak::Kind::kGap ? gaps_ : reorders_).Increment();
}

void InboxMetrics::SetLags(const std::vector<PartitionLag>& lags) {
  for (const PartitionLag& lag : lags) {
    auto [it, added] = lag_series_.try_emplace({lag.topic, lag.partition}, nullptr);
    if (added) {
      it->second = &lag_.Add({{"consumer", consumer_},
                              {"topic", lag.topic},
                              {"partition", std::to_string(lag.partition)}});
    }
    it->second->Set(static_cast<double>(lag.lag));
  }
}

void InboxMetrics::DropLag(const std::string& topic, int32_t partition) {
  auto it = lag_series_.find({topic, partition});
  if (it == lag_series_.end()) return;
  lag_.Remove(it->second);
  lag_series_.erase(it);
}

}  // namespace outbox::inbox
