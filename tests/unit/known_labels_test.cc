// The label values the relay exports at 0 from its start must include every
// reason it can count, or increase() misses the first one after a restart.
#include <gtest/gtest.h>

#include <algorithm>

#include "app.h"

namespace outbox {
namespace {

bool Has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

TEST(KnownMetricLabels, CoverEveryReasonTheRelayCountsByName) {
  KafkaConfig kafka;
  kafka.topics = {"orders", "payments"};
  const KnownLabels labels = KnownMetricLabels(kafka);
  EXPECT_EQ(labels.topics, kafka.topics);
  // Dead letters: row defects, the sink's and the broker's rejections, and
  // rows whose own error outlived relay.max_attempts.
  for (const char* reason : {"invalid_headers", "reserved_header", "msg_size_too_large",
                             "invalid_topic", "record_list_too_large", "max_attempts"}) {
    EXPECT_TRUE(Has(labels.dead_letter_reasons, reason)) << reason;
  }
  // A row's own topic error is retried, and counted as a publish error.
  EXPECT_TRUE(Has(labels.retry_reasons, "topic_authorization_failed"));
  for (const char* reason : {"msg_timed_out", "all_brokers_down", "not_enough_replicas",
                             "topic_authorization_failed", "not_reported"}) {
    EXPECT_TRUE(Has(labels.publish_error_reasons, reason)) << reason;
  }
  // Each value once.
  auto sorted = labels.publish_error_reasons;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
}

}  // namespace
}  // namespace outbox
