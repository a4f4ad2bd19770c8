#include "metrics/relay_metrics.h"

#include <gtest/gtest.h>

#include "metrics/process_metrics.h"

namespace outbox {
namespace {

using namespace std::chrono_literals;

OutboxMessage Message(int64_t id, const std::string& topic) {
  OutboxMessage m;
  m.id = id;
  m.topic = topic;
  return m;
}

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(RelayMetrics, CountsPublishedMessagesByTopic) {
  RelayMetrics metrics("1.2.3");
  const OutboxMessage orders = Message(1, "orders");
  const OutboxMessage users = Message(2, "users");
  DeliveryOutcome ok{DeliveryKind::kDelivered, "", ""};
  metrics.OnDelivered(orders, ok);
  metrics.OnDelivered(orders, ok);
  metrics.OnDelivered(users, ok);

  const std::string text = metrics.Scrape();

  EXPECT_TRUE(Contains(text, "outbox_relay_messages_published_total{topic=\"orders\"} 2")) << text;
  EXPECT_TRUE(Contains(text, "outbox_relay_messages_published_total{topic=\"users\"} 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_build_info{version=\"1.2.3\"} 1"));
}

// A steady clock that reads 2 s, as on a machine just booted, and moves
// only when told.
SteadyClock::duration fake_uptime = std::chrono::seconds(2);
SteadyClock::time_point FakeNow() { return SteadyClock::time_point(fake_uptime); }

TEST(RelayMetrics, BacklogAgesGrowBetweenReadsAlsoOnAMachineJustBooted) {
  fake_uptime = std::chrono::seconds(2);
  RelayMetrics metrics("x", &FakeNow);
  Backlog backlog;
  backlog.pending = 12345;
  backlog.oldest_pending_age_seconds = 90;
  backlog.oldest_open_transaction_age_seconds = 600;
  metrics.OnBacklog(backlog);

  const std::string text = metrics.Scrape();
  EXPECT_TRUE(Contains(text, "outbox_relay_pending_messages 12345")) << text;
  EXPECT_TRUE(Contains(text, "outbox_relay_oldest_pending_age_seconds 90\n")) << text;
  EXPECT_TRUE(Contains(text, "outbox_relay_oldest_open_transaction_age_seconds 600\n")) << text;

  fake_uptime += std::chrono::milliseconds(5500);
  const std::string later = metrics.Scrape();
  EXPECT_TRUE(Contains(later, "outbox_relay_oldest_pending_age_seconds 95.5\n")) << later;
  EXPECT_TRUE(Contains(later, "outbox_relay_oldest_open_transaction_age_seconds 605.5\n"));

  metrics.OnBacklog(Backlog{});
  const std::string empty = metrics.Scrape();
  EXPECT_TRUE(Contains(empty, "outbox_relay_oldest_pending_age_seconds 0\n"));
  EXPECT_TRUE(Contains(empty, "outbox_relay_oldest_open_transaction_age_seconds 0\n"));
  EXPECT_TRUE(Contains(empty, "outbox_relay_pending_messages 0\n"));
}

TEST(RelayMetrics, DeliveryLatencyStartsAtCreation) {
  RelayMetrics metrics("x");
  OutboxMessage m = Message(1, "t");
  m.age_at_read_seconds = 2.0;
  m.read_at = SteadyClock::now();
  DeliveryOutcome ok{DeliveryKind::kDelivered, "", ""};
  ok.reported_at = m.read_at + 500ms;
  metrics.OnDelivered(m, ok);

  const std::string text = metrics.Scrape();
  EXPECT_TRUE(Contains(text, "outbox_relay_delivery_latency_seconds_sum 2.5")) << text;
  EXPECT_TRUE(Contains(text, "outbox_relay_delivery_latency_seconds_bucket{le=\"2.5\"} 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_delivery_latency_seconds_bucket{le=\"1\"} 0"));
}

TEST(RelayMetrics, CountsErrorsByReasonAndTracksHealth) {
  RelayMetrics metrics("x");
  OutboxMessage m = Message(1, "t");
  metrics.OnNotDelivered(m, {DeliveryKind::kRetriable, "msg_timed_out", "x"});
  metrics.OnStoreResult(true);
  metrics.OnSinkResult(false);

  const std::string text = metrics.Scrape();
  EXPECT_TRUE(Contains(text, "outbox_relay_publish_errors_total{reason=\"msg_timed_out\"} 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_postgres_up 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_kafka_up 0"));
  EXPECT_TRUE(metrics.postgres_ok());
  EXPECT_EQ(metrics.kafka_health(), KafkaHealth::kDown);
}

// A counter that first appears at 1 has no increase() in Prometheus: every
// known label value must be there, at 0, in the first scrape.
TEST(RelayMetrics, ExportsEveryKnownLabelValueAtZeroFromTheStart) {
  RelayMetrics metrics("x");
  KnownLabels labels;
  labels.topics = {"orders", "payments"};
  labels.publish_error_reasons = {"msg_timed_out", "not_reported"};
  labels.dead_letter_reasons = {"invalid_headers", "msg_size_too_large"};
  labels.retry_reasons = {"topic_authorization_failed"};
  metrics.Prime(labels);

  const std::string text = metrics.Scrape();
  for (const char* series : {
           "outbox_relay_messages_published_total{topic=\"orders\"} 0",
           "outbox_relay_messages_published_total{topic=\"payments\"} 0",
           "outbox_relay_publish_errors_total{reason=\"msg_timed_out\"} 0",
           "outbox_relay_publish_errors_total{reason=\"not_reported\"} 0",
           "outbox_relay_dead_lettered_total{reason=\"invalid_headers\"} 0",
           "outbox_relay_dead_lettered_total{reason=\"msg_size_too_large\"} 0",
           "outbox_relay_retries_total{reason=\"topic_authorization_failed\"} 0",
           "outbox_relay_shard_handovers_total{event=\"lost\"} 0",
       }) {
    EXPECT_TRUE(Contains(text, series)) << series << "\n" << text;
  }
  // The primed counter is the one that counts.
  metrics.OnDelivered(Message(1, "orders"), {DeliveryKind::kDelivered, "", ""});
  EXPECT_TRUE(
      Contains(metrics.Scrape(), "outbox_relay_messages_published_total{topic=\"orders\"} 1"));
}

TEST(RelayMetrics, KafkaIsUnknownUntilABrokerReportAndDownWhenStatisticsSeeNoBroker) {
  RelayMetrics metrics("x");
  EXPECT_EQ(metrics.kafka_health(), KafkaHealth::kUnknown);
  EXPECT_TRUE(Contains(metrics.Scrape(), "outbox_relay_kafka_up 0"));
  metrics.OnKafkaStats(0, 0, 1, {});
  EXPECT_EQ(metrics.kafka_health(), KafkaHealth::kUp);
  EXPECT_TRUE(Contains(metrics.Scrape(), "outbox_relay_kafka_up 1"));
  // Idle: no batch fails, but the statistics see every broker gone.
  metrics.OnKafkaStats(0, 0, 0, {});
  EXPECT_EQ(metrics.kafka_health(), KafkaHealth::kDown);
  EXPECT_TRUE(Contains(metrics.Scrape(), "outbox_relay_kafka_up 0"));
  metrics.OnSinkResult(true);
  EXPECT_EQ(metrics.kafka_health(), KafkaHealth::kUp);
}

TEST(RelayMetrics, ExportsTheStandardProcessMetrics) {
  const std::string text = RelayMetrics("x").Scrape();
  for (const char* family : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                             "process_virtual_memory_bytes ", "process_start_time_seconds ",
                             "process_open_fds ", "process_max_fds "}) {
    EXPECT_TRUE(Contains(text, std::string("\n") + family)) << family << "\n" << text;
  }
  EXPECT_TRUE(Contains(text, "# TYPE process_cpu_seconds_total counter"));
}

TEST(ProcessMetrics, ParsesProcStatWhoseCommandHoldsSpacesAndParentheses) {
  // Fields as the kernel writes them: utime 250 and stime 50 ticks, started
  // 1000 ticks after boot, 64 MiB virtual, 1000 pages resident.
  const std::string line =
      "4242 (outbox relay (x)) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 5 0 1000 "
      "67108864 1000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  ProcStat stat;
  ASSERT_TRUE(ParseProcStat(line, 100, 4096, &stat));
  EXPECT_DOUBLE_EQ(stat.cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(stat.start_seconds_after_boot, 10.0);
  EXPECT_DOUBLE_EQ(stat.virtual_bytes, 67108864.0);
  EXPECT_DOUBLE_EQ(stat.resident_bytes, 4096000.0);
  EXPECT_FALSE(ParseProcStat("4242 (short) S 1 2", 100, 4096, &stat));
  EXPECT_FALSE(ParseProcStat("no parenthesis", 100, 4096, &stat));
}

TEST(RelayMetrics, CountsDeadLettersRetriesAndBlockedKeys) {
  RelayMetrics metrics("x");
  const OutboxMessage m = Message(1, "t");
  metrics.OnDeadLettered(m, "invalid_headers");
  metrics.OnDeadLettered(m, "invalid_headers");
  metrics.OnRetryScheduled(m, "topic_authorization_failed");
  metrics.OnBlockedKeys(3);

  const std::string text = metrics.Scrape();
  EXPECT_TRUE(Contains(text, "outbox_relay_dead_lettered_total{reason=\"invalid_headers\"} 2"));
  EXPECT_TRUE(
      Contains(text, "outbox_relay_retries_total{reason=\"topic_authorization_failed\"} 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_blocked_keys 3"));
}

TEST(RelayMetrics, ReportsShardLeasesAndHandovers) {
  RelayMetrics metrics("x");
  metrics.OnLeases({.shard_count = 4,
                    .owned = 2,
                    .live_instances = 2,
                    .epochs = {{1, 7}, {3, 2}},
                    .acquired = 2});
  metrics.OnLeases(
      {.shard_count = 4, .owned = 1, .live_instances = 3, .epochs = {{3, 2}}, .released = 1});

  const std::string text = metrics.Scrape();
  EXPECT_TRUE(Contains(text, "outbox_relay_leader 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_shards 4"));
  EXPECT_TRUE(Contains(text, "outbox_relay_shards_owned 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_instances 3"));
  EXPECT_TRUE(Contains(text, "outbox_relay_lease_epoch{shard=\"1\"} 0"));
  EXPECT_TRUE(Contains(text, "outbox_relay_lease_epoch{shard=\"3\"} 2"));
  EXPECT_TRUE(Contains(text, "outbox_relay_shard_handovers_total{event=\"acquired\"} 2"));
  EXPECT_TRUE(Contains(text, "outbox_relay_shard_handovers_total{event=\"released\"} 1"));
  EXPECT_TRUE(Contains(text, "outbox_relay_shard_handovers_total{event=\"lost\"} 0"));

  metrics.OnLeases({.shard_count = 4, .live_instances = 3, .epochs = {}, .lost = 1});
  EXPECT_TRUE(Contains(metrics.Scrape(), "outbox_relay_leader 0"));
}

}  // namespace
}  // namespace outbox
