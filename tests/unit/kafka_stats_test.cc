#include "sink/kafka_stats.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

// Trimmed from a real librdkafka 2.0.2 statistics event.
constexpr const char* kStats = R"({
  "name": "outbox-relay#producer-1", "type": "producer", "msg_cnt": 42, "msg_size": 8400,
  "brokers": {
    "127.0.0.1:39091/bootstrap": {"nodeid": -1, "state": "INIT", "rtt": {"avg": 0}},
    "127.0.0.1:39091/1": {"nodeid": 1, "state": "UP", "rtt": {"avg": 1500, "p99": 4000}},
    "127.0.0.1:39092/2": {"nodeid": 2, "state": "DOWN", "rtt": {"avg": 250000}}
  }
})";

TEST(KafkaStats, ReadsQueueDepthAndBrokerRoundTrips) {
  const std::optional<KafkaStats> stats = ParseKafkaStats(kStats);

  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->queued_messages, 42);
  EXPECT_EQ(stats->queued_bytes, 8400);
  EXPECT_EQ(stats->brokers_up, 1);
  ASSERT_EQ(stats->broker_rtt_seconds.size(), 2u);  // the bootstrap pseudo-broker is left out
  EXPECT_DOUBLE_EQ(stats->broker_rtt_seconds.at(1), 0.0015);
  EXPECT_DOUBLE_EQ(stats->broker_rtt_seconds.at(2), 0.25);
}

TEST(KafkaStats, RejectsSomethingElse) {
  EXPECT_FALSE(ParseKafkaStats("not json").has_value());
  EXPECT_FALSE(ParseKafkaStats(R"({"type": "consumer"})").has_value());
}

}  // namespace
}  // namespace outbox
