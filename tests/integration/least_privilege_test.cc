// schema/roles/least_privilege.sql against a real PostgreSQL: the relay's role
// can do its whole job and nothing else; the application's role can only add
// outbox rows.
#include "support/least_privilege.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "outbox/admin.h"
#include "outbox/pg_backlog_source.h"
#include "outbox/pg_outbox_store.h"
#include "support/throwaway_postgres.h"

namespace outbox {
namespace {

using testing::ThrowawayPostgres;

class LeastPrivilegeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string sql = testing::LeastPrivilegeSql();  // throws if missing
    ASSERT_FALSE(sql.empty());
    pg().Exec(sql);
    pg().Exec(sql);  // idempotent
    pg().Exec(
        "DO $$ BEGIN CREATE ROLE relay_svc LOGIN IN ROLE outbox_relay; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    pg().Exec(
        "DO $$ BEGIN CREATE ROLE app_svc LOGIN IN ROLE outbox_writer; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    // A business table the application writes and the relay must not touch.
    pg().Exec("CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, total int)");
    pg().Exec("GRANT SELECT, INSERT ON orders TO app_svc");
  }
  void SetUp() override {
    pg().ResetOutbox();
    pg().Exec("TRUNCATE orders");
  }
  static const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

  static std::string DsnAs(const std::string& user) {
    std::string dsn = pg().dsn();
    const size_t at = dsn.find("user=postgres");
    EXPECT_NE(at, std::string::npos) << dsn;
    return dsn.replace(at, 13, "user=" + user);
  }
  // Whether `sql` as `user` is refused for lack of privilege (it is
  // committed if it is not).
  static bool Denied(const std::string& user, const std::string& sql) {
    pqxx::connection c(DsnAs(user));
    pqxx::work tx(c);
    try {
      tx.exec(sql);
    } catch (const pqxx::insufficient_privilege&) {
      return true;
    }
    tx.commit();
    return false;
  }
};

TEST_F(LeastPrivilegeTest, TheApplicationWritesOrderAndOutboxRowInOneTransactionAndNothingElse) {
  EXPECT_FALSE(Denied("app_svc",
                      "INSERT INTO orders VALUES (1, 10); "
                      "INSERT INTO outbox (topic, key, payload, headers) "
                      "VALUES ('orders', 'o-1', 'p', '{\"h\": \"v\"}')"));
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox"), "1");
  EXPECT_TRUE(Denied("app_svc", "SELECT * FROM outbox"));
  EXPECT_TRUE(Denied("app_svc", "DELETE FROM outbox"));
  EXPECT_TRUE(Denied("app_svc", "UPDATE outbox SET attempts = 5"));
  EXPECT_TRUE(Denied("app_svc", "SELECT * FROM outbox_dead_letter"));
  EXPECT_TRUE(Denied("app_svc", "UPDATE outbox_relay_lease SET owner = 'x'"));
}

TEST_F(LeastPrivilegeTest, TheRelayDoesItsWholeJobAsItsRole) {
  pg().Exec(
      "INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'a', 'p1'), ('orders', 'b', "
      "'p2'), ('orders', 'c', 'p3')");
  PgOutboxStore store(DsnAs("relay_svc"));

  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_TRUE(store.listening());  // LISTEN needs no privilege
  Settlement settlement;
  settlement.delivered = {batch->at(0).id};
  settlement.retries.push_back({batch->at(1).id, "transient", std::chrono::milliseconds(60000)});
  settlement.dead_letters.push_back({batch->at(2).id, "too_large", "too large", true});
  const Status settled = store.Settle(settlement);
  ASSERT_TRUE(settled.ok()) << settled.message();
  EXPECT_EQ(pg().Query("SELECT string_agg(key || ':' || attempts, ',') FROM outbox"), "b:1");
  EXPECT_EQ(pg().Query("SELECT key FROM outbox_dead_letter"), "c");

  Result<int64_t> blocked = store.CountBlockedKeys();
  ASSERT_TRUE(blocked.ok()) << blocked.status().message();
  EXPECT_EQ(*blocked, 1);
  PgBacklogSource backlog(DsnAs("relay_svc"));
  Result<Backlog> read = backlog.Read();
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->pending, 1);
  Result<OutboxStatus> status = OutboxAdmin(DsnAs("relay_svc")).ReadStatus();
  ASSERT_TRUE(status.ok()) << status.status().message();
  ASSERT_EQ(status->instances.size(), 1u);
  EXPECT_EQ(status->instances[0].shards.size(), 16u);
}

TEST_F(LeastPrivilegeTest, ARoleWithoutTheGrantsIsReportedAsAnOperatorProblem) {
  // (libpqxx 6.4 drops the SQLSTATE of permission errors; the store restores it.)
  PgOutboxStore store(DsnAs("app_svc"));
  Result<std::vector<OutboxMessage>> batch = store.ReadBatch(10);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kFailedPrecondition) << batch.status().message();
  EXPECT_NE(batch.status().message().find("SQLSTATE 42501"), std::string::npos)
      << batch.status().message();
}

TEST_F(LeastPrivilegeTest, TheRelayCannotTouchBusinessTablesNorRewriteOrDropMessages) {
  pg().Exec("INSERT INTO orders VALUES (1, 10)");
  pg().Exec("INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'a', 'p')");
  EXPECT_TRUE(Denied("relay_svc", "SELECT * FROM orders"));
  EXPECT_TRUE(Denied("relay_svc", "INSERT INTO orders VALUES (2, 20)"));
  EXPECT_TRUE(Denied("relay_svc", "DELETE FROM orders"));
  EXPECT_TRUE(Denied("relay_svc", "UPDATE outbox SET payload = 'forged'"));
  EXPECT_TRUE(Denied("relay_svc", "UPDATE outbox SET topic = 'elsewhere'"));
  EXPECT_TRUE(Denied("relay_svc", "INSERT INTO outbox (topic) VALUES ('forged')"));
  EXPECT_TRUE(Denied("relay_svc", "DELETE FROM outbox_dead_letter"));
  EXPECT_TRUE(Denied("relay_svc", "CREATE TABLE relay_was_here (x int)"));
  EXPECT_EQ(pg().Query("SELECT total FROM orders"), "10");
}

}  // namespace
}  // namespace outbox
