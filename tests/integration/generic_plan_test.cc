// The relay's session keeps one plan per statement (plan_cache_mode =
// force_generic_plan), made at its first run: the read's plan must not
// depend on what the table held then. Planned on an empty outbox and run on
// a backlog, or planned on a backlog and run with most of it in flight, it
// must walk the index of pending rows in id order: no sort of the backlog,
// no scan of the table.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>

#include "outbox/pg_outbox_store.h"
#include "support/throwaway_postgres.h"

namespace outbox {
namespace {

using testing::ThrowawayPostgres;

class GenericPlanTest : public ::testing::Test {
 protected:
  void SetUp() override { pg().ResetOutbox(); }
  static const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

  // Adds `rows` pending rows; `analyze`: as autovacuum would have by now.
  // Without it the statistics still say what they said before, as they do
  // for up to a minute after a burst (autovacuum_naptime), and no cached
  // plan is made again.
  static void Fill(pqxx::connection& c, int rows, bool analyze = true) {
    pqxx::nontransaction(c).exec(
        "INSERT INTO outbox (topic, key, payload) SELECT 't', 'k' || (i % 100), "
        "convert_to(repeat('x', 200), 'UTF8') FROM generate_series(1, " +
        std::to_string(rows) + ") i");
    if (analyze) pqxx::nontransaction(c).exec("ANALYZE outbox");
  }

  // EXPLAIN ANALYZE of the read as the relay's session runs it (the plan
  // made at its first run), with `in_flight` as $1 and every shard leased.
  static std::string ExplainRead(pqxx::connection& c, const std::string& in_flight) {
    pqxx::nontransaction tx(c);
    const pqxx::row leases = tx.exec1(
        "SELECT array_agg(shard)::text, array_agg(epoch)::text, count(*) FROM outbox_relay_lease");
    const std::string run = "EXECUTE read_batch(" + tx.quote(in_flight) + ", 16777216, 0, " +
                            tx.quote(leases[0].as<std::string>()) + ", " +
                            tx.quote(leases[1].as<std::string>()) + ", 'me', " +
                            leases[2].as<std::string>() + ", 1000000)";
    std::string plan;
    for (const pqxx::row& line : tx.exec("EXPLAIN (ANALYZE, COSTS OFF) " + run)) {
      plan += line[0].as<std::string>() + "\n";
    }
    return plan;
  }

  // As the relay's sessions do (pg_outbox_store.cc), on an outbox whose
  // statistics say empty (autovacuum after a drain) and that holds the
  // first few new rows when the plan is made.
  static void Prepare(pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("VACUUM ANALYZE outbox");
    tx.exec("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; SET jit = off");
    tx.exec("UPDATE outbox_relay_lease SET owner = 'me', lease_until = now() + interval '1 h'");
    tx.exec("PREPARE read_batch AS " + PgOutboxStore::ReadBatchSql(1000));
  }
};

void ExpectIndexDriven(const std::string& plan) {
  EXPECT_NE(plan.find("Index Scan using outbox_pending on outbox o"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Seq Scan on outbox o"), std::string::npos) << plan;
}

TEST_F(GenericPlanTest, PlannedOnAnEmptyOutboxStillWalksThePendingIndexOnABacklog) {
  pqxx::connection c(pg().dsn());
  Prepare(c);
  pqxx::nontransaction(c).exec("INSERT INTO outbox (topic) SELECT 't' FROM generate_series(1, 3)");
  ExplainRead(c, "{}");               // planned now: the statistics say empty, three rows have come
  Fill(c, 20000, /*analyze=*/false);  // a burst the statistics do not know of yet
  const std::string plan = ExplainRead(c, "{}");
  ExpectIndexDriven(plan);
  EXPECT_NE(plan.find("rows=1000 loops=1"), std::string::npos) << plan;
}

TEST_F(GenericPlanTest, PlannedOnABacklogWalksThePendingIndexWithRowsInFlight) {
  pqxx::connection c(pg().dsn());
  Fill(c, 20000);
  Prepare(c);
  ExplainRead(c, "{}");  // planned now, on a backlog
  const std::string lowest =
      pqxx::nontransaction(c).exec1("SELECT min(id) FROM outbox")[0].as<std::string>();
  // The lowest 3,000 ids in flight, one run: the read returns the next 1,000.
  const std::string plan =
      ExplainRead(c, "{[" + lowest + "," + std::to_string(std::stoll(lowest) + 2999) + "]}");
  ExpectIndexDriven(plan);
  EXPECT_NE(plan.find("rows=1000 loops=1"), std::string::npos) << plan;
}

// The write-back of delivered rows, planned on an empty outbox, finds its
// rows by id on a backlog (in mark_sent mode the sent rows are kept: a scan
// of the table grows with them).
TEST_F(GenericPlanTest, WriteBacksPlannedOnAnEmptyOutboxFindTheirRowsByIdOnABacklog) {
  pqxx::connection c(pg().dsn());
  Prepare(c);
  pqxx::nontransaction tx(c);
  tx.exec("PREPARE remove AS " + PgOutboxStore::RemoveSql());
  tx.exec("PREPARE mark_sent AS " + PgOutboxStore::MarkSentSql());
  const pqxx::row leases = tx.exec1(
      "SELECT array_agg(shard)::text, array_agg(epoch)::text, count(*) FROM outbox_relay_lease");
  const std::string fence = tx.quote(leases[0].as<std::string>()) + ", " +
                            tx.quote(leases[1].as<std::string>()) + ", 'me', " +
                            leases[2].as<std::string>() + ")";
  // Planned now: the statistics say empty, the first few rows have come (as
  // at a relay's first write-back after a quiet spell).
  pqxx::connection writer(pg().dsn());
  pqxx::nontransaction(writer).exec(
      "INSERT INTO outbox (topic) SELECT 't' FROM generate_series(1, 3)");
  tx.exec("EXECUTE remove('{1}', " + fence);
  tx.exec("EXECUTE mark_sent('{1}', '{\"1\": [0, 0]}', " + fence);
  // A burst the statistics do not know of yet (a broker outage's backlog),
  // written back a whole batch at a time. Planned for the empty table, the
  // mark walked every pending row for each id: 1.2-1.6 s per 1,000 rows
  // with 7,000 pending (auto_explain of bench/writer_cost.sh).
  Fill(writer, 20000, /*analyze=*/false);
  const int64_t lowest = tx.exec1("SELECT min(id) FROM outbox")[0].as<int64_t>();
  const auto ids = [](int64_t first, int count) {
    std::string out;
    for (int64_t id = first; id < first + count; ++id)
      out += (out.empty() ? "" : ",") + std::to_string(id);
    return "'{" + out + "}'";
  };
  const auto positions = [](int64_t first, int count) {
    std::string out;
    for (int64_t id = first; id < first + count; ++id) {
      out += (out.empty() ? "\"" : ", \"") + std::to_string(id) + "\": [0, " + std::to_string(id) +
             "]";
    }
    return "'{" + out + "}'";
  };
  for (const std::string& run : {"EXECUTE remove(" + ids(lowest, 1000) + ", " + fence,
                                 "EXECUTE mark_sent(" + ids(lowest + 1000, 1000) + ", " +
                                     positions(lowest + 1000, 1000) + ", " + fence}) {
    std::string plan;
    for (const pqxx::row& line : tx.exec("EXPLAIN (ANALYZE, COSTS OFF) " + run)) {
      plan += line[0].as<std::string>() + "\n";
    }
    EXPECT_EQ(plan.find("Seq Scan on outbox o"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Join Filter: (o.id"), std::string::npos) << plan;
    // By id, in either index on it (the primary key, or the pending rows').
    EXPECT_NE(plan.find("Index Cond: (id = ANY ($1))"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Hash Join"), std::string::npos) << plan;
  }
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM outbox")[0].as<int>(),
            19002);  // 3 + 20,000 - id 1 - 1,000 removed
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND sent_partition = 0 "
                     "AND sent_offset = id")[0]
                .as<int>(),
            1000);
}

}  // namespace
}  // namespace outbox
