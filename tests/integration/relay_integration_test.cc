// The relay loop with the real adapters: PostgreSQL (throwaway server, schema/)
// and the Kafka protocol (librdkafka mock cluster), read back by an
// independent consumer. Every test ends with every row in Kafka and the
// outbox empty.
#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "core/relay_loop.h"
#include "metrics/relay_metrics.h"
#include "outbox/pg_outbox_store.h"
#include "sink/kafka_sink.h"
#include "support/mock_kafka.h"
#include "support/throwaway_postgres.h"

namespace outbox {
namespace {

using testing::ConsumedRecord;
using testing::MockKafka;
using testing::ReadTopic;
using testing::ThrowawayPostgres;
using namespace std::chrono_literals;

constexpr int kPartitions = 4;

// Runs a RelayLoop on its own thread for the duration of a test.
class RunningRelay {
 public:
  RunningRelay(const std::string& dsn, const std::string& bootstrap)
      : store_(dsn), metrics_("test") {
    KafkaConfig kafka;
    kafka.bootstrap_servers = bootstrap;
    kafka.properties = {{"message.timeout.ms", "2000", {}}, {"linger.ms", "2", {}}};
    Result<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(kafka);
    if (!sink.ok()) throw std::runtime_error(sink.status().message());
    sink_ = std::move(*sink);
    RelayLoopOptions options;
    options.batch_size = 100;
    options.poll_interval = 20ms;
    options.backoff_initial = 20ms;
    options.backoff_max = 200ms;
    options.publish_timeout = 10s;
    options.drain_timeout = 5s;
    loop_ = std::make_unique<RelayLoop>(store_, *sink_, stop_, metrics_, options);
    thread_ = std::thread([this] { loop_->Run(); });
  }
  ~RunningRelay() { Stop(); }
  void Stop() {
    stop_.Request();
    if (thread_.joinable()) thread_.join();
  }

 private:
  PgOutboxStore store_;
  RelayMetrics metrics_;
  std::unique_ptr<KafkaSink> sink_;
  StopSignal stop_;
  std::unique_ptr<RelayLoop> loop_;
  std::thread thread_;
};

class RelayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg().ResetOutbox();
    kafka.CreateTopic("orders", kPartitions);
  }
  static const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

  // Inserts rows [first, first+count) with keys key-(id % keys), each in its
  // own transaction like an application would.
  void InsertOrders(int first, int count, int keys = 10) {
    pqxx::connection connection(pg().dsn());
    for (int i = first; i < first + count; ++i) {
      pqxx::work tx(connection);
      tx.exec_params(
          "INSERT INTO outbox (topic, key, payload, headers) "
          "VALUES ('orders', $1, $2::bytea, jsonb_build_object('seq', $3::text))",
          "key-" + std::to_string(i % keys), "order " + std::to_string(i), std::to_string(i));
      tx.commit();
    }
  }

  bool OutboxEmptyWithin(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (pg().Query("SELECT count(*) FROM outbox") == "0") return true;
      } catch (const std::exception&) {
        // the server may be restarting
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Every seq in [1, n] arrived, each key stayed on one partition, and per
  // key the first sightings are in seq order.
  void ExpectAllDeliveredInKeyOrder(int n) {
    const std::vector<ConsumedRecord> records =
        ReadTopic(kafka.bootstrap(), "orders", kPartitions, n, 30s);
    std::set<int> seen;
    std::map<std::string, int32_t> partition_of;
    std::map<std::string, int> last_first_seen;
    for (const ConsumedRecord& r : records) {
      const int seq = std::stoi(r.headers.at("seq"));
      EXPECT_EQ(r.value, "order " + std::to_string(seq));
      const auto [it, fresh] = partition_of.emplace(*r.key, r.partition);
      EXPECT_EQ(it->second, r.partition) << "key " << *r.key << " moved partitions";
      if (seen.insert(seq).second) {
        EXPECT_GT(seq, last_first_seen[*r.key]) << "key " << *r.key << " out of order";
        last_first_seen[*r.key] = seq;
      }
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(n)) << "lost messages";
    std::cout << "read back " << records.size() << " records, " << seen.size() << " distinct, "
              << records.size() - seen.size() << " duplicates\n";
  }

  MockKafka kafka{1};
};

TEST_F(RelayIntegrationTest, DeliversEveryRowAndEmptiesTheOutbox) {
  InsertOrders(1, 500);
  RunningRelay relay(pg().dsn(), kafka.bootstrap());

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectAllDeliveredInKeyOrder(500);
}

TEST_F(RelayIntegrationTest, DeliversEverythingDespiteInjectedProduceErrors) {
  InsertOrders(1, 300);
  std::vector<rd_kafka_resp_err_t> errors;
  for (int i = 0; i < 5; ++i) {
    errors.push_back(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    errors.push_back(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    errors.push_back(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  }
  kafka.FailNextProduces(errors);
  RunningRelay relay(pg().dsn(), kafka.bootstrap());

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectAllDeliveredInKeyOrder(300);
}

TEST_F(RelayIntegrationTest, KeepsRowsWhileTheBrokerIsDownAndResumesAfter) {
  RunningRelay relay(pg().dsn(), kafka.bootstrap());
  InsertOrders(1, 50);
  ASSERT_TRUE(OutboxEmptyWithin(30s));

  kafka.SetBrokerDown(1);
  InsertOrders(51, 100);
  // Longer than message.timeout.ms: batches fail and the rows must stay.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox"), "100");
  kafka.SetBrokerUp(1);

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectAllDeliveredInKeyOrder(150);
}

TEST_F(RelayIntegrationTest, PublishesALowerIdWhoseTransactionCommitsLast) {
  RunningRelay relay(pg().dsn(), kafka.bootstrap());
  pqxx::connection slow_connection(pg().dsn());
  pqxx::work slow(slow_connection);
  slow.exec(
      "INSERT INTO outbox (topic, key, payload, headers) "
      "VALUES ('orders', 'slow-key', 'order 1'::bytea, '{\"seq\": \"1\"}')");
  InsertOrders(2, 49);
  ASSERT_TRUE(OutboxEmptyWithin(30s));  // ids 2..50 gone; id 1 invisible

  slow.commit();

  ASSERT_TRUE(OutboxEmptyWithin(30s));
  relay.Stop();
  ExpectAllDeliveredInKeyOrder(50);
}

TEST_F(RelayIntegrationTest, SurvivesAnImmediateDatabaseRestartMidStream) {
  RunningRelay relay(pg().dsn(), kafka.bootstrap());
  InsertOrders(1, 200);
  pg().Ctl("restart -m immediate");
  InsertOrders(201, 200);

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectAllDeliveredInKeyOrder(400);
}

TEST_F(RelayIntegrationTest, SurvivesItsBackendBeingTerminatedRepeatedly) {
  RunningRelay relay(pg().dsn() + " application_name=relay-under-test", kafka.bootstrap());
  for (int round = 0; round < 5; ++round) {
    InsertOrders(round * 60 + 1, 60);
    pg().Exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'relay-under-test'");
  }

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectAllDeliveredInKeyOrder(300);
}

}  // namespace
}  // namespace outbox
