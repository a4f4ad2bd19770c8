// Reads a topic's partitions from given offsets for `outbox-relay audit`:
// a librdkafka consumer that assigns partitions itself, joins no group and
// never commits an offset, so it changes nothing any consumer relies on.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "core/audit_ledger.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace outbox {

struct PartitionExtent {
  int32_t partition = 0;
  int64_t log_start = 0;  // lowest offset still in the log
  int64_t end = 0;        // high watermark: the next offset to be written
};

class TopicReader {
 public:
  static Result<std::unique_ptr<TopicReader>> Create(const KafkaConfig& config);
  ~TopicReader();

  // Every partition of `topic`, in order, with its offsets now.
  Result<std::vector<PartitionExtent>> Partitions(const std::string& topic,
                                                  std::chrono::milliseconds timeout);
  // The first offset of a message at or after `unix_ms` (`end` if none).
  Result<int64_t> OffsetForTime(const std::string& topic, int32_t partition, int64_t unix_ms,
                                int64_t end, std::chrono::milliseconds timeout);
  // Calls `on_message` for each message at offsets [from, to), in order.
  // Fails when nothing arrives for `stall` while messages are still due.
  Status Read(const std::string& topic, int32_t partition, int64_t from, int64_t to,
              const std::function<void(const AuditedMessage&)>& on_message,
              std::chrono::milliseconds stall);

 private:
  explicit TopicReader(rd_kafka_t* consumer) : consumer_(consumer) {}
  rd_kafka_t* consumer_;
};

}  // namespace outbox
