#include "metrics/relay_metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>

#include "metrics/process_metrics.h"

namespace outbox {
namespace {

int64_t ToNanos(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// 1 ms .. 120 s: resolves both a healthy millisecond path and a minute-long
// outage.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

}  // namespace

RelayMetrics::RelayMetrics(const std::string& version, Now now)
    : now_(now),
      registry_(std::make_shared<prometheus::Registry>()),
      published_(prometheus::BuildCounter()
                     .Name("outbox_relay_messages_published_total")
                     .Help("Messages acknowledged by the broker (acks=all), by topic.")
                     .Register(*registry_)),
      publish_errors_(prometheus::BuildCounter()
                          .Name("outbox_relay_publish_errors_total")
                          .Help("Messages not delivered, by bounded reason; the rows stay pending.")
                          .Register(*registry_)),
      dead_lettered_(prometheus::BuildCounter()
                         .Name("outbox_relay_dead_lettered_total")
                         .Help("Rows moved to outbox_dead_letter, by reason.")
                         .Register(*registry_)),
      retries_(prometheus::BuildCounter()
                   .Name("outbox_relay_retries_total")
                   .Help("Row-specific retries scheduled (the row waits, and so do later rows "
                         "of its key), by reason.")
                   .Register(*registry_)),
      blocked_keys_(prometheus::BuildGauge()
                        .Name("outbox_relay_blocked_keys")
                        .Help("Keys whose rows wait behind a dead letter "
                              "(on_undeliverable: block_key) until an operator acts.")
                        .Register(*registry_)
                        .Add({})),
      oldest_pending_age_(
          prometheus::BuildGauge()
              .Name("outbox_relay_oldest_pending_age_seconds")
              .Help("Age of the lowest-id row in the outbox (its commit time when "
                    "track_commit_timestamp is on, else created_at), read every "
                    "metrics.refresh_interval_ms and growing between reads; 0 when empty. "
                    "The delivery-lag SLI.")
              .Register(*registry_)
              .Add({})),
      pending_(prometheus::BuildGauge()
                   .Name("outbox_relay_pending_messages")
                   .Help("Rows in the outbox: exact up to 10000, above that PostgreSQL's "
                         "live-tuple estimate (pg_stat_user_tables.n_live_tup).")
                   .Register(*registry_)
                   .Add({})),
      oldest_open_transaction_age_(
          prometheus::BuildGauge()
              .Name("outbox_relay_oldest_open_transaction_age_seconds")
              .Help("Age of the oldest still-open transaction in the database that has "
                    "written something: outbox rows it inserted are invisible to the relay "
                    "until it commits (the invisible backlog), and it holds back vacuum. "
                    "0 when none (needs pg_monitor to see other roles' sessions).")
              .Register(*registry_)
              .Add({})),
      delivery_latency_(
          prometheus::BuildHistogram()
              .Name("outbox_relay_delivery_latency_seconds")
              .Help("From the row's commit (with track_commit_timestamp on; else its created_at, "
                    "the inserting transaction's start) to the broker ack.")
              .Register(*registry_)
              .Add({}, LatencyBuckets())),
      postgres_up_(prometheus::BuildGauge()
                       .Name("outbox_relay_postgres_up")
                       .Help("1 if the last database operation succeeded.")
                       .Register(*registry_)
                       .Add({})),
      kafka_up_(prometheus::BuildGauge()
                    .Name("outbox_relay_kafka_up")
                    .Help("1 while the relay knows a broker is reachable: the producer's "
                          "statistics report a connected broker, or the last batch got an "
                          "acknowledgement; 0 when neither, and until the first report "
                          "after start.")
                    .Register(*registry_)
                    .Add({})),
      last_success_(prometheus::BuildGauge()
                        .Name("outbox_relay_last_success_timestamp_seconds")
                        .Help("Unix time of the last broker acknowledgement.")
                        .Register(*registry_)
                        .Add({})),
      leader_(prometheus::BuildGauge()
                  .Name("outbox_relay_leader")
                  .Help("1 while this instance holds shard leases and publishes; "
                        "0 while it stands by.")
                  .Register(*registry_)
                  .Add({})),
      shards_(prometheus::BuildGauge()
                  .Name("outbox_relay_shards")
                  .Help("Shards the outbox is split into (schema/0005).")
                  .Register(*registry_)
                  .Add({})),
      shards_owned_(prometheus::BuildGauge()
                        .Name("outbox_relay_shards_owned")
                        .Help("Outbox shards this instance holds a lease on.")
                        .Register(*registry_)
                        .Add({})),
      instances_(prometheus::BuildGauge()
                     .Name("outbox_relay_instances")
                     .Help("Live relay instances sharing the outbox, as this one sees them.")
                     .Register(*registry_)
                     .Add({})),
      lease_epoch_(prometheus::BuildGauge()
                       .Name("outbox_relay_lease_epoch")
                       .Help("Fencing epoch of this instance's lease per shard (0 = not held).")
                       .Register(*registry_)),
      handovers_(prometheus::BuildCounter()
                     .Name("outbox_relay_shard_handovers_total")
                     .Help("Shards this instance acquired, released (handed over) or lost "
                           "(its lease ran out and another instance claimed it).")
                     .Register(*registry_)),
      notify_working_(prometheus::BuildGauge()
                          .Name("outbox_relay_notify_working")
                          .Help("1 while notifications from the outbox_notify trigger wake the "
                                "relay; 0 while it polls (no trigger, or notifications lost, "
                                "e.g. behind a transaction-pooling PgBouncer).")
                          .Register(*registry_)
                          .Add({})),
      in_flight_(prometheus::BuildGauge()
                     .Name("outbox_relay_in_flight_messages")
                     .Help("Messages handed to the producer and not yet reported.")
                     .Register(*registry_)
                     .Add({})),
      batch_size_(prometheus::BuildHistogram()
                      .Name("outbox_relay_batch_size")
                      .Help("Rows per batch read from the outbox.")
                      .Register(*registry_)
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 50, 100, 250, 500,
                                                                       1000, 2500, 5000, 10000})),
      batch_duration_(prometheus::BuildHistogram()
                          .Name("outbox_relay_batch_duration_seconds")
                          .Help("A batch from read to settled (published, acknowledged, "
                                "written back).")
                          .Register(*registry_)
                          .Add({}, LatencyBuckets())),
      kafka_queue_messages_(prometheus::BuildGauge()
                                .Name("outbox_relay_kafka_queue_messages")
                                .Help("Messages in librdkafka's producer queue "
                                      "(statistics.interval.ms).")
                                .Register(*registry_)
                                .Add({})),
      kafka_queue_bytes_(prometheus::BuildGauge()
                             .Name("outbox_relay_kafka_queue_bytes")
                             .Help("Bytes in librdkafka's producer queue.")
                             .Register(*registry_)
                             .Add({})),
      kafka_brokers_up_(prometheus::BuildGauge()
                            .Name("outbox_relay_kafka_brokers_up")
                            .Help("Brokers the producer is connected to.")
                            .Register(*registry_)
                            .Add({})),
      kafka_broker_rtt_(prometheus::BuildGauge()
                            .Name("outbox_relay_kafka_broker_rtt_seconds")
                            .Help("Average request round trip to each broker, by node id.")
                            .Register(*registry_)),
      sent_rows_(prometheus::BuildGauge()
                     .Name("outbox_relay_sent_rows")
                     .Help("Rows kept in the outbox as sent (relay.on_ack: mark_sent) until "
                           "relay.sent_retention removes them; an estimate above 100,000.")
                     .Register(*registry_)
                     .Add({})),
      retention_removed_(prometheus::BuildCounter()
                             .Name("outbox_relay_retention_removed_total")
                             .Help("Rows removed by retention, one by one (relay.sent_retention "
                                   "from the outbox, relay.dead_letter_retention from the "
                                   "dead letters); dropped partitions are counted apart.")
                             .Register(*registry_)),
      partitions_dropped_(prometheus::BuildCounter()
                              .Name("outbox_relay_partitions_dropped_total")
                              .Help("Partitions of a partitioned outbox dropped by retention "
                                    "(every row in them sent longer ago than "
                                    "relay.sent_retention).")
                              .Register(*registry_)
                              .Add({})),
      partitions_ahead_(prometheus::BuildGauge()
                            .Name("outbox_relay_partitions_ahead")
                            .Help("Partitioned outbox only: days of partitions ready beyond "
                                  "today. At 0, tomorrow's rows land in outbox_default.")
                            .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("outbox_relay_build_info")
      .Help("Always 1; the version is in the label.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  for (const char* event : {"acquired", "released", "lost"}) handovers_.Add({{"event", event}});
  for (const char* table : {kRetentionOutbox, kRetentionDeadLetters}) {
    retention_removed_.Add({{"table", table}});
  }
  OnHeartbeat();
}

void RelayMetrics::OnRetention(const RetentionReport& report) {
  sent_rows_.Set(static_cast<double>(report.sent_rows));
  retention_removed_.Add({{"table", kRetentionOutbox}})
      .Increment(static_cast<double>(report.sent_rows_removed));
  retention_removed_.Add({{"table", kRetentionDeadLetters}})
      .Increment(static_cast<double>(report.dead_letters_removed));
  partitions_dropped_.Increment(static_cast<double>(report.partitions_dropped));
  // Exported only for a partitioned outbox, where 0 is worth an alert.
  if (report.partitions_ahead) partitions_ahead_.Add({}).Set(*report.partitions_ahead);
}

void RelayMetrics::Prime(const KnownLabels& labels) {
  for (const std::string& topic : labels.topics) PublishedCounter(topic);
  for (const std::string& reason : labels.publish_error_reasons) {
    publish_errors_.Add({{"reason", reason}});
  }
  for (const std::string& reason : labels.dead_letter_reasons) {
    dead_lettered_.Add({{"reason", reason}});
  }
  for (const std::string& reason : labels.retry_reasons) retries_.Add({{"reason", reason}});
}

prometheus::Counter& RelayMetrics::PublishedCounter(const std::string& topic) {
  std::lock_guard lock(counters_mutex_);
  auto& slot = published_by_topic_[topic];
  if (slot == nullptr) slot = &published_.Add({{"topic", topic}});
  return *slot;
}

void RelayMetrics::SetKafkaHealth(KafkaHealth health) {
  kafka_health_ = health;
  kafka_up_.Set(health == KafkaHealth::kUp ? 1 : 0);
}

void RelayMetrics::OnKafkaReachable() { SetKafkaHealth(KafkaHealth::kUp); }

void RelayMetrics::OnInFlight(size_t rows) { in_flight_.Set(static_cast<double>(rows)); }

void RelayMetrics::OnBatch(size_t rows, double seconds) {
  batch_size_.Observe(static_cast<double>(rows));
  batch_duration_.Observe(seconds);
}

void RelayMetrics::OnKafkaStats(int64_t queued_messages, int64_t queued_bytes, int brokers_up,
                                const std::map<int32_t, double>& rtt_seconds_by_broker) {
  kafka_queue_messages_.Set(static_cast<double>(queued_messages));
  kafka_queue_bytes_.Set(static_cast<double>(queued_bytes));
  kafka_brokers_up_.Set(brokers_up);
  // An idle relay sends nothing, so only the statistics can tell it that
  // every broker went away.
  SetKafkaHealth(brokers_up > 0 ? KafkaHealth::kUp : KafkaHealth::kDown);
  for (const auto& [broker, rtt] : rtt_seconds_by_broker) {
    kafka_broker_rtt_.Add({{"broker", std::to_string(broker)}}).Set(rtt);
  }
}

void RelayMetrics::OnBacklog(const Backlog& backlog) {
  const auto now = now_();
  auto observed = [now](std::optional<double> age) -> std::optional<ObservedAge> {
    if (!age) return std::nullopt;
    return ObservedAge{*age, now};
  };
  {
    std::lock_guard lock(ages_mutex_);
    oldest_pending_ = observed(backlog.oldest_pending_age_seconds);
    oldest_open_transaction_ = observed(backlog.oldest_open_transaction_age_seconds);
  }
  pending_.Set(static_cast<double>(backlog.pending));
}

double RelayMetrics::AgeNow(const std::optional<ObservedAge>& age,
                            SteadyClock::time_point now) const {
  if (!age) return 0;
  return std::max(0.0,
                  age->seconds + std::chrono::duration<double>(now - age->observed_at).count());
}

void RelayMetrics::OnDelivered(const OutboxMessage& message, const DeliveryOutcome& outcome) {
  PublishedCounter(message.topic).Increment();
  const double since_read =
      std::chrono::duration<double>(outcome.reported_at - message.read_at).count();
  delivery_latency_.Observe(message.age_at_read_seconds + std::max(since_read, 0.0));
}

void RelayMetrics::OnNotDelivered(const OutboxMessage&, const DeliveryOutcome& outcome) {
  publish_errors_
      .Add({{"reason", outcome.reason.empty() ? DeliveryKindName(outcome.kind) : outcome.reason}})
      .Increment();
}

void RelayMetrics::OnDeadLettered(const OutboxMessage&, const std::string& reason) {
  dead_lettered_.Add({{"reason", reason}}).Increment();
}

void RelayMetrics::OnRetryScheduled(const OutboxMessage&, const std::string& reason) {
  retries_.Add({{"reason", reason}}).Increment();
}

void RelayMetrics::OnBlockedKeys(int64_t count) { blocked_keys_.Set(static_cast<double>(count)); }

void RelayMetrics::OnLeases(const LeaseReport& report) {
  leader_.Set(report.owned > 0 ? 1 : 0);
  shards_.Set(report.shard_count);
  shards_owned_.Set(report.owned);
  instances_.Set(report.live_instances);
  // One series per shard (a small, fixed number: schema/0005).
  for (int shard = 0; shard < report.shard_count; ++shard) {
    const auto held = report.epochs.find(shard);
    lease_epoch_.Add({{"shard", std::to_string(shard)}})
        .Set(held == report.epochs.end() ? 0 : static_cast<double>(held->second));
  }
  handovers_.Add({{"event", "acquired"}}).Increment(report.acquired);
  handovers_.Add({{"event", "released"}}).Increment(report.released);
  handovers_.Add({{"event", "lost"}}).Increment(report.lost);
}

void RelayMetrics::OnStoreResult(bool ok) {
  postgres_ok_ = ok;
  postgres_up_.Set(ok ? 1 : 0);
}

void RelayMetrics::OnSinkResult(bool any_delivered) {
  SetKafkaHealth(any_delivered ? KafkaHealth::kUp : KafkaHealth::kDown);
  if (any_delivered) last_success_.Set(UnixSeconds());
}

void RelayMetrics::OnHeartbeat() { heartbeat_ns_ = ToNanos(SteadyClock::now()); }

SteadyClock::time_point RelayMetrics::last_heartbeat() const {
  return SteadyClock::time_point(std::chrono::nanoseconds(heartbeat_ns_.load()));
}

std::string RelayMetrics::Scrape() {
  const auto now = now_();
  {
    std::lock_guard lock(ages_mutex_);
    oldest_pending_age_.Set(AgeNow(oldest_pending_, now));
    oldest_open_transaction_age_.Set(AgeNow(oldest_open_transaction_, now));
  }
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : CollectProcessMetrics()) {
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace outbox
