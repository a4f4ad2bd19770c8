// outbox::inbox against the real PostgreSQL and the Kafka protocol
// (librdkafka's mock cluster), in one process: every message applied once,
// duplicates dropped, gaps reported, throwing handlers retried, bad messages
// dead-lettered, a rebalance between two consumers, retention.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "outbox/inbox/consumer.h"
#include "support/mock_kafka.h"
#include "support/throwaway_postgres.h"

namespace outbox::inbox {
namespace {

using outbox::testing::MockKafka;
using outbox::testing::ThrowawayPostgres;
using namespace std::chrono_literals;

const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

// A message as a producer sends it: the relay, or someone else.
struct Sent {
  std::optional<std::string> key;
  std::optional<std::string> payload;
  Headers headers;
  int32_t partition = RD_KAFKA_PARTITION_UA;
};

Sent FromRelay(int64_t id, std::string key, std::optional<int64_t> seq = std::nullopt,
               std::string payload = "{}") {
  Sent s{std::move(key), std::move(payload), {{"outbox-id", std::to_string(id)}}};
  if (seq) s.headers.emplace_back("outbox-seq", std::to_string(*seq));
  return s;
}

class Producer {
 public:
  explicit Producer(const std::string& bootstrap) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof error);
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (producer_ == nullptr) throw std::runtime_error(error);
  }
  ~Producer() { rd_kafka_destroy(producer_); }

  void Send(const std::string& topic, const Sent& s) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(s.headers.size());
    for (const auto& [name, value] : s.headers) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    // (The macros cast their arguments: no expressions in them.)
    const void* key = s.key ? s.key->data() : nullptr;
    const size_t key_size = s.key ? s.key->size() : 0;
    void* value = s.payload ? const_cast<char*>(s.payload->data()) : nullptr;
    const size_t value_size = s.payload ? s.payload->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(s.partition),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(headers);
      throw std::runtime_error(rd_kafka_err2str(err));
    }
  }
  void Flush() {
    if (rd_kafka_flush(producer_, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("flush timed out");
    }
  }

 private:
  rd_kafka_t* producer_ = nullptr;
};

// A consumer running on its own thread until it is destroyed.
class Running {
 public:
  Running(Options options, Handler handler) : consumer_(std::move(options), std::move(handler)) {
    thread_ = std::thread([this] { consumer_.Run(); });
  }
  ~Running() { Stop(); }
  void Stop() {
    consumer_.Stop();
    if (thread_.joinable()) thread_.join();
  }
  Consumer& consumer() { return consumer_; }

 private:
  Consumer consumer_;
  std::thread thread_;
};

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout = 30s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

std::string Scrape(Consumer& consumer) {
  return prometheus::TextSerializer().Serialize(consumer.registry()->Collect());
}

class InboxConsumerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ApplySchema(pg().dsn());
    pg().Exec(
        "CREATE TABLE IF NOT EXISTS inbox_test_effects ("
        " consumer text, outbox_id bigint, key bytea, payload bytea, applied_order bigserial,"
        " PRIMARY KEY (consumer, outbox_id))");
  }

  void SetUp() override {
    // One name and topic per test: the tables and the broker are shared.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = std::string("test-") + info->name();
    topic_ = name_;
    kafka_.CreateTopic(topic_, 4);
  }

  Options BaseOptions(const std::string& name) {
    Options o;
    o.name = name;
    o.postgres_dsn = pg().dsn();
    o.bootstrap_servers = kafka_.bootstrap();
    o.topics = {topic_};
    o.commit_interval = 100ms;
    o.retry_backoff = 10ms;
    o.max_retry_backoff = 50ms;
    o.kafka_properties = {{"log_level", "3"},
                          {"heartbeat.interval.ms", "200"},
                          {"session.timeout.ms", "6000"},
                          {"topic.metadata.refresh.interval.ms", "1000"}};
    o.log = [this](LogLevel, std::string_view line) {
      std::lock_guard lock(log_mutex_);
      log_ += std::string(line) + "\n";
    };
    return o;
  }

  // The business change: one row per message, refused if applied twice.
  Handler Effects() {
    return [name = name_](pqxx::transaction_base& tx, const Message& m) {
      tx.exec_params(
          "INSERT INTO inbox_test_effects (consumer, outbox_id, key, payload) "
          "VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'))",
          name, m.outbox_id, Hex(m.key), Hex(m.payload));
    };
  }

  static std::string Hex(const std::optional<std::string>& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (char b : bytes.value_or("")) {
      out += kDigits[static_cast<unsigned char>(b) >> 4];
      out += kDigits[static_cast<unsigned char>(b) & 0xF];
    }
    return out;
  }

  std::string EffectsOf(const std::string& what) {
    return pg().Query("SELECT " + what + " FROM inbox_test_effects WHERE consumer = '" + name_ +
                      "'");
  }

  std::string Log() {
    std::lock_guard lock(log_mutex_);
    return log_;
  }

  MockKafka kafka_;
  std::string name_, topic_;
  std::mutex log_mutex_;
  std::string log_;
};

TEST_F(InboxConsumerTest, AppliesEveryMessageOnceAndDropsTheBrokersDuplicates) {
  Producer producer(kafka_.bootstrap());
  for (int id = 1; id <= 200; ++id) {
    producer.Send(topic_, FromRelay(id, "key-" + std::to_string(id % 10), id / 10 + 1));
  }
  // The relay sent some twice (an ack lost before its row was removed).
  for (int id = 1; id <= 30; ++id) {
    producer.Send(topic_, FromRelay(id, "key-" + std::to_string(id % 10), id / 10 + 1));
  }
  producer.Flush();
  Options options = BaseOptions(name_);
  {
    Running running(options, Effects());
    ASSERT_TRUE(WaitFor([&] {
      Stats s = running.consumer().stats();
      return s.applied + s.duplicates == 230;
    })) << Log();
    // Lag is exported per assigned partition, and is 0 once all is applied.
    ASSERT_TRUE(WaitFor([&] {
      return Scrape(running.consumer())
                 .find("outbox_inbox_lag_messages{consumer=\"" + name_ +
                       "\",partition=\"3\",topic=\"" + topic_ + "\"} 0") != std::string::npos;
    })) << Scrape(running.consumer());
    running.Stop();
    Stats s = running.consumer().stats();
    EXPECT_EQ(s.applied, 200);
    EXPECT_EQ(s.duplicates, 30);
    EXPECT_EQ(s.gaps + s.reorders, 0);  // duplicates are not reorders
    const std::string metrics = Scrape(running.consumer());
    EXPECT_NE(metrics.find("outbox_inbox_messages_total{consumer=\"" + name_ +
                           "\",outcome=\"duplicate\"} 30"),
              std::string::npos)
        << metrics;
  }
  EXPECT_EQ(EffectsOf("count(*)"), "200");
  EXPECT_EQ(pg().Query("SELECT count(*) FROM inbox WHERE consumer = '" + name_ +
                       "' AND outcome = 'applied'"),
            "200");
  EXPECT_NE(Log().find("msg=\"duplicate dropped\""), std::string::npos);

  // The offsets were committed: the same consumer started again gets nothing.
  producer.Send(topic_, FromRelay(201, "key-1"));
  producer.Flush();
  Running again(options, Effects());
  ASSERT_TRUE(WaitFor([&] { return again.consumer().stats().applied == 1; })) << Log();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(again.consumer().stats().duplicates, 0);
  EXPECT_EQ(again.consumer().stats().applied, 1);
}

TEST_F(InboxConsumerTest, ASequenceGapMadeOnPurposeIsReportedWithItsKey) {
  Producer producer(kafka_.bootstrap());
  producer.Send(topic_, FromRelay(1, "customer-42", 1));
  producer.Send(topic_, FromRelay(2, "customer-42", 2));
  producer.Send(topic_, FromRelay(4, "customer-42", 4));  // 3 never sent
  producer.Flush();
  std::mutex mutex;
  std::vector<SequenceBreak> reported;
  Options options = BaseOptions(name_);
  options.on_sequence_break = [&](const SequenceBreak& e) {
    std::lock_guard lock(mutex);
    reported.push_back(e);
  };
  Running running(options, Effects());
  ASSERT_TRUE(WaitFor([&] { return running.consumer().stats().applied == 3; })) << Log();
  running.Stop();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].kind, SequenceBreak::Kind::kGap);
  EXPECT_EQ(reported[0].key, "customer-42");
  EXPECT_EQ(reported[0].expected, 3);
  EXPECT_EQ(reported[0].got, 4);
  EXPECT_EQ(reported[0].outbox_id, 4);
  EXPECT_EQ(reported[0].topic, topic_);
  const std::string log = Log();
  EXPECT_NE(log.find("level=warn msg=\"sequence gap\" consumer=\"" + name_ +
                     "\" key=\"customer-42\" expected=3 got=4"),
            std::string::npos)
      << log;
  EXPECT_NE(
      Scrape(running.consumer())
          .find("outbox_inbox_sequence_breaks_total{consumer=\"" + name_ + "\",kind=\"gap\"} 1"),
      std::string::npos);
  EXPECT_EQ(pg().Query("SELECT last_seq FROM inbox_key_seq WHERE consumer = '" + name_ +
                       "' AND key = 'customer-42'::bytea"),
            "4");
}

TEST_F(InboxConsumerTest, AThrowingHookOrAHandlerThatEndsItsTransactionDoesNotStopTheConsumer) {
  Producer producer(kafka_.bootstrap());
  producer.Send(topic_, FromRelay(1, "k", 1));
  producer.Send(topic_, FromRelay(2, "k", 5));  // a gap: the hook throws
  producer.Send(topic_, FromRelay(3, "other", 1));
  producer.Send(topic_, FromRelay(4, "other", 2));
  producer.Send(topic_, FromRelay(5, "other", 3));
  producer.Flush();
  Options options = BaseOptions(name_);
  options.max_attempts = 2;
  options.on_sequence_break = [](const SequenceBreak&) { throw std::runtime_error("pager down"); };
  Handler effects = Effects();
  Running running(options, [&](pqxx::transaction_base& tx, const Message& m) {
    effects(tx, m);
    if (m.outbox_id == 3) tx.commit();  // not allowed; must not apply it twice
    if (m.outbox_id == 5) tx.abort();   // not allowed either: never applied
  });
  ASSERT_TRUE(WaitFor([&] {
    Stats s = running.consumer().stats();
    return s.applied == 4 && s.dead_lettered == 1;
  })) << Log();
  std::this_thread::sleep_for(300ms);
  running.Stop();
  EXPECT_EQ(EffectsOf("count(*)"), "4");
  EXPECT_EQ(running.consumer().stats().gaps, 1);
  EXPECT_NE(Log().find("msg=\"on_sequence_break hook threw\""), std::string::npos) << Log();
  // libpqxx 6 lets the inbox's commit pass with a notice once the handler
  // committed: the message and its inbox row went in together, once.
  EXPECT_EQ(running.consumer().stats().applied, 4);
  EXPECT_EQ(pg().Query("SELECT reason FROM inbox_dead_letter WHERE consumer = '" + name_ +
                       "' AND outbox_id = 5"),
            "handler_failed");
}

TEST_F(InboxConsumerTest, HoldAppliesAKeyInOrderOnceTheMissingNumberArrives) {
  Producer producer(kafka_.bootstrap());
  const std::string binary_payload("\x00\xff\xfe payload", 11);
  Sent third = FromRelay(3, "k", 3, binary_payload);
  third.headers.emplace_back("trace", std::string("nul\0and\xff", 8));
  producer.Send(topic_, FromRelay(1, "k", 1));
  producer.Send(topic_, third);
  producer.Send(topic_, FromRelay(10, "other", 1));
  producer.Flush();
  Options options = BaseOptions(name_);
  options.on_gap = OnGap::kHold;
  std::mutex mutex;
  Headers third_headers;
  Handler effects = Effects();
  Running running(options, [&](pqxx::transaction_base& tx, const Message& m) {
    if (m.outbox_id == 3) {
      std::lock_guard lock(mutex);
      third_headers = m.headers;
    }
    effects(tx, m);
  });
  ASSERT_TRUE(WaitFor([&] {
    Stats s = running.consumer().stats();
    return s.applied == 2 && s.held == 1;
  })) << Log();
  EXPECT_EQ(pg().Query("SELECT count(*) FROM inbox_held WHERE consumer = '" + name_ + "'"), "1");
  producer.Send(topic_, FromRelay(2, "k", 2));
  producer.Flush();
  ASSERT_TRUE(WaitFor([&] { return running.consumer().stats().applied == 4; })) << Log();
  running.Stop();
  EXPECT_EQ(EffectsOf("string_agg(outbox_id::text, ',' ORDER BY applied_order) FILTER "
                      "(WHERE key = 'k'::bytea)"),
            "1,2,3");
  // The held message kept its bytes: payload, and a header with NUL and 0xff.
  EXPECT_EQ(EffectsOf("string_agg(encode(payload, 'hex'), '') FILTER (WHERE outbox_id = 3)"),
            Hex(binary_payload));
  std::lock_guard lock(mutex);
  ASSERT_EQ(third_headers.size(), 3u);
  EXPECT_EQ(third_headers[2].second, std::string("nul\0and\xff", 8));
  EXPECT_EQ(pg().Query("SELECT count(*) FROM inbox_held WHERE consumer = '" + name_ + "'"), "0");
}

TEST_F(InboxConsumerTest, AThrowingHandlerIsRetriedAndNeverCommittedAsProcessed) {
  Producer producer(kafka_.bootstrap());
  for (int id = 1; id <= 3; ++id) {
    Sent s = FromRelay(id, "k", id);
    s.partition = 0;
    producer.Send(topic_, s);
  }
  producer.Flush();
  Options options = BaseOptions(name_);
  options.max_attempts = 3;
  std::atomic<int> calls_for_1{0};
  Handler effects = Effects();
  Running running(options, [&](pqxx::transaction_base& tx, const Message& m) {
    effects(tx, m);  // written, then rolled back with the throw
    if (m.outbox_id == 1 && ++calls_for_1 <= 2) throw std::runtime_error("flaky downstream");
    if (m.outbox_id == 2) throw std::runtime_error("this order can never be applied");
  });
  ASSERT_TRUE(WaitFor([&] {
    Stats s = running.consumer().stats();
    return s.applied == 2 && s.dead_lettered == 1;
  })) << Log();
  running.Stop();
  EXPECT_EQ(calls_for_1.load(), 3);
  EXPECT_EQ(running.consumer().stats().handler_errors, 2 + 3);
  EXPECT_EQ(EffectsOf("string_agg(outbox_id::text, ',' ORDER BY outbox_id)"), "1,3");
  EXPECT_EQ(
      pg().Query("SELECT outcome FROM inbox WHERE consumer = '" + name_ + "' AND outbox_id = 2"),
      "dead_lettered");
  EXPECT_EQ(pg().Query("SELECT reason || ' ' || attempts || ' ' || error FROM inbox_dead_letter "
                       "WHERE consumer = '" +
                       name_ + "'"),
            "handler_failed 3 this order can never be applied");
}

TEST_F(InboxConsumerTest, BadMessagesAreDeadLetteredWithTheirBytesAndThePartitionMovesOn) {
  Producer producer(kafka_.bootstrap());
  const std::string key("\xff\x00key", 5);
  Sent no_id{key, std::string("\x00\x01", 2), {{"event-type", "x"}}, 0};
  Sent bad_id{"k", "{}", {{"outbox-id", "12abc"}}, 0};
  Sent forged{"k", "{}", {{"outbox-id", "5"}, {"outbox-id", "6"}}, 0};
  Sent good = FromRelay(7, "k");
  good.partition = 0;
  for (const Sent& s : {no_id, bad_id, forged, good}) producer.Send(topic_, s);
  producer.Flush();
  Options options = BaseOptions(name_);
  Running running(options, Effects());
  ASSERT_TRUE(WaitFor([&] { return running.consumer().stats().applied == 1; })) << Log();
  running.Stop();
  EXPECT_EQ(running.consumer().stats().dead_lettered, 3);
  EXPECT_EQ(pg().Query("SELECT string_agg(reason, ',' ORDER BY \"offset\") FROM "
                       "inbox_dead_letter WHERE consumer = '" +
                       name_ + "'"),
            "missing_outbox_id,malformed_outbox_id,duplicate_outbox_id");
  EXPECT_EQ(pg().Query("SELECT encode(key, 'hex') || ' ' || encode(payload, 'hex') FROM "
                       "inbox_dead_letter WHERE consumer = '" +
                       name_ + "' AND reason = 'missing_outbox_id'"),
            "ff006b6579 0001");
  EXPECT_EQ(EffectsOf("count(*)"), "1");
  EXPECT_NE(Scrape(running.consumer())
                .find("outbox_inbox_dead_letters_total{consumer=\"" + name_ +
                      "\",reason=\"malformed_outbox_id\"} 1"),
            std::string::npos);
}

// max_batch: many messages per transaction, a savepoint each. A handler's
// SQL error or exception rolls back only its own message.
TEST_F(InboxConsumerTest, BatchesApplyEachMessageOnceAndAFailureRollsBackOnlyItsMessage) {
  Producer producer(kafka_.bootstrap());
  for (int id = 1; id <= 400; ++id) {
    producer.Send(topic_, FromRelay(id, "key-" + std::to_string(id % 13), id / 13 + 1));
  }
  for (int id = 1; id <= 20; ++id) {  // copies, as after a relay's crash
    producer.Send(topic_, FromRelay(id, "key-" + std::to_string(id % 13), id / 13 + 1));
  }
  producer.Flush();
  Options options = BaseOptions(name_);
  options.max_batch = 50;
  std::atomic<int> sql_failures{0}, throws{0};
  Handler effects = Effects();
  Running running(options, [&](pqxx::transaction_base& tx, const Message& m) {
    effects(tx, m);
    if (m.outbox_id == 77 && throws++ == 0) throw std::runtime_error("once");
    if (m.outbox_id == 120 && sql_failures++ == 0) tx.exec("SELECT 1 / 0");  // SQLSTATE 22012
  });
  ASSERT_TRUE(WaitFor([&] {
    Stats s = running.consumer().stats();
    return s.applied == 400 && s.duplicates == 20;
  })) << "applied "
      << running.consumer().stats().applied << " duplicates "
      << running.consumer().stats().duplicates << " effects " << EffectsOf("count(*)") << Log();
  running.Stop();
  EXPECT_EQ(EffectsOf("count(*)"), "400");
  EXPECT_EQ(running.consumer().stats().handler_errors, 2);
  EXPECT_EQ(running.consumer().stats().gaps + running.consumer().stats().reorders, 0);
  // Far fewer transactions than messages: received_at is now(), the start
  // of the row's top-level transaction.
  const int64_t commits = std::stoll(
      pg().Query("SELECT count(DISTINCT received_at) FROM inbox WHERE consumer = '" + name_ + "'"));
  EXPECT_LT(commits, 200) << "transactions for 400 messages";
  std::cout << "400 messages in " << commits << " transactions\n";
}

// Two members of one group: B joins while A applies, then A leaves. Each
// revoke commits what was applied before the partitions go; whatever comes
// again is dropped by the inbox. The effects table refuses a second
// application of an id, so a double apply would show as a handler error.
TEST_F(InboxConsumerTest, TwoConsumersInOneGroupThroughRebalancesApplyEachMessageOnce) {
  constexpr int kMessages = 3000;
  std::atomic<bool> producing{true};
  std::thread writer([&] {
    Producer producer(kafka_.bootstrap());
    for (int id = 1; id <= kMessages; ++id) {
      producer.Send(topic_, FromRelay(id, "key-" + std::to_string(id % 50), id / 50 + 1));
      if (id % 100 == 0) {
        producer.Flush();
        std::this_thread::sleep_for(60ms);
      }
    }
    producer.Flush();
    producing = false;
  });
  Options options = BaseOptions(name_);
  // One name: one inbox, one group.
  auto a = std::make_unique<Running>(options, Effects());
  ASSERT_TRUE(WaitFor([&] { return a->consumer().stats().applied > 300; })) << Log();
  Running b(options, Effects());
  ASSERT_TRUE(WaitFor([&] { return b.consumer().stats().applied > 300; })) << Log();
  a->Stop();
  const Stats from_a = a->consumer().stats();
  ASSERT_TRUE(
      WaitFor([&] { return from_a.applied + b.consumer().stats().applied == kMessages; }, 60s))
      << "A " << from_a.applied << " B " << b.consumer().stats().applied << "\n"
      << Log();
  writer.join();
  std::this_thread::sleep_for(500ms);  // anything more would be a second application
  b.Stop();
  const Stats from_b = b.consumer().stats();
  EXPECT_EQ(from_a.applied + from_b.applied, kMessages);
  EXPECT_EQ(from_a.handler_errors + from_b.handler_errors, 0);
  EXPECT_EQ(from_a.dead_lettered + from_b.dead_lettered, 0);
  EXPECT_EQ(from_a.gaps + from_b.gaps + from_a.reorders + from_b.reorders, 0);
  EXPECT_EQ(EffectsOf("count(*)"), std::to_string(kMessages));
  EXPECT_EQ(EffectsOf("count(*) FILTER (WHERE outbox_id BETWEEN 1 AND " +
                      std::to_string(kMessages) + ")"),
            std::to_string(kMessages));
  const std::string log = Log();
  EXPECT_NE(log.find("msg=\"partition revoked\""), std::string::npos);
  std::cout << "rebalance: A applied " << from_a.applied << ", B applied " << from_b.applied
            << ", duplicates dropped " << from_a.duplicates + from_b.duplicates << "\n";
}

TEST_F(InboxConsumerTest, RetentionRemovesOldDecidedRowsButNeverHeldOnes) {
  pg().Exec(
      "INSERT INTO inbox (consumer, outbox_id, topic, \"partition\", \"offset\", outcome, "
      "received_at) VALUES ('" +
      name_ + "', 1, 't', 0, 0, 'applied', now() - interval '3 days'), ('" + name_ +
      "', 2, 't', 0, 1, 'held', now() - interval '3 days'), ('" + name_ +
      "', 3, 't', 0, 2, 'dead_lettered', now() - interval '3 days'), ('" + name_ +
      "', 4, 't', 0, 3, 'applied', now() - interval '1 hour')");
  Options options = BaseOptions(name_);
  options.retention = std::chrono::hours(24);
  Running running(options, Effects());
  ASSERT_TRUE(WaitFor([&] {
    return pg().Query("SELECT count(*) FROM inbox WHERE consumer = '" + name_ + "'") == "2";
  })) << Log();
  running.Stop();
  EXPECT_EQ(pg().Query("SELECT string_agg(outbox_id::text, ',' ORDER BY outbox_id) FROM inbox "
                       "WHERE consumer = '" +
                       name_ + "'"),
            "2,4");
  EXPECT_NE(Log().find("msg=\"inbox retention\" consumer=\"" + name_ + "\" removed=2"),
            std::string::npos);
}

TEST_F(InboxConsumerTest, ALostDatabaseIsWaitedOutAndNothingIsAppliedTwice) {
  Producer producer(kafka_.bootstrap());
  Options options = BaseOptions(name_);
  Running running(options, Effects());
  for (int id = 1; id <= 100; ++id)
    producer.Send(topic_, FromRelay(id, "k" + std::to_string(id % 7)));
  producer.Flush();
  ASSERT_TRUE(WaitFor([&] { return running.consumer().stats().applied == 100; })) << Log();
  pg().Ctl("restart -m immediate");
  for (int id = 101; id <= 200; ++id)
    producer.Send(topic_, FromRelay(id, "k" + std::to_string(id % 7)));
  producer.Flush();
  ASSERT_TRUE(WaitFor([&] { return running.consumer().stats().applied == 200; }, 60s)) << Log();
  running.Stop();
  EXPECT_EQ(EffectsOf("count(*)"), "200");
}

// Prepared once per session; behind a transaction pooler, never (its
// server sessions would not have them). Seen from the handler's session.
TEST_F(InboxConsumerTest, PreparesItsStatementsUnlessBehindAPooler) {
  Producer producer(kafka_.bootstrap());
  for (int id = 1; id <= 4; ++id) producer.Send(topic_, FromRelay(id, "k", id));
  producer.Flush();
  for (bool behind_pooler : {false, true}) {
    Options options = BaseOptions(name_ + (behind_pooler ? "-pooled" : ""));
    options.behind_pooler = behind_pooler;
    std::atomic<int64_t> prepared{-1};
    Running running(options, [&](pqxx::transaction_base& tx, const Message&) {
      prepared = tx.exec1("SELECT count(*) FROM pg_prepared_statements")[0].as<int64_t>();
    });
    ASSERT_TRUE(WaitFor([&] { return running.consumer().stats().applied == 4; })) << Log();
    running.Stop();
    // libpqxx prepares on first use: the claim, the key's lock and its move.
    EXPECT_EQ(prepared.load(), behind_pooler ? 0 : 3) << "behind_pooler " << behind_pooler;
  }
}

TEST(InboxOptions, RefusesWhatWouldBreakTheGuarantee) {
  Options o;
  o.name = "n";
  o.postgres_dsn = "host=/nonexistent";
  o.bootstrap_servers = "127.0.0.1:1";
  o.topics = {"t"};
  const Handler handler = [](pqxx::transaction_base&, const Message&) {};
  for (const char* property : {"enable.auto.commit", "enable.auto.offset.store"}) {
    Options bad = o;
    bad.kafka_properties[property] = "true";
    try {
      Consumer consumer(bad, handler);
      ADD_FAILURE() << property << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(property), std::string::npos) << e.what();
    }
  }
  Options unnamed = o;
  unnamed.name = "";
  EXPECT_THROW(Consumer(unnamed, handler), std::invalid_argument);
  Options no_topics = o;
  no_topics.topics.clear();
  EXPECT_THROW(Consumer(no_topics, handler), std::invalid_argument);
  Options bad_property = o;
  bad_property.kafka_properties["no.such.property"] = "1";
  EXPECT_THROW(Consumer(bad_property, handler), std::invalid_argument);
  EXPECT_THROW(Consumer(o, nullptr), std::invalid_argument);
}

TEST(InboxSchema, AppliesOnceAndNamesTheFileThatFails) {
  ApplySchema(pg().dsn());
  ApplySchema(pg().dsn());  // again: nothing to do
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_inbox_schema_migrations"), "1");
  try {
    ApplySchema("host=/nonexistent-dir");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ApplySchema"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace outbox::inbox
