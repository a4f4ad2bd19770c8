// Several stores on one outbox (schema/0005): shard leases, balancing,
// handover, failover and fencing, against a real PostgreSQL.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "outbox/lease_plan.h"
#include "outbox/legacy_lock.h"
#include "outbox/pg_outbox_store.h"
#include "support/throwaway_postgres.h"

namespace outbox {
namespace {

using testing::ThrowawayPostgres;
using namespace std::chrono_literals;

constexpr int kShards = 16;  // schema/0005

class ShardLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override { pg().ResetOutbox(); }
  static const ThrowawayPostgres& pg() { return ThrowawayPostgres::Shared(); }

  static std::unique_ptr<PgOutboxStore> Store(std::chrono::milliseconds ttl = 1000ms) {
    LeaseOptions options;
    options.ttl = ttl;
    return std::make_unique<PgOutboxStore>(pg().dsn(), options);
  }
  static void InsertKeys(int keys, int rows_per_key) {
    pg().Exec(
        "INSERT INTO outbox (topic, key, payload) SELECT 't', 'key-' || k, 'p' FROM "
        "generate_series(1, " +
        std::to_string(rows_per_key) + "), generate_series(1, " + std::to_string(keys) + ") k");
  }
  // A relay that registered and took the shards matching `shards` (SQL),
  // then vanished: its registration and leases run out after `lasting`.
  static void VanishedRelayHolds(const std::string& lasting, const std::string& shards) {
    pg().Exec(
        "INSERT INTO outbox_relay_instance (id, host, pid, alive_until) "
        "VALUES ('ghost', 'elsewhere', 1, now() + interval '" +
        lasting + "')");
    pg().Exec(
        "UPDATE outbox_relay_lease SET owner = 'ghost', epoch = epoch + 1, "
        "lease_until = now() + interval '" +
        lasting + "' WHERE " + shards);
  }
  static size_t Owned(PgOutboxStore& store) { return store.leases().Held().shards.size(); }
  // Reads (which also reports drained shards) until `done` or ~5 s.
  static bool ReadUntil(const std::vector<PgOutboxStore*>& stores,
                        const std::function<bool()>& done) {
    for (int i = 0; i < 100; ++i) {
      if (done()) return true;
      for (PgOutboxStore* store : stores) EXPECT_TRUE(store->ReadBatch(0).ok());
      std::this_thread::sleep_for(50ms);
    }
    return done();
  }
  static std::vector<int64_t> IdsOf(const std::vector<OutboxMessage>& batch) {
    std::vector<int64_t> ids;
    for (const OutboxMessage& m : batch) ids.push_back(m.id);
    return ids;
  }
  static Settlement Delivered(const std::vector<OutboxMessage>& batch) {
    Settlement settlement;
    const std::vector<int64_t> ids = IdsOf(batch);
    settlement.delivered.assign(ids.begin(), ids.end());
    return settlement;
  }
};

TEST(LeasePlan, SplitsTheShardsEvenlyByRank) {
  EXPECT_EQ(FairShare(16, 3, 0), 6);
  EXPECT_EQ(FairShare(16, 3, 1), 5);
  EXPECT_EQ(FairShare(16, 3, 2), 5);
  EXPECT_EQ(FairShare(2, 3, 2), 0);  // more instances than shards: standby
  EXPECT_EQ(FairShare(16, 0, 0), 0);
}

TEST(LeasePlan, ClaimsBelowItsShareAndHandsOverTheHighestAbove) {
  const LeasePlan newcomer = PlanRound({}, {}, 16, {"a", "b"}, "b");
  EXPECT_EQ(newcomer.target, 8);
  EXPECT_EQ(newcomer.claim, 8);

  std::set<int> all;
  for (int s = 0; s < 16; ++s) all.insert(s);
  const LeasePlan holder = PlanRound(all, {}, 16, {"a", "b"}, "a");
  EXPECT_EQ(holder.claim, 0);
  EXPECT_EQ(holder.start_drain, (std::set<int>{8, 9, 10, 11, 12, 13, 14, 15}));

  // The other instance went away before the handover finished: keep them.
  const LeasePlan alone = PlanRound(all, {14, 15}, 16, {"a"}, "a");
  EXPECT_EQ(alone.stop_drain, (std::set<int>{14, 15}));
  EXPECT_TRUE(alone.start_drain.empty());
  EXPECT_EQ(alone.claim, 0);

  // Not yet in the live list (its first registration is not visible): it
  // counts itself last, so it never claims more than a share.
  EXPECT_EQ(PlanRound({}, {}, 16, {"a"}, "z").claim, 8);
}

TEST_F(ShardLeasesTest, ALoneStoreHoldsEveryShardAndReadsEveryKeyAtOnce) {
  InsertKeys(50, 2);
  auto store = Store();

  Result<std::vector<OutboxMessage>> batch = store->ReadBatch(1000);

  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(batch->size(), 100u);
  EXPECT_EQ(Owned(*store), size_t{kShards});
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_relay_lease WHERE owner = '" +
                       store->leases().instance_id() + "' AND lease_until > now()"),
            std::to_string(kShards));
}

TEST_F(ShardLeasesTest, TwoStoresSplitTheShardsAndEveryKeyHasExactlyOneReader) {
  auto first = Store();
  ASSERT_TRUE(first->ReadBatch(10).ok());
  auto second = Store();
  ASSERT_TRUE(second->ReadBatch(10).ok());
  ASSERT_TRUE(
      ReadUntil({first.get(), second.get()},
                [&] { return Owned(*first) == kShards / 2 && Owned(*second) == kShards / 2; }))
      << Owned(*first) << " + " << Owned(*second);

  InsertKeys(100, 3);
  Result<std::vector<OutboxMessage>> a = first->ReadBatch(1000);
  Result<std::vector<OutboxMessage>> b = second->ReadBatch(1000);

  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size() + b->size(), 300u);
  EXPECT_GT(a->size(), 0u);
  EXPECT_GT(b->size(), 0u);
  std::set<std::string> keys_a, keys_b;
  for (const OutboxMessage& m : *a) keys_a.insert(*m.key);
  for (const OutboxMessage& m : *b) {
    keys_b.insert(*m.key);
    EXPECT_EQ(keys_a.count(*m.key), 0u) << *m.key << " read by both";
  }
  EXPECT_EQ(keys_a.size() + keys_b.size(), 100u);
}

TEST_F(ShardLeasesTest, AHandoverWaitsForTheRowsInFlightSoTheyAreNotSentTwice) {
  InsertKeys(100, 1);
  auto first = Store(4000ms);  // rounds every 800 ms, a handover waits up to 2 s
  Result<std::vector<OutboxMessage>> in_flight = first->ReadBatch(1000);
  ASSERT_TRUE(in_flight.ok());
  ASSERT_EQ(in_flight->size(), 100u);

  auto second = Store(4000ms);
  ASSERT_TRUE(second->ReadBatch(10).ok());
  for (int i = 0; i < 40 && first->leases().View().draining.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(first->leases().View().draining.size(), size_t{kShards / 2});
  // While its batch is in flight, the first store keeps the draining shards.
  ReadRequest while_in_flight{.max_rows = 10, .in_flight = IdsOf(*in_flight)};
  ASSERT_TRUE(first->ReadBatch(while_in_flight).ok());
  EXPECT_EQ(Owned(*first), size_t{kShards});

  // Acknowledged and written back under its leases, then nothing in flight:
  // the shards go over at once, with nothing of theirs left to send again.
  ASSERT_TRUE(first->Settle(Delivered(*in_flight)).ok());
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox"), "0");
  ASSERT_TRUE(
      ReadUntil({first.get(), second.get()}, [&] { return Owned(*second) == kShards / 2; }));
  EXPECT_EQ(Owned(*first), size_t{kShards / 2});
}

TEST_F(ShardLeasesTest, AStoppedStoreHandsItsShardsOverAtOnce) {
  InsertKeys(20, 1);
  auto first = Store(5000ms);
  ASSERT_TRUE(first->ReadBatch(10).ok());
  auto second = Store(5000ms);
  ASSERT_TRUE(second->ReadBatch(10).ok());
  ASSERT_EQ(Owned(*second), 0u);  // everything is held and live

  const auto stopped = std::chrono::steady_clock::now();
  first.reset();
  ASSERT_TRUE(ReadUntil({second.get()}, [&] { return Owned(*second) == kShards; }));
  // Within a round (ttl / 5), not after the lease (5 s).
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2500ms);
  Result<std::vector<OutboxMessage>> batch = second->ReadBatch(100);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->size(), 20u);
}

TEST_F(ShardLeasesTest, TheShardsOfAVanishedRelayAreTakenOverOnceItsLeaseRunsOut) {
  // A relay that died (or was paused) holding every shard for another 1.5 s.
  VanishedRelayHolds("1.5 s", "true");
  InsertKeys(20, 1);
  const auto started = std::chrono::steady_clock::now();
  auto store = Store(1000ms);
  Result<std::vector<OutboxMessage>> before = store->ReadBatch(100);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->empty());
  Settlement not_ours;
  not_ours.delivered = {1, 2, 3};
  EXPECT_TRUE(store->Settle(not_ours).ok());
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox"), "20");

  ASSERT_TRUE(ReadUntil({store.get()}, [&] { return Owned(*store) == kShards; }));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 1400ms);  // not before the ghost's lease ran out
  EXPECT_LT(took, 2500ms);  // and within a round (200 ms) after it, with slack
  Result<std::vector<OutboxMessage>> after = store->ReadBatch(100);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 20u);
}

TEST_F(ShardLeasesTest, ANewlyAcquiredShardJoinsAtOnceAndItsRowsAmongThoseInFlightAreRead) {
  // A vanished relay holds shards 8..15 for another second.
  VanishedRelayHolds("1 s", "shard >= 8");
  InsertKeys(200, 1);
  auto store = Store(1000ms);
  Result<std::vector<OutboxMessage>> in_flight = store->ReadBatch(1000);
  ASSERT_TRUE(in_flight.ok());
  ASSERT_EQ(Owned(*store), 8u);
  ASSERT_GT(in_flight->size(), 0u);
  ASSERT_LT(in_flight->size(), 200u);
  for (int i = 0; i < 60 && Owned(*store) < size_t{kShards}; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(Owned(*store), size_t{kShards});

  // Rows of the new shards lie between the ids in flight: they are read now,
  // lowest id first, and none of the rows in flight is read again.
  const ReadRequest while_in_flight{.max_rows = 1000, .in_flight = IdsOf(*in_flight)};
  Result<std::vector<OutboxMessage>> joined = store->ReadBatch(while_in_flight);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(in_flight->size() + joined->size(), 200u);
  std::set<int64_t> ids;
  for (const OutboxMessage& m : *in_flight) ids.insert(m.id);
  for (const OutboxMessage& m : *joined) EXPECT_TRUE(ids.insert(m.id).second) << m.id;
  EXPECT_TRUE(std::is_sorted(joined->begin(), joined->end(),
                             [](const auto& a, const auto& b) { return a.id < b.id; }));
}

TEST_F(ShardLeasesTest, StandsByWhileARelayFromBeforeLeasesHoldsTheOldLock) {
  InsertKeys(10, 1);
  pqxx::connection old_relay(pg().dsn());
  pqxx::nontransaction(old_relay).exec("SELECT pg_advisory_lock(" +
                                       std::to_string(kLegacyPublisherLockKey) + ")");
  auto store = Store(1000ms);
  Result<std::vector<OutboxMessage>> during = store->ReadBatch(100);
  ASSERT_TRUE(during.ok()) << during.status().message();
  EXPECT_TRUE(during->empty());
  EXPECT_EQ(Owned(*store), 0u);

  old_relay.disconnect();  // the old relay stops
  ASSERT_TRUE(ReadUntil({store.get()}, [&] { return Owned(*store) == kShards; }));
  Result<std::vector<OutboxMessage>> after = store->ReadBatch(100);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 10u);
}

TEST_F(ShardLeasesTest, AStoreFencedOutByANewerEpochReadsAndRemovesNothing) {
  InsertKeys(30, 1);
  auto store = Store(60000ms);  // it would not notice by itself for a while
  Result<std::vector<OutboxMessage>> batch = store->ReadBatch(100);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 30u);

  // Another relay claimed every shard (as after this one was paused past
  // its lease): a new epoch.
  pg().Exec(
      "UPDATE outbox_relay_lease SET owner = 'newer', epoch = epoch + 1, "
      "lease_until = now() + interval '1 min'");
  Settlement settlement = Delivered(*batch);
  settlement.delivered.resize(10);
  settlement.retries.push_back({batch->at(10).id, "transient", 1000ms});
  settlement.dead_letters.push_back({batch->at(11).id, "too_large", "x", true});

  ASSERT_TRUE(store->Settle(settlement).ok());
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox"), "30");
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox WHERE attempts > 0"), "0");
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox_dead_letter"), "0");
  Result<std::vector<OutboxMessage>> again = store->ReadBatch(100);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(ShardLeasesTest, AnExpiredLeaseStopsReadsButUnclaimedItStillAllowsTheWriteBack) {
  InsertKeys(10, 2);
  auto store = Store(60000ms);
  Result<std::vector<OutboxMessage>> batch = store->ReadBatch(10);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 10u);
  // As after a pause past the lease, before the keeper renews it.
  pg().Exec("UPDATE outbox_relay_lease SET lease_until = now() - interval '1 s'");

  Result<std::vector<OutboxMessage>> more = store->ReadBatch(100);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty());
  // Nobody claimed the shards (same epoch): the acknowledged rows go.
  ASSERT_TRUE(store->Settle(Delivered(*batch)).ok());
  EXPECT_EQ(pg().Query("SELECT count(*) FROM outbox"), "10");
}

}  // namespace
}  // namespace outbox
