#include "sink/kafka_stats.h"

#include <nlohmann/json.hpp>

namespace outbox {

std::optional<KafkaStats> ParseKafkaStats(std::string_view text) {
  const nlohmann::json stats = nlohmann::json::parse(text, nullptr, false);
  if (!stats.is_object() || !stats.contains("msg_cnt")) return std::nullopt;
  KafkaStats out;
  out.queued_messages = stats.value("msg_cnt", int64_t{0});
  out.queued_bytes = stats.value("msg_size", int64_t{0});
  if (stats.contains("brokers") && stats["brokers"].is_object()) {
    for (const auto& [name, broker] : stats["brokers"].items()) {
      const int32_t node = broker.value("nodeid", -1);
      if (node < 0) continue;  // bootstrap and coordinator pseudo-brokers
      if (broker.value("state", "") == "UP") ++out.brokers_up;
      if (broker.contains("rtt") && broker["rtt"].is_object()) {
        out.broker_rtt_seconds[node] = broker["rtt"].value("avg", 0.0) / 1e6;  // microseconds
      }
    }
  }
  return out;
}

}  // namespace outbox
