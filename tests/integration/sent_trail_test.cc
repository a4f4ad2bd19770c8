// The sent trail (relay.on_ack: mark_sent), the per-key sequence and
// retention, against a real PostgreSQL: the shared server's plain outbox, and
// databases of their own for the schema options.
#include <gtest/gtest.h>

#include <atomic>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "outbox/admin.h"
#include "outbox/migrator.h"
#include "outbox/pg_outbox_store.h"
#include "outbox/retention_keeper.h"
#include "support/throwaway_postgres.h"

namespace outbox {
namespace {

using testing::ThrowawayPostgres;
using namespace std::chrono_literals;

const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

std::string Query(const std::string& dsn, const std::string& sql) {
  pqxx::connection connection(dsn);
  pqxx::nontransaction tx(connection);
  const pqxx::result result = tx.exec(sql);
  if (result.empty() || result[0][0].is_null()) return "";
  return result[0][0].as<std::string>();
}

void Exec(const std::string& dsn, const std::string& sql) {
  pqxx::connection connection(dsn);
  pqxx::work tx(connection);
  tx.exec(sql);
  tx.commit();
}

// A fresh database on the shared server, migrated with the given options.
std::string FreshDatabase(const std::string& name, bool partitioned, bool per_key_sequence) {
  {
    pqxx::connection connection(pg().dsn());
    pqxx::nontransaction(connection).exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    pqxx::nontransaction(connection).exec("CREATE DATABASE " + name);
  }
  const std::string dsn = pg().dsn() + " dbname=" + name;
  Result<MigrationReport> migrated = Migrate(dsn, SchemaPlan(partitioned, per_key_sequence));
  if (!migrated.ok()) throw std::runtime_error(migrated.status().message());
  return dsn;
}

std::vector<int64_t> IdsOf(const std::vector<OutboxMessage>& batch) {
  std::vector<int64_t> ids;
  for (const OutboxMessage& m : batch) ids.push_back(m.id);
  return ids;
}

// Delivered at partition 2, offsets 100, 101, ... in batch order.
Settlement DeliveredAt(const std::vector<OutboxMessage>& batch, int64_t first_offset = 100) {
  Settlement settlement;
  for (size_t i = 0; i < batch.size(); ++i) {
    settlement.delivered.push_back({batch[i].id, 2, first_offset + static_cast<int64_t>(i)});
  }
  return settlement;
}

class SentTrailTest : public ::testing::Test {
 protected:
  void SetUp() override { pg().ResetOutbox(); }
};

TEST_F(SentTrailTest, MarkSentKeepsTheRowWithWhereTheBrokerPutItAndReadsPastIt) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) SELECT 'orders', 'k' || i, 'p' "
      "FROM generate_series(1, 3) i");
  PgOutboxStore store(pg().dsn(), {}, {}, {.mark_sent = true});
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 3u);
  ASSERT_TRUE(store.Settle(DeliveredAt(*batch)).ok());

  EXPECT_EQ(pg().Query("SELECT string_agg(id || ':' || sent_partition || ':' || sent_offset, ',' "
                       "ORDER BY id) FROM outbox WHERE sent_at > now() - interval '1 minute'"),
            "1:2:100,2:2:101,3:2:102");
  // Sent rows are history: not read again, not pending.
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'k9', 'p')");
  batch = store.ReadBatch(10);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(IdsOf(*batch), std::vector<int64_t>{4});

  // A write-back repeated after an unknown outcome keeps the first record.
  ASSERT_TRUE(store.Settle(DeliveredAt(*batch, 500)).ok());
  ASSERT_TRUE(store.Settle(DeliveredAt(*batch, 900)).ok());
  EXPECT_EQ(pg().Query("SELECT sent_offset FROM outbox WHERE id = 4"), "500");
}

TEST_F(SentTrailTest, SwitchingModesWhileRowsArePendingLosesAndRepeatsNothing) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) SELECT 'orders', 'k' || (i % 3), 'p' "
      "FROM generate_series(1, 10) i");
  {
    PgOutboxStore marking(pg().dsn(), {}, {}, {.mark_sent = true});
    Result<std::vector<OutboxMessage>> batch = marking.ReadBatch(4);
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(marking.Settle(DeliveredAt(*batch)).ok());
  }
  {
    PgOutboxStore deleting(pg().dsn());
    Result<std::vector<OutboxMessage>> batch = deleting.ReadBatch(100);
    ASSERT_TRUE(batch.ok());
    EXPECT_EQ(IdsOf(*batch), (std::vector<int64_t>{5, 6, 7, 8, 9, 10}));
    Settlement settlement;
    for (int64_t id : IdsOf(*batch)) settlement.delivered.push_back(id);
    ASSERT_TRUE(deleting.Settle(settlement).ok());
  }
  PgOutboxStore marking(pg().dsn(), {}, {}, {.mark_sent = true});
  Result<std::vector<OutboxMessage>> batch = marking.ReadBatch(100);
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->empty());
  EXPECT_EQ(pg().Query("SELECT string_agg(id::text, ',' ORDER BY id) FROM outbox"), "1,2,3,4");
}

TEST_F(SentTrailTest, PerKeySequenceIsGaplessInCommitOrderUnderConcurrentWritersAndRollbacks) {
  const std::string dsn = FreshDatabase("per_key_seq", false, true);
  // Four writers, eight keys, each transaction one insert of a
  // random key, every fifth rolled back, some committing late.
  std::atomic<int> committed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      pqxx::connection connection(dsn);
      std::mt19937 random(w);
      for (int i = 0; i < 150; ++i) {
        pqxx::work tx(connection);
        tx.exec("INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'key-" +
                std::to_string(random() % 8) + "', 'w" + std::to_string(w) + "')");
        if (random() % 10 == 0) std::this_thread::sleep_for(2ms);  // a late commit
        if (random() % 5 == 0) {
          tx.abort();
        } else {
          tx.commit();
          ++committed;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(Query(dsn, "SELECT count(*) FROM outbox"), std::to_string(committed.load()));
  // Per key: the numbers are exactly 1..n, and id order is number order.
  EXPECT_EQ(Query(dsn, R"(
    SELECT count(*) FROM (
      SELECT key, key_seq, row_number() OVER (PARTITION BY key ORDER BY id) AS n FROM outbox) s
     WHERE key_seq <> n)"),
            "0");
  EXPECT_EQ(Query(dsn, "SELECT count(DISTINCT key) FROM outbox"), "8");
  // Keyless rows get no number, and the store reads the numbers.
  Exec(dsn, "INSERT INTO outbox (topic, key, payload) VALUES ('orders', NULL, 'x')");
  PgOutboxStore store(dsn, {}, {}, {.per_key_sequence = true});
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10000);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), static_cast<size_t>(committed.load()) + 1);
  EXPECT_FALSE(batch->back().key_seq.has_value());
  EXPECT_EQ(batch->front().key_seq, 1);
}

TEST_F(SentTrailTest, ARequeuedDeadLetterKeepsItsIdAndItsNumber) {
  const std::string dsn = FreshDatabase("requeue_seq", false, true);
  Exec(dsn, "INSERT INTO outbox (topic, key, payload) VALUES ('o', 'a', '1'), ('o', 'a', '2')");
  PgOutboxStore store(dsn, {}, {}, {.mark_sent = true, .per_key_sequence = true});
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 2u);
  const int64_t second = batch->at(1).id;
  Settlement settlement;
  settlement.delivered.push_back({batch->at(0).id, 0, 0});
  settlement.dead_letters.push_back({second, "msg_size_too_large", "too big", false});
  ASSERT_TRUE(store.Settle(settlement).ok());
  ASSERT_TRUE(OutboxAdmin(dsn).RequeueDeadLetters({}, /*dry_run=*/false).ok());
  EXPECT_EQ(Query(dsn, "SELECT id || ':' || key_seq FROM outbox WHERE sent_at IS NULL"),
            std::to_string(second) + ":2");
  // The next row of the key still gets the next number.
  Exec(dsn, "INSERT INTO outbox (topic, key, payload) VALUES ('o', 'a', '3')");
  EXPECT_EQ(Query(dsn, "SELECT max(key_seq) FROM outbox"), "3");
}

TEST_F(SentTrailTest, TheStoreRefusesPerKeySequenceWithoutTheTrigger) {
  PgOutboxStore store(pg().dsn(), {}, {}, {.per_key_sequence = true});
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(batch.status().message().find("outbox_key_seq"), std::string::npos);
}

TEST_F(SentTrailTest, RetentionPrunesOnlyExpiredSentRowsInBatches) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload, sent_at, sent_partition, sent_offset) "
      "SELECT 'o', 'k', 'p', now() - interval '2 days', 0, i FROM generate_series(1, 23) i");
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload, sent_at, sent_partition, sent_offset) "
      "SELECT 'o', 'k', 'p', now() - interval '1 hour', 0, i FROM generate_series(24, 25) i");
  // Pending rows, also old ones: never touched.
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload, created_at) "
      "SELECT 'o', 'k', 'p', now() - interval '30 days' FROM generate_series(1, 4)");
  RetentionKeeper keeper(pg().dsn(), {.sent_retention = 24h, .batch_rows = 5}, {});
  Result<RetentionReport> report = keeper.RunRound();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->sent_rows_removed, 23);
  EXPECT_EQ(report->sent_rows, 2);
  EXPECT_FALSE(report->partitions_ahead.has_value());
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox WHERE sent_at IS NULL"), "4");
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox"), "6");
}

TEST_F(SentTrailTest, DeadLetterRetentionKeepsTheOnesThatBlockAKey) {
  pg().Exec(R"(
    INSERT INTO outbox_dead_letter (id, topic, key, created_at, reason, error, attempts,
                                    first_failed_at, last_failed_at, blocks_key, dead_lettered_at)
    VALUES (1, 'o', 'a', now(), 'r', 'e', 1, now(), now(), false, now() - interval '10 days'),
           (2, 'o', 'b', now(), 'r', 'e', 1, now(), now(), true,  now() - interval '10 days'),
           (3, 'o', 'c', now(), 'r', 'e', 1, now(), now(), false, now()))");
  RetentionKeeper keeper(pg().dsn(), {.dead_letter_retention = 7 * 24h}, {});
  Result<RetentionReport> report = keeper.RunRound();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->dead_letters_removed, 1);
  EXPECT_EQ(pg().Query("SELECT string_agg(id::text, ',' ORDER BY id) FROM outbox_dead_letter"),
            "2,3");
}

TEST_F(SentTrailTest, APartitionedOutboxDropsWholeExpiredPartitionsAndKeepsDaysAhead) {
  const std::string dsn = FreshDatabase("partitioned_outbox", true, false);
  EXPECT_EQ(Query(dsn, "SELECT relkind FROM pg_class WHERE oid = 'outbox'::regclass"), "p");
  // Two days long past: one all sent long ago, one with a row still pending.
  Exec(dsn, R"(
    CREATE TABLE outbox_p20200101 PARTITION OF outbox
      FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00');
    CREATE TABLE outbox_p20200102 PARTITION OF outbox
      FOR VALUES FROM ('2020-01-02 00:00+00') TO ('2020-01-03 00:00+00');
    INSERT INTO outbox (topic, key, payload, created_at, sent_at, sent_partition, sent_offset)
    SELECT 'o', 'k', 'p', '2020-01-01 12:00+00', '2020-01-01 12:01+00', 0, i
      FROM generate_series(1, 50) i;
    INSERT INTO outbox (topic, key, payload, created_at, sent_at)
    VALUES ('o', 'k', 'p', '2020-01-02 12:00+00', '2020-01-02 12:01+00'),
           ('o', 'k', 'pending', '2020-01-02 13:00+00', NULL);
    INSERT INTO outbox (topic, key, payload) VALUES ('o', 'k', 'today');)");
  RetentionKeeper keeper(dsn, {.sent_retention = 24h, .partitions_ahead = 5}, {});
  Result<RetentionReport> report = keeper.RunRound();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->partitions_dropped, 1);
  EXPECT_EQ(report->partitions_ahead, 5);
  EXPECT_EQ(report->partitions_created, 2);  // migrate made today + 3 days
  EXPECT_EQ(Query(dsn, "SELECT to_regclass('outbox_p20200101')"), "");
  EXPECT_EQ(Query(dsn, "SELECT to_regclass('outbox_p20200102')"), "outbox_p20200102");
  EXPECT_EQ(Query(dsn,
                  "SELECT string_agg(payload::text, ',' ORDER BY id) FROM outbox "
                  "WHERE sent_at IS NULL"),
            std::string("\\x") + "70656e64696e67" + ",\\x746f646179");  // pending, today

  // The relay reads and marks rows of a partitioned outbox like any other.
  PgOutboxStore store(dsn, {}, {}, {.mark_sent = true});
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 2u);
  ASSERT_TRUE(store.Settle(DeliveredAt(*batch)).ok());
  EXPECT_EQ(Query(dsn, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), "0");
}

TEST_F(SentTrailTest, MigratePartitionedRefusesAnExistingPlainOutbox) {
  Result<MigrationReport> migrated = Migrate(pg().dsn(), SchemaPlan(true, false));
  ASSERT_FALSE(migrated.ok());
  EXPECT_NE(migrated.status().message().find("an outbox table exists already"), std::string::npos)
      << migrated.status().message();
}

}  // namespace
}  // namespace outbox
