// Reads what a topic promises about durability (replication factor from
// metadata; min.insync.replicas and unclean.leader.election.enable from
// DescribeConfigs) on its own librdkafka client, so a slow or unanswered
// admin request never holds up publishing.
//
// Threading: Describe() from any one thread; CheckInBackground() from any
// thread; checks run on the inspector's own thread and only log.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "config/config.h"
#include "sink/topic_durability.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace outbox {

class TopicInspector {
 public:
  static Result<std::unique_ptr<TopicInspector>> Create(const KafkaConfig& config);
  ~TopicInspector();

  Result<TopicDurability> Describe(const std::string& topic, std::chrono::milliseconds timeout);
  // Describes the topic on the inspector's thread and logs each weakness.
  void CheckInBackground(const std::string& topic);

 private:
  explicit TopicInspector(rd_kafka_t* client);
  void Work();
  bool stopping() const;

  rd_kafka_t* client_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace outbox
