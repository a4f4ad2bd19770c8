// The relay loop with the real adapters: PostgreSQL (throwaway server, schema/)
// and the Kafka protocol (librdkafka mock cluster), read back by an
// independent consumer. Every test ends by checking the ground truth: each
// committed row is in Kafka or in the dead-letter table with a reason, none
// is lost, and per-key order holds where the policy promises it.
#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "core/relay_loop.h"
#include "metrics/relay_metrics.h"
#include "outbox/admin.h"
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

RelayLoopOptions TestOptions() {
  RelayLoopOptions options;
  options.batch_size = 100;
  options.poll_interval = 20ms;
  options.backoff_initial = 20ms;
  options.backoff_max = 200ms;
  options.publish_timeout = 10s;
  options.drain_timeout = 5s;
  return options;
}

// Runs a RelayLoop on its own thread for the duration of a test.
class RunningRelay {
 public:
  RunningRelay(const std::string& dsn, const std::string& bootstrap,
               RelayLoopOptions options = TestOptions(),
               std::vector<KafkaProperty> extra_properties = {})
      : store_(dsn), metrics_("test") {
    KafkaConfig kafka;
    kafka.bootstrap_servers = bootstrap;
    kafka.properties = {{"message.timeout.ms", "2000", {}}, {"linger.ms", "2", {}}};
    for (auto& p : extra_properties) kafka.properties.push_back(std::move(p));
    Result<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(kafka);
    if (!sink.ok()) throw std::runtime_error(sink.status().message());
    sink_ = std::move(*sink);
    loop_ = std::make_unique<RelayLoop>(store_, *sink_, stop_, metrics_, options);
    thread_ = std::thread([this] { result_ = loop_->Run(); });
  }
  ~RunningRelay() { Stop(); }
  void Stop() {
    stop_.Request();
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(result_.ok()) << result_.message();
  }
  std::string Metrics() { return metrics_.Scrape(); }

 private:
  PgOutboxStore store_;
  RelayMetrics metrics_;
  std::unique_ptr<KafkaSink> sink_;
  StopSignal stop_;
  std::unique_ptr<RelayLoop> loop_;
  std::thread thread_;
  Status result_;
};

class RelayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg().ResetOutbox();
    kafka.CreateTopic("orders", kPartitions);
  }
  static const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

  // One transaction per row, like an application; remembers the row's id and
  // key as the ground truth (the relay cannot change what is recorded here).
  void InsertRow(int seq, const std::string& key, const std::string& topic = "orders",
                 std::optional<std::string> payload = std::nullopt,
                 const std::string& headers_sql = "jsonb_build_object('seq', $4::text)") {
    pqxx::connection connection(pg().dsn());
    pqxx::work tx(connection);
    const pqxx::result id = tx.exec_params(
        "INSERT INTO outbox (topic, key, payload, headers) VALUES ($1, $2, $3::bytea, " +
            headers_sql + " || jsonb_build_object('seq', $4::text)) RETURNING id",
        topic, key, payload.value_or("order " + std::to_string(seq)), std::to_string(seq));
    tx.commit();
    committed_[id[0][0].as<int64_t>()] = key;
  }

  // Rows [first, first+count) with keys key-(seq % keys).
  void InsertOrders(int first, int count, int keys = 10) {
    for (int seq = first; seq < first + count; ++seq) {
      InsertRow(seq, "key-" + std::to_string(seq % keys));
    }
  }

  bool OutboxCountWithin(const std::string& expected, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (pg().Query("SELECT count(*) FROM outbox") == expected) return true;
      } catch (const std::exception&) {
        // the server may be restarting
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  bool OutboxEmptyWithin(std::chrono::seconds timeout) { return OutboxCountWithin("0", timeout); }

  std::set<int64_t> DeadLetteredIds() {
    std::set<int64_t> ids;
    pqxx::connection connection(pg().dsn());
    pqxx::nontransaction tx(connection);
    for (const pqxx::row& row : tx.exec("SELECT id FROM outbox_dead_letter")) {
      ids.insert(row[0].as<int64_t>());
    }
    return ids;
  }

  // The ground truth: every committed row was delivered or is dead-lettered
  // (never both, never neither), keys stay on one partition, and per key the
  // first sightings are in id order (checked only where `ordered`).
  void ExpectEveryRowAccountedFor(bool ordered = true) {
    const std::set<int64_t> dead = DeadLetteredIds();
    const size_t expected = committed_.size() - dead.size();
    const std::vector<ConsumedRecord> records =
        ReadTopic(kafka.bootstrap(), "orders", kPartitions, expected, 30s);
    std::set<int64_t> seen;
    std::map<std::string, int32_t> partition_of;
    std::map<std::string, int64_t> last_first_seen;
    for (const ConsumedRecord& r : records) {
      const int64_t id = std::stoll(r.headers.at("outbox-id"));
      ASSERT_EQ(committed_.count(id), 1u) << "unknown outbox-id " << id;
      EXPECT_EQ(r.key, committed_[id]) << "id " << id;
      EXPECT_EQ(r.value, "order " + r.headers.at("seq")) << "id " << id;
      const auto [it, fresh] = partition_of.emplace(*r.key, r.partition);
      EXPECT_EQ(it->second, r.partition) << "key " << *r.key << " moved partitions";
      if (seen.insert(id).second && ordered) {
        EXPECT_GT(id, last_first_seen[*r.key]) << "key " << *r.key << " out of order";
        last_first_seen[*r.key] = id;
      }
      EXPECT_EQ(dead.count(id), 0u) << "id " << id << " both delivered and dead-lettered";
    }
    size_t lost = 0;
    for (const auto& [id, key] : committed_) {
      if (seen.count(id) == 0 && dead.count(id) == 0) ++lost;
    }
    EXPECT_EQ(lost, 0u) << "lost rows";
    EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_dead_letter WHERE reason = '' OR error = ''"),
              "0");
    std::cout << "committed " << committed_.size() << ", delivered " << seen.size()
              << ", dead-lettered " << dead.size() << ", duplicates "
              << records.size() - seen.size() << ", lost " << lost << "\n";
  }

  MockKafka kafka{1};
  std::map<int64_t, std::string> committed_;  // outbox id -> key
};

TEST_F(RelayIntegrationTest, DeliversEveryRowAndEmptiesTheOutbox) {
  InsertOrders(1, 500);
  RunningRelay relay(pg().dsn(), kafka.bootstrap());

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectEveryRowAccountedFor();
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_dead_letter"), "0");
}

TEST_F(RelayIntegrationTest, RetriesInjectedRetriableProduceErrorsWithoutDeadLetters) {
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
  ExpectEveryRowAccountedFor();
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_dead_letter"), "0");
}

TEST_F(RelayIntegrationTest, IsolatesAPermanentProduceErrorWithoutParkingHealthyRows) {
  InsertOrders(1, 200);
  // The broker fails a whole produce request; none of its rows is poison.
  kafka.FailNextProduces({RD_KAFKA_RESP_ERR_INVALID_RECORD, RD_KAFKA_RESP_ERR_INVALID_MSG});
  RunningRelay relay(pg().dsn(), kafka.bootstrap());

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectEveryRowAccountedFor();
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_dead_letter"), "0");  // false poison: 0
}

TEST_F(RelayIntegrationTest, BlockKeyParksPoisonRowsHoldsTheirKeysAndRequeueRestoresOrder) {
  InsertOrders(1, 19);
  InsertRow(20, "key-3", "orders", std::string(20000, 'x'));              // too large
  InsertRow(21, "key-5", "orders", std::nullopt, "'{\"n\": 1}'::jsonb");  // bad headers
  InsertRow(22, "key-7", "bad topic!");                                   // bad topic name
  InsertOrders(23, 78);  // later rows: key-3, key-5 and key-7 must wait
  RunningRelay relay(pg().dsn(), kafka.bootstrap(), TestOptions(),
                     {{"message.max.bytes", "10000", {}}});

  // Everything but the later rows of the three blocked keys goes out.
  int later_rows_of_blocked_keys = 0;
  for (int seq = 23; seq <= 100; ++seq) {
    if (seq % 10 == 3 || seq % 10 == 5 || seq % 10 == 7) ++later_rows_of_blocked_keys;
  }
  ASSERT_TRUE(OutboxCountWithin(std::to_string(later_rows_of_blocked_keys), 60s));
  EXPECT_EQ(pg().Query("SELECT string_agg(reason || ':' || blocks_key, ',' ORDER BY id) "
                       "FROM outbox_dead_letter"),
            "msg_size_too_large:true,invalid_headers:true,invalid_topic:true");
  EXPECT_NE(relay.Metrics().find("outbox_relay_blocked_keys 3"), std::string::npos);

  // The operator fixes the rows and requeues them: they go out first, then
  // the rows that waited behind them, in order.
  pg().Exec(R"(
    UPDATE outbox_dead_letter SET payload = 'order 20'::bytea WHERE reason = 'msg_size_too_large';
    UPDATE outbox_dead_letter SET headers = headers - 'n' WHERE reason = 'invalid_headers';
    UPDATE outbox_dead_letter SET topic = 'orders' WHERE reason = 'invalid_topic';)");
  Result<std::vector<int64_t>> requeued =
      OutboxAdmin(pg().dsn()).RequeueDeadLetters(DeadLetterFilter{}, /*dry_run=*/false);
  ASSERT_TRUE(requeued.ok()) << requeued.status().message();
  EXPECT_EQ(*requeued, (std::vector<int64_t>{20, 21, 22}));

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_dead_letter"), "0");
  ExpectEveryRowAccountedFor(/*ordered=*/true);
}

TEST_F(RelayIntegrationTest, DeadLetterPolicyParksPoisonRowsAndLetsTheirKeysContinue) {
  InsertOrders(1, 19);
  InsertRow(20, "key-0", "orders", std::nullopt, "'[\"not an object\"]'::jsonb");
  InsertOrders(21, 30);
  RelayLoopOptions options = TestOptions();
  options.on_undeliverable = UndeliverablePolicy::kDeadLetter;
  RunningRelay relay(pg().dsn(), kafka.bootstrap(), options);

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  EXPECT_EQ(pg().Query("SELECT reason || ':' || blocks_key FROM outbox_dead_letter"),
            "invalid_headers:false");
  ExpectEveryRowAccountedFor();
}

TEST_F(RelayIntegrationTest, KeepsRowsWhileTheBrokerIsDownPastTheTimeoutAndResumesAfter) {
  RunningRelay relay(pg().dsn(), kafka.bootstrap());
  InsertOrders(1, 50);
  ASSERT_TRUE(OutboxEmptyWithin(30s));

  kafka.SetBrokerDown(1);
  InsertOrders(51, 100);
  // Longer than message.timeout.ms (2 s): batches fail and the rows must stay,
  // charged no attempts (an outage blames no row) and never dead-lettered.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(pg().Query("SELECT count(*) || ':' || sum(attempts) FROM outbox"), "100:0");
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_dead_letter"), "0") << pg().Query(
      "SELECT string_agg(concat_ws(' ', id, reason, error, headers), '; ') "
      "FROM outbox_dead_letter");
  kafka.SetBrokerUp(1);

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectEveryRowAccountedFor();
}

TEST_F(RelayIntegrationTest, ACommitWakesTheRelayLongBeforeItsNextPoll) {
  RelayLoopOptions options = TestOptions();
  options.poll_interval = 60s;  // only a notification can explain a fast delivery
  RunningRelay relay(pg().dsn(), kafka.bootstrap(), options);
  std::this_thread::sleep_for(500ms);  // caught up, waiting

  const auto committed = std::chrono::steady_clock::now();
  InsertOrders(1, 5);

  ASSERT_TRUE(OutboxEmptyWithin(20s));
  EXPECT_LT(std::chrono::steady_clock::now() - committed, 10s);
  EXPECT_NE(relay.Metrics().find("outbox_relay_notify_working 1"), std::string::npos);
  relay.Stop();
  ExpectEveryRowAccountedFor();
}

TEST_F(RelayIntegrationTest, NoticesWhenNotificationsStopArrivingAndPolls) {
  RelayLoopOptions options = TestOptions();
  options.poll_interval = 100ms;
  RunningRelay relay(pg().dsn(), kafka.bootstrap(), options);
  InsertOrders(1, 5);
  ASSERT_TRUE(OutboxEmptyWithin(20s));
  ASSERT_NE(relay.Metrics().find("outbox_relay_notify_working 1"), std::string::npos);

  // As behind a transaction-pooling PgBouncer: the relay still listens, but
  // commits no longer notify it.
  pg().Exec("ALTER TABLE outbox DISABLE TRIGGER outbox_notify");
  for (int i = 0; i < 6; ++i) {
    InsertOrders(10 + i, 1);
    std::this_thread::sleep_for(300ms);
  }
  ASSERT_TRUE(OutboxEmptyWithin(20s));  // polling still delivers everything
  const std::string metrics = relay.Metrics();
  pg().Exec("ALTER TABLE outbox ENABLE TRIGGER outbox_notify");

  EXPECT_NE(metrics.find("outbox_relay_notify_working 0"), std::string::npos);
  relay.Stop();
  ExpectEveryRowAccountedFor();
}

TEST_F(RelayIntegrationTest, PipelinesBatchesAndKeepsEachKeyInOrder) {
  RelayLoopOptions options = TestOptions();
  options.batch_size = 50;
  options.max_in_flight_rows = 400;  // up to 8 batches in flight
  InsertOrders(1, 3000, /*keys=*/7);
  RunningRelay relay(pg().dsn(), kafka.bootstrap(), options);

  ASSERT_TRUE(OutboxEmptyWithin(120s));
  relay.Stop();
  ExpectEveryRowAccountedFor();  // each once, per key in id order
}

TEST_F(RelayIntegrationTest, PublishesALowerIdWhoseTransactionCommitsLast) {
  RunningRelay relay(pg().dsn(), kafka.bootstrap());
  pqxx::connection slow_connection(pg().dsn());
  pqxx::work slow(slow_connection);
  const pqxx::result slow_id = slow.exec(
      "INSERT INTO outbox (topic, key, payload, headers) "
      "VALUES ('orders', 'slow-key', 'order 1'::bytea, '{\"seq\": \"1\"}') RETURNING id");
  committed_[slow_id[0][0].as<int64_t>()] = "slow-key";
  InsertOrders(2, 49);
  ASSERT_TRUE(OutboxEmptyWithin(30s));  // ids 2..50 gone; id 1 invisible

  slow.commit();

  ASSERT_TRUE(OutboxEmptyWithin(30s));
  relay.Stop();
  ExpectEveryRowAccountedFor();
}

TEST_F(RelayIntegrationTest, SurvivesAnImmediateDatabaseRestartMidStream) {
  RunningRelay relay(pg().dsn(), kafka.bootstrap());
  InsertOrders(1, 200);
  pg().Ctl("restart -m immediate");
  InsertOrders(201, 200);

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectEveryRowAccountedFor();
}

TEST_F(RelayIntegrationTest, SurvivesItsBackendBeingTerminatedRepeatedlyMidBatch) {
  RunningRelay relay(pg().dsn() + " application_name=relay-under-test", kafka.bootstrap());
  for (int round = 0; round < 5; ++round) {
    InsertOrders(round * 60 + 1, 60);
    pg().Exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'relay-under-test'");
  }

  ASSERT_TRUE(OutboxEmptyWithin(60s));
  relay.Stop();
  ExpectEveryRowAccountedFor();
}

}  // namespace
}  // namespace outbox
