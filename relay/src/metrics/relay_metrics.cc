#include "metrics/relay_metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>

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

RelayMetrics::RelayMetrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
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
              .Help("Age of the lowest-id pending outbox row (created_at, database clock) "
                    "as last read, growing until the next read; 0 when the outbox is empty. "
                    "The delivery-lag SLI.")
              .Register(*registry_)
              .Add({})),
      delivery_latency_(
          prometheus::BuildHistogram()
              .Name("outbox_relay_delivery_latency_seconds")
              .Help("From the row's created_at (insert time, database clock) to the broker ack.")
              .Register(*registry_)
              .Add({}, LatencyBuckets())),
      postgres_up_(prometheus::BuildGauge()
                       .Name("outbox_relay_postgres_up")
                       .Help("1 if the last database operation succeeded.")
                       .Register(*registry_)
                       .Add({})),
      kafka_up_(prometheus::BuildGauge()
                    .Name("outbox_relay_kafka_up")
                    .Help("1 unless the last batch got no acknowledgement at all.")
                    .Register(*registry_)
                    .Add({})),
      last_success_(prometheus::BuildGauge()
                        .Name("outbox_relay_last_success_timestamp_seconds")
                        .Help("Unix time of the last broker acknowledgement.")
                        .Register(*registry_)
                        .Add({})),
      leader_(prometheus::BuildGauge()
                  .Name("outbox_relay_leader")
                  .Help("1 while this instance holds the outbox lock and publishes; "
                        "0 while it stands by.")
                  .Register(*registry_)
                  .Add({})) {
  prometheus::BuildGauge()
      .Name("outbox_relay_build_info")
      .Help("Always 1; the version is in the label.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  kafka_up_.Set(1);
  OnHeartbeat();
}

void RelayMetrics::OnOldestPending(std::optional<SteadyClock::time_point> since) {
  oldest_pending_since_ns_ = since ? std::max<int64_t>(ToNanos(*since), 1) : 0;
}

void RelayMetrics::OnDelivered(const OutboxMessage& message, const DeliveryOutcome& outcome) {
  prometheus::Counter* counter;
  {
    std::lock_guard lock(counters_mutex_);
    auto& slot = published_by_topic_[message.topic];
    if (slot == nullptr) slot = &published_.Add({{"topic", message.topic}});
    counter = slot;
  }
  counter->Increment();
  const double since_read =
      std::chrono::duration<double>(outcome.reported_at - message.read_at).count();
  delivery_latency_.Observe(message.age_at_read_seconds + std::max(since_read, 0.0));
}

void RelayMetrics::OnNotDelivered(const OutboxMessage&, const DeliveryOutcome& outcome) {
  publish_errors_.Add({{"reason", outcome.reason.empty() ? "unknown" : outcome.reason}})
      .Increment();
}

void RelayMetrics::OnDeadLettered(const OutboxMessage&, const std::string& reason) {
  dead_lettered_.Add({{"reason", reason}}).Increment();
}

void RelayMetrics::OnRetryScheduled(const OutboxMessage&, const std::string& reason) {
  retries_.Add({{"reason", reason}}).Increment();
}

void RelayMetrics::OnBlockedKeys(int64_t count) { blocked_keys_.Set(static_cast<double>(count)); }

void RelayMetrics::OnStoreResult(bool ok) {
  postgres_ok_ = ok;
  postgres_up_.Set(ok ? 1 : 0);
}

void RelayMetrics::OnSinkResult(bool any_delivered) {
  kafka_ok_ = any_delivered;
  kafka_up_.Set(any_delivered ? 1 : 0);
  if (any_delivered) last_success_.Set(UnixSeconds());
}

void RelayMetrics::OnHeartbeat() { heartbeat_ns_ = ToNanos(SteadyClock::now()); }

SteadyClock::time_point RelayMetrics::last_heartbeat() const {
  return SteadyClock::time_point(std::chrono::nanoseconds(heartbeat_ns_.load()));
}

std::string RelayMetrics::Scrape() {
  const int64_t since = oldest_pending_since_ns_;
  oldest_pending_age_.Set(since == 0 ? 0.0
                                     : std::max(0.0, (ToNanos(SteadyClock::now()) - since) / 1e9));
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace outbox
