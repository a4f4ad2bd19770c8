// PgOutboxStore against a real PostgreSQL loaded with schema/.
#include "outbox/pg_outbox_store.h"

#include <gtest/gtest.h>

#include <functional>
#include <pqxx/pqxx>
#include <thread>

#include "outbox/admin.h"
#include "support/throwaway_postgres.h"

namespace outbox {
namespace {

using testing::ThrowawayPostgres;
using namespace std::chrono_literals;

class PgOutboxStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Lets the tests find (and kill) the store's own backend.
    setenv("PGAPPNAME", "store-under-test", 1);
    pg().ResetOutbox();
  }
  static const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

  static Settlement Delivered(std::vector<int64_t> ids) {
    Settlement settlement;
    settlement.delivered.assign(ids.begin(), ids.end());
    return settlement;
  }
  static std::string Ids(const std::string& table) {
    return pg().Query("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + table);
  }
  static std::vector<int64_t> IdsOf(const std::vector<OutboxMessage>& batch) {
    std::vector<int64_t> ids;
    for (const OutboxMessage& m : batch) ids.push_back(m.id);
    return ids;
  }

  // Retries while the store reports kUnavailable (it reconnects on the next call).
  static Result<std::vector<OutboxMessage>> ReadEventually(PgOutboxStore& store) {
    for (int attempt = 0;; ++attempt) {
      Result<std::vector<OutboxMessage>> batch = store.ReadBatch(100);
      if (batch.ok() || attempt == 50 || batch.status().code() != StatusCode::kUnavailable) {
        return batch;
      }
      std::this_thread::sleep_for(100ms);
    }
  }
};

TEST_F(PgOutboxStoreTest, ReadsCommittedRowsLowestIdFirstWithAllColumns) {
  pg().Exec(R"(
    INSERT INTO outbox (topic, key, payload, headers) VALUES
      ('orders', 'order-1', '\x00ff41'::bytea, '{"type": "OrderCreated", "trace": "abc"}'),
      ('orders', NULL, 'no key', NULL),
      ('orders', 'order-1', NULL, '{}'))");
  PgOutboxStore store(pg().dsn());

  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 3u);
  const OutboxMessage& first = (*batch)[0];
  EXPECT_EQ(first.id, 1);
  EXPECT_EQ(first.topic, "orders");
  EXPECT_EQ(first.key, "order-1");
  EXPECT_EQ(first.payload, std::string("\x00\xff"
                                       "A",
                                       3));
  EXPECT_EQ(first.headers, (std::vector<std::pair<std::string, std::string>>{
                               {"trace", "abc"}, {"type", "OrderCreated"}}));
  EXPECT_TRUE(first.defect.empty());
  EXPECT_GE(first.age_at_read_seconds, 0.0);
  EXPECT_LT(first.age_at_read_seconds, 60.0);
  EXPECT_EQ((*batch)[1].key, std::nullopt);
  EXPECT_EQ((*batch)[1].payload, "no key");
  EXPECT_EQ((*batch)[2].payload, std::nullopt);  // tombstone
}

TEST_F(PgOutboxStoreTest, HonoursTheBatchLimit) {
  pg().Exec("INSERT INTO outbox (topic, payload) SELECT 't', 'p' FROM generate_series(1, 25)");
  PgOutboxStore store(pg().dsn());

  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 10u);
  EXPECT_EQ(batch->front().id, 1);
  EXPECT_EQ(batch->back().id, 10);
}

TEST_F(PgOutboxStoreTest, ReadsALowerIdWhoseTransactionCommitsAfterHigherIdsWereRemoved) {
  PgOutboxStore store(pg().dsn());
  // The slow transaction takes id 1 first but commits last.
  pqxx::connection slow_connection(pg().dsn());
  pqxx::work slow(slow_connection);
  slow.exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'k', 'slow')");
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'k', 'fast')");

  Result<std::vector<OutboxMessage>> first = store.ReadBatch(10);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].id, 2);  // id 1 is not committed yet, so not visible
  ASSERT_TRUE(store.Settle(Delivered({2})).ok());

  slow.commit();
  Result<std::vector<OutboxMessage>> second = store.ReadBatch(10);

  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id, 1);
  EXPECT_EQ((*second)[0].payload, "slow");
}

TEST_F(PgOutboxStoreTest, MarksHeadersThatAreNotAnObjectOfStrings) {
  pg().Exec(R"(
    INSERT INTO outbox (topic, payload, headers) VALUES
      ('t', 'a', '["x"]'), ('t', 'b', '{"n": 1}'), ('t', 'c', '{"ok": "yes"}'))");
  PgOutboxStore store(pg().dsn());

  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);

  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_EQ((*batch)[0].defect, "headers must be a JSON object of string values (got a array)");
  EXPECT_EQ((*batch)[1].defect,
            "headers must be a JSON object of string values (\"n\" is a number)");
  EXPECT_EQ((*batch)[2].defect, "");
  EXPECT_EQ((*batch)[0].defect_reason, "invalid_headers");
}

TEST_F(PgOutboxStoreTest, RemovesExactlyTheGivenIdsAndRepeatsSafely) {
  pg().Exec("INSERT INTO outbox (topic, payload) SELECT 't', 'p' FROM generate_series(1, 5)");
  PgOutboxStore store(pg().dsn());

  ASSERT_TRUE(store.Settle(Delivered({2, 4})).ok());
  ASSERT_TRUE(store.Settle(Delivered({2, 4})).ok());  // repeated after an unknown outcome

  EXPECT_EQ(Ids("outbox"), "1,3,5");
}

TEST_F(PgOutboxStoreTest, MovesDeadLettersWithEveryColumnAndTheReason) {
  pg().Exec(R"(
    INSERT INTO outbox (topic, key, payload, headers) VALUES
      ('t', 'a', '\x00ff', '{"h": "v"}'), ('t', 'b', 'ok', NULL))");
  PgOutboxStore store(pg().dsn());
  Settlement settlement;
  settlement.dead_letters = {{1, "msg_size_too_large", "a \"quoted\", {braced} \\ error", true}};
  settlement.delivered = {2};

  ASSERT_TRUE(store.Settle(settlement).ok());
  ASSERT_TRUE(store.Settle(settlement).ok());  // repeating moves nothing twice

  EXPECT_EQ(Ids("outbox"), "");
  EXPECT_EQ(pg().Query("SELECT concat_ws('|', id, topic, key, encode(payload, 'hex'), "
                       "headers->>'h', reason, error, attempts, blocks_key) "
                       "FROM outbox_dead_letter"),
            "1|t|a|00ff|v|msg_size_too_large|a \"quoted\", {braced} \\ error|1|t");
  Result<int64_t> blocked = store.CountBlockedKeys();
  ASSERT_TRUE(blocked.ok());
  EXPECT_EQ(*blocked, 1);
}

TEST_F(PgOutboxStoreTest, HoldsBackAKeyBlockedByADeadLetter) {
  pg().Exec(R"(
    INSERT INTO outbox (topic, key, payload) VALUES
      ('t', 'a', '1'), ('t', 'a', '2'), ('t', 'b', '3'), ('t', NULL, '4'))");
  PgOutboxStore store(pg().dsn());
  Settlement settlement;
  settlement.dead_letters = {{1, "invalid_record", "x", true}};
  ASSERT_TRUE(store.Settle(settlement).ok());

  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);

  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{3, 4}));
  pg().Exec("DELETE FROM outbox_dead_letter");  // an operator purges it
  batch = store.ReadBatch(10);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{2, 3, 4}));
}

TEST_F(PgOutboxStoreTest, AScheduledRetryHoldsBackTheRowAndLaterRowsOfItsKey) {
  pg().Exec(R"(
    INSERT INTO outbox (topic, key, payload) VALUES
      ('t', 'a', '1'), ('t', 'a', '2'), ('t', 'b', '3'))");
  PgOutboxStore store(pg().dsn());
  Settlement settlement;
  settlement.retries = {{1, "topic_authorization_failed: denied", std::chrono::minutes(5)}};
  ASSERT_TRUE(store.Settle(settlement).ok());

  Result<std::vector<OutboxMessage>> waiting = store.ReadBatch(10);
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(IdsOf(*waiting), (std::vector<int64_t>{3}));
  EXPECT_EQ(pg().Query("SELECT concat_ws('|', attempts, last_error, "
                       "next_attempt_at > now() + interval '4 minutes') FROM outbox WHERE id = 1"),
            "1|topic_authorization_failed: denied|t");

  pg().Exec("UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE id = 1");
  Result<std::vector<OutboxMessage>> due = store.ReadBatch(10);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(IdsOf(*due), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ((*due)[0].attempts, 1);
}

TEST_F(PgOutboxStoreTest, ReconnectsAfterItsBackendIsTerminated) {
  pg().Exec("INSERT INTO outbox (topic, payload) VALUES ('t', 'p')");
  PgOutboxStore store(pg().dsn());
  ASSERT_TRUE(store.ReadBatch(10).ok());

  pg().Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = 'store-under-test' AND pid <> pg_backend_pid()");
  Result<std::vector<OutboxMessage>> broken = store.ReadBatch(10);
  if (!broken.ok()) {
    EXPECT_EQ(broken.status().code(), StatusCode::kUnavailable);
  }

  Result<std::vector<OutboxMessage>> batch = ReadEventually(store);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(batch->size(), 1u);
}

TEST_F(PgOutboxStoreTest, ReconnectsAfterAnImmediateServerRestart) {
  pg().Exec("INSERT INTO outbox (topic, payload) VALUES ('t', 'p')");
  PgOutboxStore store(pg().dsn());
  ASSERT_TRUE(store.ReadBatch(10).ok());

  pg().Ctl("restart -m immediate");
  Result<std::vector<OutboxMessage>> batch = ReadEventually(store);

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(batch->size(), 1u);
}

TEST_F(PgOutboxStoreTest, ReportsAMissingOutboxTableAsAnOperatorProblem) {
  pg().Exec("CREATE SCHEMA IF NOT EXISTS nothing_here");
  PgOutboxStore store(pg().dsn() + " options='-c search_path=nothing_here'");

  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);

  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(batch.status().message().find("SQLSTATE 42P01"), std::string::npos)
      << batch.status().message();
}

TEST_F(PgOutboxStoreTest, ReportsAnUnreachableServerAsUnavailable) {
  PgOutboxStore store("host=/nonexistent-socket-dir port=5432 user=postgres");

  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);

  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kUnavailable);
}

// --- pipelining: what a read skips and how much it takes ---------------------

TEST_F(PgOutboxStoreTest, SkipsTheIdsInFlightAndReadsAroundThem) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) "
      "SELECT 'orders', 'k' || i, 'p' FROM generate_series(1, 10) i");
  PgOutboxStore store(pg().dsn());

  Result<std::vector<OutboxMessage>> batch =
      store.ReadBatch(ReadRequest{.max_rows = 10, .in_flight = {3, 4, 6, 7}});

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{1, 2, 5, 8, 9, 10}));
  batch = store.ReadBatch(ReadRequest{.max_rows = 2, .in_flight = {1, 2, 3, 4}});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{5, 6}));
}

TEST_F(PgOutboxStoreTest, ReadsARowThatCommittedLateBetweenTheIdsInFlightBeforeTheNextOfItsKey) {
  // An application's writers: id 2 (key k) is taken by a transaction that
  // commits only after ids 1 and 3 were read and sent.
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'a', '1')");
  pqxx::connection late_connection(pg().dsn());
  pqxx::work late(late_connection);
  late.exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'k', 'k:1')");
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'b', '3')");
  PgOutboxStore store(pg().dsn());
  Result<std::vector<OutboxMessage>> in_flight = store.ReadBatch(10);
  ASSERT_TRUE(in_flight.ok());
  ASSERT_EQ(IdsOf(*in_flight), (std::vector<int64_t>{1, 3}));

  late.commit();
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'k', 'k:2')");
  Result<std::vector<OutboxMessage>> next =
      store.ReadBatch(ReadRequest{.max_rows = 10, .in_flight = {1, 3}});

  // Skipping the id range in flight ([1, 3]) would send k:2 before k:1.
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(IdsOf(*next), (std::vector<int64_t>{2, 4}));
}

TEST_F(PgOutboxStoreTest, DeadLettersRetriesAndBlocksAKeyLargerThanAnIndexEntryCanHold) {
  // ~100 kB of poorly compressible text: no B-tree entry can hold it.
  const std::string huge_key =
      "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3200) g)";
  pg().Exec("INSERT INTO outbox (topic, key, payload) SELECT 't', " + huge_key + ", 'x'");
  pg().Exec("INSERT INTO outbox (topic, key, payload) SELECT 't', " + huge_key + ", 'y'");
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'ok', 'z')");
  pg().Exec("INSERT INTO outbox (topic, key, payload) SELECT 't', 'x' || " + huge_key + ", 'w'");
  PgOutboxStore store(pg().dsn());
  Settlement settlement;
  settlement.delivered = {3};
  settlement.dead_letters = {{1, "msg_size_too_large", "too large", true}};
  settlement.retries = {{4, "unknown_topic: later", std::chrono::minutes(5)}};

  const Status settled = store.Settle(settlement);

  ASSERT_TRUE(settled.ok()) << settled.message();
  EXPECT_EQ(Ids("outbox"), "2,4");
  EXPECT_EQ(Ids("outbox_dead_letter"), "1");
  // Its key is blocked (row 2 waits), the retried one waits: nothing is due.
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_TRUE(batch->empty());
  Result<int64_t> blocked = store.CountBlockedKeys();
  ASSERT_TRUE(blocked.ok());
  EXPECT_EQ(*blocked, 1);
}

// The age of a row (delivery lag, latency) counts from its original commit,
// also after retries rewrote it.
TEST_F(PgOutboxStoreTest, ARetriedRowKeepsTheAgeOfItsOriginalCommit) {
  auto set_commit_timestamps = [](const std::string& value) {
    pqxx::connection c(pg().dsn());
    pqxx::nontransaction(c).exec("ALTER SYSTEM SET track_commit_timestamp = " + value);
    c.disconnect();
    pg().Ctl("restart -m fast");
  };
  set_commit_timestamps("on");
  struct Restore {
    std::function<void(const std::string&)> set;
    ~Restore() { set("default"); }
  } restore{set_commit_timestamps};
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('t', 'a', '1')");
  std::this_thread::sleep_for(1500ms);
  PgOutboxStore store(pg().dsn());
  Settlement retry;
  retry.retries = {{1, "unknown_topic: later", std::chrono::milliseconds(0)}};
  ASSERT_TRUE(store.Settle(retry).ok());
  ASSERT_TRUE(store.Settle(retry).ok());

  Result<std::vector<OutboxMessage>> batch = ReadEventually(store);

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0].attempts, 2);
  EXPECT_GE((*batch)[0].age_at_read_seconds, 1.5);
}

// Memory stays bounded by the in-flight limits: a payload that can never be
// sent is not read at all.
TEST_F(PgOutboxStoreTest, LeavesOutAPayloadLargerThanAMessageMayBeAndSaysWhy) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) VALUES "
      "('t', 'k', convert_to(repeat('x', 2000000), 'UTF8')), ('t', 'k2', 'small')");
  PgOutboxStore store(pg().dsn());

  Result<std::vector<OutboxMessage>> batch =
      store.ReadBatch(ReadRequest{.max_rows = 10, .max_message_bytes = 1000});

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[0].payload, std::nullopt);
  EXPECT_EQ((*batch)[0].key, "k");
  EXPECT_EQ((*batch)[0].defect_reason, "msg_size_too_large");
  EXPECT_EQ((*batch)[0].defect,
            "message of 2000001 bytes (key + payload) exceeds message.max.bytes (1000)");
  EXPECT_EQ((*batch)[1].payload, "small");
  EXPECT_TRUE((*batch)[1].defect.empty());
}

TEST_F(PgOutboxStoreTest, StopsAtTheByteBudgetButAlwaysReadsOneRow) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) "
      "SELECT 'orders', 'k', convert_to(repeat('x', 99), 'UTF8') FROM generate_series(1, 5)");
  PgOutboxStore store(pg().dsn());

  // 100 bytes a row (key + payload): rows are added while the bytes before
  // them are under the budget.
  Result<std::vector<OutboxMessage>> batch =
      store.ReadBatch(ReadRequest{.max_rows = 10, .max_bytes = 250});
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{1, 2, 3}));
  batch = store.ReadBatch(ReadRequest{.max_rows = 10, .max_bytes = 1});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{1}));
}

// --- wake-ups ------------------------------------------------------------------

TEST_F(PgOutboxStoreTest, ACommitWakesTheStoreAndARollbackDoesNot) {
  PgOutboxStore store(pg().dsn());
  ASSERT_TRUE(store.ReadBatch(10).ok());  // connects and listens
  ASSERT_TRUE(store.listening());
  StopSignal stop;

  pqxx::connection writer(pg().dsn());
  {
    pqxx::work tx(writer);
    tx.exec("INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'k', 'rolled back')");
    tx.abort();
  }
  EXPECT_EQ(store.AwaitNewRows(300ms, stop), Wakeup::kTimedOut);

  std::thread commit([&] {
    std::this_thread::sleep_for(100ms);
    pqxx::work tx(writer);
    tx.exec(
        "INSERT INTO outbox (topic, key, payload) SELECT 'orders', 'k', 'p' "
        "FROM generate_series(1, 3)");
    tx.commit();
  });
  const auto started = SteadyClock::now();
  EXPECT_EQ(store.AwaitNewRows(20s, stop), Wakeup::kNotified);
  EXPECT_LT(SteadyClock::now() - started, 5s);
  commit.join();
  // One statement, one notification: nothing more is pending.
  EXPECT_EQ(store.AwaitNewRows(100ms, stop), Wakeup::kTimedOut);
}

TEST_F(PgOutboxStoreTest, WithoutTheTriggerTheStorePolls) {
  pg().Exec("DROP TRIGGER outbox_notify ON outbox");
  PgOutboxStore store(pg().dsn());
  ASSERT_TRUE(store.ReadBatch(10).ok());
  const bool listening = store.listening();
  StopSignal stop;
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'k', 'p')");
  const Wakeup wakeup = store.AwaitNewRows(200ms, stop);
  pg().Exec(
      "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
      "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()");

  EXPECT_FALSE(listening);
  EXPECT_EQ(wakeup, Wakeup::kTimedOut);
}

TEST_F(PgOutboxStoreTest, AStopEndsTheWaitForNotifications) {
  PgOutboxStore store(pg().dsn());
  ASSERT_TRUE(store.ReadBatch(10).ok());
  StopSignal stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stop.Request();
  });
  const auto started = SteadyClock::now();

  EXPECT_EQ(store.AwaitNewRows(30s, stop), Wakeup::kTimedOut);

  stopper.join();
  EXPECT_LT(SteadyClock::now() - started, 5s);
}

// --- the read floor ------------------------------------------------------------

TEST_F(PgOutboxStoreTest, ReadsStartAboveRemovedRowsAndARequeueBringsALowIdBack) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) "
      "SELECT 'orders', 'k' || i, 'p' FROM generate_series(1, 300) i");
  PgOutboxStore store(pg().dsn());
  // Row 1 goes to the dead-letter table; the rest are delivered.
  Settlement first;
  first.dead_letters.push_back({1, "msg_size_too_large", "too big", false});
  ASSERT_TRUE(store.Settle(first).ok());
  for (;;) {
    Result<std::vector<OutboxMessage>> batch = store.ReadBatch(50);
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    if (batch->empty()) break;
    ASSERT_TRUE(store.Settle(Delivered(IdsOf(*batch))).ok());
    std::this_thread::sleep_for(30ms);  // lets the floor be observed between reads
  }
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) "
      "SELECT 'orders', 'k' || i, 'p' FROM generate_series(1, 3) i");  // ids 301..303
  for (int i = 0; i < 6; ++i) {  // candidates must age ReadFloor::kMinAge
    ASSERT_TRUE(store.ReadBatch(10).ok());
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_GT(store.read_floor(), 200);  // the removed rows are not walked

  ASSERT_TRUE(OutboxAdmin(pg().dsn()).RequeueDeadLetters({}, /*dry_run=*/false).ok());
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{1, 301, 302, 303}));
}

// Write-backs commit without waiting for their WAL flush, so a server crash
// can undo the last ones: their rows come back with their old ids, below a
// floor the store saw before the crash. The crash is simulated by putting a
// removed row back by hand (without the requeue counter a requeue bumps)
// and restarting the server; the first read after the reconnect finds it,
// not the 10 s safety net.
TEST_F(PgOutboxStoreTest, RowsBackBelowTheFloorAfterAServerRestartAreReadAtOnce) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) "
      "SELECT 'orders', 'k' || i, 'p' FROM generate_series(1, 300) i");
  PgOutboxStore store(pg().dsn());
  for (;;) {
    Result<std::vector<OutboxMessage>> batch = store.ReadBatch(50);
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    if (batch->empty()) break;
    ASSERT_TRUE(store.Settle(Delivered(IdsOf(*batch))).ok());
    std::this_thread::sleep_for(30ms);
  }
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'k', 'p')");  // id 301
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(store.ReadBatch(10).ok());
    std::this_thread::sleep_for(300ms);
  }
  ASSERT_GT(store.read_floor(), 200);

  pg().Exec(
      "INSERT INTO outbox (id, topic, key, payload) OVERRIDING SYSTEM VALUE "
      "VALUES (5, 'orders', 'k5', 'p')");
  pg().Ctl("restart -m immediate");
  Result<std::vector<OutboxMessage>> batch = ReadEventually(store);

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{5, 301}));
}

TEST_F(PgOutboxStoreTest, AnOlderSchemaIsReportedWithWhatToRun) {
  pg().Exec("UPDATE outbox_relay_schema_migrations SET version = -7 WHERE version = 7");
  PgOutboxStore store(pg().dsn());
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  pg().Exec("UPDATE outbox_relay_schema_migrations SET version = 7 WHERE version = -7");

  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(batch.status().message().find("run `outbox-relay migrate`"), std::string::npos);
}

}  // namespace
}  // namespace outbox
