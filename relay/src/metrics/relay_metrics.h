// The relay's Prometheus families, fed by the loop through RelayObserver.
// Thread-safe: the loop writes, the HTTP thread scrapes.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backlog.h"
#include "core/lease_report.h"
#include "core/observer.h"
#include "core/retention_report.h"

namespace outbox {

// Label values known before their first event: their counters are exported
// at 0 from the start, so that increase() sees the first event after a
// restart (a series that appears at 1 has no increase).
struct KnownLabels {
  std::vector<std::string> topics;  // kafka.topics
  std::vector<std::string> publish_error_reasons;
  std::vector<std::string> dead_letter_reasons;
  std::vector<std::string> retry_reasons;
};

// What the relay knows about its brokers.
enum class KafkaHealth {
  kUnknown,  // no broker report yet (just started)
  kUp,       // connected to a broker (statistics) or the last batch got acks
  kDown,     // no broker connected, or the last batch got no ack at all
};

class RelayMetrics : public RelayObserver {
 public:
  // `now` reads the steady clock (injectable: tests run it from near zero,
  // as on a machine just booted).
  using Now = SteadyClock::time_point (*)();
  explicit RelayMetrics(const std::string& version, Now now = &SteadyClock::now);

  void Prime(const KnownLabels& labels);

  void OnInFlight(size_t rows) override;
  void OnBatch(size_t rows, double seconds) override;
  // From the sink's statistics callback.
  void OnKafkaStats(int64_t queued_messages, int64_t queued_bytes, int brokers_up,
                    const std::map<int32_t, double>& rtt_seconds_by_broker);
  // From the BacklogPoller (any thread).
  void OnBacklog(const Backlog& backlog);
  void OnDelivered(const OutboxMessage&, const DeliveryOutcome&) override;
  void OnNotDelivered(const OutboxMessage&, const DeliveryOutcome&) override;
  void OnDeadLettered(const OutboxMessage&, const std::string& reason) override;
  void OnRetryScheduled(const OutboxMessage&, const std::string& reason) override;
  void OnBlockedKeys(int64_t count) override;
  void OnStoreResult(bool ok) override;
  void OnSinkResult(bool any_delivered) override;
  void OnHeartbeat() override;
  void OnNotifications(bool working) override { notify_working_.Set(working ? 1 : 0); }

  // The startup check reached the brokers (kafka.topics described).
  void OnKafkaReachable();

  // After each round of shard lease keeping (another thread).
  void OnLeases(const LeaseReport& report);
  // After each round of retention (another thread).
  void OnRetention(const RetentionReport& report);
  // The `table` label values of outbox_relay_retention_removed_total.
  static constexpr const char* kRetentionOutbox = "outbox";
  static constexpr const char* kRetentionDeadLetters = "outbox_dead_letter";

  // Updates the gauges that are derived from time, then serialises.
  std::string Scrape();

  // For /healthz and /readyz.
  SteadyClock::time_point last_heartbeat() const;
  bool postgres_ok() const { return postgres_ok_; }
  KafkaHealth kafka_health() const { return kafka_health_; }

 private:
  Now now_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& published_;
  prometheus::Family<prometheus::Counter>& publish_errors_;
  prometheus::Family<prometheus::Counter>& dead_lettered_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Gauge& blocked_keys_;
  prometheus::Gauge& oldest_pending_age_;
  prometheus::Gauge& pending_;
  prometheus::Gauge& oldest_open_transaction_age_;
  prometheus::Histogram& delivery_latency_;
  prometheus::Gauge& postgres_up_;
  prometheus::Gauge& kafka_up_;
  prometheus::Gauge& last_success_;
  prometheus::Gauge& leader_;
  prometheus::Gauge& shards_;
  prometheus::Gauge& shards_owned_;
  prometheus::Gauge& instances_;
  prometheus::Family<prometheus::Gauge>& lease_epoch_;
  prometheus::Family<prometheus::Counter>& handovers_;
  prometheus::Gauge& notify_working_;
  prometheus::Gauge& in_flight_;
  prometheus::Histogram& batch_size_;
  prometheus::Histogram& batch_duration_;
  prometheus::Gauge& kafka_queue_messages_;
  prometheus::Gauge& kafka_queue_bytes_;
  prometheus::Gauge& kafka_brokers_up_;
  prometheus::Family<prometheus::Gauge>& kafka_broker_rtt_;
  prometheus::Gauge& sent_rows_;
  prometheus::Family<prometheus::Counter>& retention_removed_;
  prometheus::Counter& partitions_dropped_;
  prometheus::Family<prometheus::Gauge>& partitions_ahead_;

  // An age as the database last reported it, and when (steady clock): it
  // grows from there. Kept as an age, never as a start time on the steady
  // clock, which may be younger than the row (a machine up for 2 s).
  struct ObservedAge {
    double seconds = 0;
    SteadyClock::time_point observed_at{};
  };
  double AgeNow(const std::optional<ObservedAge>& age, SteadyClock::time_point now) const;

  std::mutex ages_mutex_;
  std::optional<ObservedAge> oldest_pending_;
  std::optional<ObservedAge> oldest_open_transaction_;
  std::atomic<int64_t> heartbeat_ns_{0};
  std::atomic<bool> postgres_ok_{false};
  std::atomic<KafkaHealth> kafka_health_{KafkaHealth::kUnknown};
  void SetKafkaHealth(KafkaHealth health);

  // Per-topic counters, looked up without touching the family's map each time.
  std::mutex counters_mutex_;
  std::unordered_map<std::string, prometheus::Counter*> published_by_topic_;
  prometheus::Counter& PublishedCounter(const std::string& topic);
};

}  // namespace outbox
