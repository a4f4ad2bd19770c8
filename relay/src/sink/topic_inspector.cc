#include "sink/topic_inspector.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdlib>

#include "common/log.h"
#include "sink/kafka_conf.h"

namespace outbox {

Result<std::unique_ptr<TopicInspector>> TopicInspector::Create(const KafkaConfig& config) {
  std::vector<KafkaPropertyProblem> problems;
  ConfPtr conf = BuildConf(config, &problems);
  if (!problems.empty()) return Status(StatusCode::kInvalidArgument, problems.front().problem);
  char errstr[512];
  // No statistics callback here: without this, statistics events would pile
  // up on a queue nobody polls.
  rd_kafka_conf_set(conf.get(), "statistics.interval.ms", "0", errstr, sizeof errstr);
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
  if (client == nullptr) return Status(StatusCode::kInvalidArgument, errstr);
  conf.release();  // owned by the client now
  return std::unique_ptr<TopicInspector>(new TopicInspector(client));
}

TopicInspector::TopicInspector(rd_kafka_t* client) : client_(client) {
  thread_ = std::thread([this] { Work(); });
}

TopicInspector::~TopicInspector() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  rd_kafka_destroy(client_);
}

void TopicInspector::CheckInBackground(const std::string& topic) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(topic);
  }
  wake_.notify_all();
}

void TopicInspector::Work() {
  for (;;) {
    std::string name;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      name = queue_.front();
      queue_.pop_front();
    }
    Result<TopicDurability> topic = Describe(name, std::chrono::seconds(2));
    if (!topic.ok()) {
      LogWarn("cannot check the topic's durability settings",
              {{"topic", name}, {"error", topic.status().message()}});
      continue;
    }
    if (!topic->unreadable.empty()) {
      LogInfo("the broker did not report the topic's min.insync.replicas",
              {{"topic", name}, {"error", topic->unreadable}});
    }
    for (const std::string& problem : DurabilityProblems(*topic)) {
      LogWarn("topic may lose acknowledged messages", {{"topic", name}, {"problem", problem}});
    }
  }
}

bool TopicInspector::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

Result<TopicDurability> TopicInspector::Describe(const std::string& name,
                                                 std::chrono::milliseconds timeout) {
  TopicDurability topic;
  topic.topic = name;
  const int timeout_ms = static_cast<int>(timeout.count());

  rd_kafka_topic_t* handle = rd_kafka_topic_new(client_, name.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(client_, 0, handle, &metadata, timeout_ms);
  rd_kafka_topic_destroy(handle);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status(StatusCode::kUnavailable, std::string("metadata: ") + rd_kafka_err2str(err));
  }
  std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> owned(
      metadata, &rd_kafka_metadata_destroy);
  if (metadata->topic_cnt != 1 || metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
      metadata->topics[0].partition_cnt == 0) {
    const rd_kafka_resp_err_t topic_err =
        metadata->topic_cnt == 1 ? metadata->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    return Status(StatusCode::kUnavailable,
                  std::string("metadata: ") + rd_kafka_err2str(topic_err));
  }
  const rd_kafka_metadata_topic_t& t = metadata->topics[0];
  topic.replication_factor = t.partitions[0].replica_cnt;
  for (int i = 1; i < t.partition_cnt; ++i) {
    topic.replication_factor = std::min(topic.replication_factor, t.partitions[i].replica_cnt);
  }

  // The topic-level settings come from the admin API, which some brokers (and
  // librdkafka's mock cluster) do not answer; then they stay unknown.
  char errstr[512];
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(client_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client_);
  rd_kafka_DescribeConfigs(client_, &resource, 1, options, queue);
  // Polled in slices so that a stopping relay does not wait for the timeout.
  rd_kafka_event_t* event = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(1);
  while (event == nullptr && !stopping() && std::chrono::steady_clock::now() < deadline) {
    event = rd_kafka_queue_poll(queue, 100);
  }
  if (event == nullptr) {
    topic.unreadable = "no answer to DescribeConfigs";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* why = rd_kafka_event_error_string(event);
    topic.unreadable = why != nullptr ? why : "DescribeConfigs failed";
  } else {
    size_t count = 0;
    const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(event), &count);
    if (count == 1 && rd_kafka_ConfigResource_error(resources[0]) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      size_t entries = 0;
      const rd_kafka_ConfigEntry_t** configs =
          rd_kafka_ConfigResource_configs(resources[0], &entries);
      for (size_t i = 0; i < entries; ++i) {
        const std::string key = rd_kafka_ConfigEntry_name(configs[i]);
        const char* value = rd_kafka_ConfigEntry_value(configs[i]);
        if (value == nullptr) continue;
        if (key == "min.insync.replicas") topic.min_insync_replicas = std::atoi(value);
        if (key == "unclean.leader.election.enable") {
          topic.unclean_leader_election = std::string(value) == "true";
        }
      }
    } else {
      const char* why = count == 1 ? rd_kafka_ConfigResource_error_string(resources[0]) : nullptr;
      topic.unreadable = why != nullptr ? why : "no usable DescribeConfigs result";
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_ConfigResource_destroy(resource);
  return topic;
}

}  // namespace outbox
