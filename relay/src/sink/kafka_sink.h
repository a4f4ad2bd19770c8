// Sink on Kafka via librdkafka: the only place that produces. librdkafka
// errors stop here and become DeliveryOutcomes.
//
// Threading: one thread at a time. Delivery reports are served only from
// poll() on that thread, so no locking is needed around them.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "core/sink.h"
#include "sink/kafka_conf.h"
#include "sink/kafka_stats.h"
#include "sink/topic_inspector.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;

namespace outbox {

class KafkaSink : public Sink {
 public:
  static Result<std::unique_ptr<KafkaSink>> Create(const KafkaConfig& config);
  ~KafkaSink() override;

  void Send(std::span<const OutboxMessage> batch) override;
  std::vector<DeliveryOutcome> AwaitOldest(const GiveUp& give_up) override;

  // Checks the topic name and the size against message.max.bytes.
  std::optional<Rejection> Precheck(const OutboxMessage& message) const override;

  void Poll() override;

  // Receives librdkafka's statistics every statistics.interval.ms, from
  // any call that polls, on the caller's thread.
  void set_stats_handler(std::function<void(const KafkaStats&)> handler) {
    stats_handler_ = std::move(handler);
  }

  // Topics published to for the first time are handed to the inspector,
  // which checks their durability settings in the background.
  void set_topic_inspector(TopicInspector* inspector) { inspector_ = inspector; }

  // message.timeout.ms in effect: librdkafka reports every message by then.
  std::chrono::milliseconds message_timeout() const { return message_timeout_; }
  // The largest message the producer accepts (message.max.bytes).
  int64_t message_max_bytes() const { return message_max_bytes_; }

 private:
  explicit KafkaSink(KafkaConfig config);
  Status Connect();
  void Disconnect();
  // A batch sent and not yet collected. Its messages carry sequence numbers
  // first_seq, first_seq + 1, ... as their opaque, to find it by.
  struct InFlight {
    uint64_t first_seq = 0;
    std::vector<DeliveryOutcome> outcomes;
    size_t outstanding = 0;
  };
  void Enqueue(std::span<const OutboxMessage> batch, InFlight& in_flight);
  // Withdraws whatever is still queued or in flight so no report for these
  // batches can arrive later; the producer is rebuilt before the next batch.
  void Withdraw();
  size_t outstanding() const;
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

  KafkaConfig config_;
  std::chrono::milliseconds message_timeout_{30000};
  int64_t message_max_bytes_ = 1000000;
  rd_kafka_t* producer_ = nullptr;
  bool rebuild_needed_ = false;
  static int OnStatistics(rd_kafka_t*, char* json, size_t size, void* opaque);

  TopicInspector* inspector_ = nullptr;
  std::function<void(const KafkaStats&)> stats_handler_;
  std::set<std::string> seen_topics_;
  // Batches sent, oldest first; written by OnDelivery during poll().
  std::deque<InFlight> in_flight_;
  uint64_t next_seq_ = 0;
};

}  // namespace outbox
