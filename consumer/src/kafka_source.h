// The inbox's Kafka side (librdkafka): a group member that hands out one
// message at a time and commits only the offsets it was told are applied.
// Rebalances run inside Poll(), between two messages, so the message in
// hand is always settled before a revoke; a revoke commits what was applied
// on the partitions going away, synchronously, before they go.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "log_line.h"
#include "outbox/inbox/message.h"
#include "outbox/inbox/options.h"

namespace outbox::inbox {

struct PartitionLag {
  std::string topic;
  int32_t partition;
  int64_t lag;  // messages in the log after the last applied one
};

class KafkaSource {
 public:
  // on_revoked: each partition leaving this member, after its commit.
  KafkaSource(const Options& options, Logger& log,
              std::function<void(const std::string&, int32_t)> on_revoked);
  ~KafkaSource();
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // The next message, or nullopt after `timeout`. Throws std::runtime_error
  // on a fatal error.
  std::optional<Message> Poll(std::chrono::milliseconds timeout);
  // Whether the partition is assigned to this member now.
  bool Assigned(const std::string& topic, int32_t partition) const {
    return marks_.count({topic, partition}) > 0;
  }
  // The message at (topic, partition, offset) is settled in the database.
  void MarkApplied(const std::string& topic, int32_t partition, int64_t offset);
  // Commits the marked offsets not committed yet.
  void Commit(bool synchronous);
  std::vector<PartitionLag> Lags();
  // Commits, leaves the group (the last revoke runs here) and stops.
  void Close();

 private:
  using TopicPartition = std::pair<std::string, int32_t>;
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  // Commits the marked offsets of `only` (all when null).
  void CommitMarked(bool synchronous, const rd_kafka_topic_partition_list_t* only);

  Logger& log_;
  std::function<void(const std::string&, int32_t)> on_revoked_;
  rd_kafka_t* consumer_ = nullptr;
  bool closed_ = false;
  // Per assigned partition: the next offset to commit, and whether it is.
  struct Mark {
    int64_t next = -1;
    bool committed = true;
  };
  std::map<TopicPartition, Mark> marks_;
};

}  // namespace outbox::inbox
