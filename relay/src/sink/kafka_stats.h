// The parts of librdkafka's statistics (statistics.interval.ms) an operator
// needs, with bounded labels: brokers by node id.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>

namespace outbox {

struct KafkaStats {
  int64_t queued_messages = 0;  // produced, not yet acknowledged or failed
  int64_t queued_bytes = 0;
  int brokers_up = 0;
  std::map<int32_t, double> broker_rtt_seconds;  // by node id, average
};

// Parses librdkafka's statistics JSON; nullopt if it is not that.
std::optional<KafkaStats> ParseKafkaStats(std::string_view json);

}  // namespace outbox
