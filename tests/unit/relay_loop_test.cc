#include "core/relay_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "support/fakes.h"

namespace outbox {
namespace {

using testing::ConcurrentFakeStore;
using testing::Delivered;
using testing::Failed;
using testing::FailedForRow;
using testing::FakeSink;
using testing::FakeStore;
using namespace std::chrono_literals;

class RecordingObserver : public RelayObserver {
 public:
  void OnDelivered(const OutboxMessage& m, const DeliveryOutcome&) override {
    delivered.push_back(m.id);
  }
  void OnNotDelivered(const OutboxMessage& m, const DeliveryOutcome& o) override {
    failed.push_back(m.id);
    reasons.push_back(o.reason);
  }
  void OnBlockedKeys(int64_t count) override { blocked_keys = count; }
  std::vector<int64_t> delivered, failed;
  std::vector<std::string> reasons;
  int64_t blocked_keys = -1;
};

class RelayLoopTest : public ::testing::Test {
 protected:
  RelayLoopOptions Options() {
    RelayLoopOptions o;
    o.batch_size = 10;
    o.poll_interval = 1ms;
    o.backoff_initial = 1ms;
    o.backoff_max = 2ms;
    o.drain_timeout = 50ms;
    return o;
  }
  void AddKeyed(int64_t id, const std::string& key) { store.Add(id, "t", key); }
  void MarkDefective(int64_t id) {
    store.row(id).defect_reason = "invalid_headers";
    store.row(id).defect = "headers must be a JSON object of string values";
  }

  FakeStore store;
  FakeSink sink;
  StopSignal stop;
  RecordingObserver observer;
};

// --- acknowledgement ----------------------------------------------------------

TEST_F(RelayLoopTest, RemovesEachRowOnlyAfterItsOwnAck) {
  for (int id = 1; id <= 4; ++id) AddKeyed(id, "k" + std::to_string(id));
  sink.decide = [](const OutboxMessage& m, size_t) {
    return m.id % 2 == 0 ? Delivered() : Failed(DeliveryKind::kNotReported, "");
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kPublished);

  EXPECT_TRUE(store.Contains(1));
  EXPECT_FALSE(store.Contains(2));
  EXPECT_TRUE(store.Contains(3));
  EXPECT_FALSE(store.Contains(4));
  EXPECT_EQ(observer.delivered, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(observer.failed, (std::vector<int64_t>{1, 3}));
}

// Runs the loop until it idles (or `limit` steps); returns the steps taken.
int RunUntilIdle(RelayLoop& loop, int limit = 100) {
  int steps = 0;
  while (steps < limit && loop.RunOnce() != RelayLoop::Step::kIdle) ++steps;
  return steps;
}

TEST_F(RelayLoopTest, PublishesInIdOrderInBatches) {
  for (int id = 1; id <= 25; ++id) store.Add(id);
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_LT(RunUntilIdle(loop), 100);

  std::vector<int64_t> expected;
  for (int id = 1; id <= 25; ++id) expected.push_back(id);
  EXPECT_EQ(sink.published_ids, expected);
  EXPECT_EQ(sink.batch_sizes, (std::vector<size_t>{10, 10, 5}));
  EXPECT_EQ(store.size(), 0u);
}

// --- pipelining --------------------------------------------------------------

TEST_F(RelayLoopTest, ReadsAheadWhileBatchesAwaitAcksUpToTheRowLimit) {
  for (int id = 1; id <= 45; ++id) store.Add(id);
  RelayLoopOptions options = Options();
  options.max_in_flight_rows = 20;  // two batches of 10
  RelayLoop loop(store, sink, stop, observer, options);

  RunUntilIdle(loop);

  EXPECT_EQ(sink.max_batches_in_flight, 2u);
  EXPECT_EQ(store.size(), 0u);
  std::vector<int64_t> expected;
  for (int id = 1; id <= 45; ++id) expected.push_back(id);
  EXPECT_EQ(sink.published_ids, expected);
  // The second read named the first batch's rows, still in flight, and asked
  // for no more rows than the window had room for.
  ASSERT_GE(store.requests.size(), 2u);
  EXPECT_TRUE(store.requests[0].in_flight.empty());
  EXPECT_EQ(store.requests[1].in_flight, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(store.requests[1].max_rows, 10u);
  for (const ReadRequest& r : store.requests) EXPECT_LE(r.max_rows, 10u);
}

TEST_F(RelayLoopTest, StopsReadingAheadAtTheByteLimit) {
  for (int id = 1; id <= 30; ++id) store.Add(id);  // payloads of 9 or 10 bytes, key "k"
  RelayLoopOptions options = Options();
  options.max_in_flight_rows = 1000;
  options.max_in_flight_bytes = 150;  // about 14 rows
  RelayLoop loop(store, sink, stop, observer, options);

  RunUntilIdle(loop);

  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(sink.max_batches_in_flight, 2u);  // 10 rows (~105 bytes), then what fits
  ASSERT_GE(store.requests.size(), 2u);
  EXPECT_EQ(store.requests[0].max_bytes, 150);
  EXPECT_LT(store.requests[1].max_bytes, 50);
}

TEST_F(RelayLoopTest, AFailureWithBatchesInFlightChargesNothingAndGoesOneBatchAtATime) {
  for (int id = 1; id <= 30; ++id) AddKeyed(id, "k" + std::to_string(id));
  RelayLoopOptions options = Options();
  options.max_in_flight_rows = 30;
  bool failed_once = false;
  sink.decide = [&](const OutboxMessage& m, size_t) {
    if (m.id == 3 && !failed_once) {
      failed_once = true;
      return FailedForRow("topic_authorization_failed");
    }
    return Delivered();
  };
  RelayLoop loop(store, sink, stop, observer, options);

  RunUntilIdle(loop);

  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(store.retries.empty());  // not charged: later batches were in flight
  // Row 3 was sent again after everything in flight came back, on its own
  // read (one batch at a time), not ahead of anything.
  const auto first = std::find(sink.published_ids.begin(), sink.published_ids.end(), 3);
  const auto again = std::find(first + 1, sink.published_ids.end(), 3);
  ASSERT_NE(again, sink.published_ids.end());
  EXPECT_EQ(sink.published_ids.end() - again, 1);  // the last row sent
}

TEST_F(RelayLoopTest, ADeliveryAfterAnEarlierBatchFailedItsKeyIsReportedAsOutOfOrder) {
  // Key "a" in both batches; batch 1's row fails while batch 2 is in flight.
  for (int id = 1; id <= 20; ++id)
    AddKeyed(id, id == 5 || id == 15 ? "a" : "k" + std::to_string(id));
  RelayLoopOptions options = Options();
  options.max_in_flight_rows = 20;
  bool failed_once = false;
  sink.decide = [&](const OutboxMessage& m, size_t) {
    if (m.id == 5 && !failed_once) {
      failed_once = true;
      return Failed(DeliveryKind::kRetriable, "msg_timed_out");
    }
    return Delivered();
  };
  RelayLoop loop(store, sink, stop, observer, options);

  RunUntilIdle(loop);

  // Row 15 was already in flight and delivered: it stays delivered (never
  // re-sent), and row 5 follows it. The idempotent producer keeps order in
  // the normal path; this is the failure path, logged as "order broken".
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(std::count(sink.published_ids.begin(), sink.published_ids.end(), 15), 1);
  EXPECT_EQ(std::count(sink.published_ids.begin(), sink.published_ids.end(), 5), 2);
}

TEST_F(RelayLoopTest, SettlesTheLastBatchBeforeReadingAgainAfterAStoreOutage) {
  store.Add(1);
  store.Add(2);
  store.fail_settles = 2;
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();  // published; settling fails
  EXPECT_EQ(loop.unsettled().delivered.size(), 2u);
  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);  // settling fails again
  EXPECT_EQ(store.reads, 1);                               // nothing new read while outcomes wait
  loop.RunOnce();                                          // settles, then an empty read

  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(loop.unsettled().empty());
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2}));  // no re-send
}

// --- write-backs in the background ----------------------------------------------

TEST_F(RelayLoopTest, WritesDeliveredRowsBackWhileReadingTheNextBatch) {
  ConcurrentFakeStore concurrent;
  for (int id = 1; id <= 25; ++id) concurrent.Add(id);
  RelayLoopOptions options = Options();
  options.max_in_flight_rows = 10;  // one batch at a time
  RelayLoop loop(concurrent, sink, stop, observer, options);
  concurrent.HoldSettles();

  loop.RunOnce();  // rows 1-10 read, sent and acked; their write-back is held
  ASSERT_TRUE(concurrent.AwaitHeldSettle());
  // Reads and sends the next batch meanwhile, then waits for the write-back
  // (one at a time) to write back the second batch.
  std::thread step([&] { loop.RunOnce(); });
  ASSERT_TRUE(concurrent.AwaitReads(2));
  // Nothing was removed yet: the read skipped the rows being written back.
  EXPECT_EQ(concurrent.rows(), 25u);
  concurrent.ReleaseSettles();
  step.join();
  EXPECT_EQ(concurrent.requests[1].in_flight,
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(sink.published_ids.size(), 20u);

  RunUntilIdle(loop);
  EXPECT_EQ(concurrent.rows(), 0u);
  std::vector<int64_t> expected;
  for (int id = 1; id <= 25; ++id) expected.push_back(id);
  EXPECT_EQ(sink.published_ids, expected);  // each once, in order
}

TEST_F(RelayLoopTest, AFailedBackgroundWriteBackIsRetriedBeforeAnythingMoreIsRead) {
  ConcurrentFakeStore concurrent;
  for (int id = 1; id <= 15; ++id) concurrent.Add(id);
  concurrent.fail_settles = 1;
  RelayLoopOptions options = Options();
  options.max_in_flight_rows = 10;
  RelayLoop loop(concurrent, sink, stop, observer, options);

  // Rows 1-10 are sent and collected; their write-back runs in the
  // background and fails. The failure is found when the loop next writes
  // back: the rows are back with the loop and written back in the
  // foreground, before anything more is read.
  loop.RunOnce();
  RunUntilIdle(loop);

  EXPECT_EQ(concurrent.rows(), 0u);
  EXPECT_GE(concurrent.settles, 2);  // the failure and its retry, at least
  std::vector<int64_t> expected;
  for (int id = 1; id <= 15; ++id) expected.push_back(id);
  EXPECT_EQ(sink.published_ids, expected);  // no re-send
}

TEST_F(RelayLoopTest, DeadLettersAreWrittenBackBeforeTheNextRead) {
  // A dead letter that blocks its key changes which later rows are due: the
  // read after it must see it written.
  ConcurrentFakeStore concurrent;
  concurrent.Add(1, "t", "a");
  concurrent.Add(2, "t", "a");
  sink.decide = [](const OutboxMessage& m, size_t) {
    return m.id == 1 ? DeliveryOutcome{DeliveryKind::kRejected, "invalid_msg", "poison"}
                     : Delivered();
  };
  RelayLoopOptions options = Options();
  options.batch_size = 1;  // row 2 is read after row 1's outcome
  options.max_in_flight_rows = 1;
  RelayLoop loop(concurrent, sink, stop, observer, options);

  RunUntilIdle(loop);

  EXPECT_EQ(concurrent.dead_letters.count(1), 1u);
  EXPECT_TRUE(concurrent.Contains(2));  // held behind its key's dead letter
  EXPECT_EQ(std::count(sink.published_ids.begin(), sink.published_ids.end(), 2), 0);
}

TEST_F(RelayLoopTest, BacksOffWhenTheStoreIsUnavailable) {
  store.Add(1);
  store.fail_reads = 2;
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);
  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);
  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kPublished);
  EXPECT_FALSE(store.Contains(1));
}

// --- outages and retries -------------------------------------------------------

TEST_F(RelayLoopTest, AnOutageChargesNoAttemptsAndDeadLettersNothing) {
  for (int id = 1; id <= 3; ++id) AddKeyed(id, "k" + std::to_string(id));
  sink.decide = [](const OutboxMessage&, size_t) {
    return Failed(DeliveryKind::kRetriable, "msg_timed_out");
  };
  RelayLoopOptions options = Options();
  options.max_attempts = 1;
  RelayLoop loop(store, sink, stop, observer, options);

  for (int i = 0; i < 5; ++i) EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);

  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.dead_letters.empty());
  EXPECT_TRUE(store.retries.empty());
  EXPECT_EQ(store.row(1).attempts, 0);
}

TEST_F(RelayLoopTest, BacksOffInsteadOfSpinningWhileNothingIsDelivered) {
  store.Add(1);
  sink.decide = [](const OutboxMessage&, size_t) {
    return Failed(DeliveryKind::kRetriable, "all_brokers_down");
  };
  RelayLoopOptions options = Options();
  options.backoff_initial = 20ms;
  options.backoff_max = 20ms;
  RelayLoop loop(store, sink, stop, observer, options);

  const auto started = SteadyClock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);

  // Three back-offs of at least 10 ms each (20 ms with up to 50 % jitter).
  EXPECT_GE(SteadyClock::now() - started, 30ms);
  EXPECT_TRUE(store.Contains(1));
}

TEST_F(RelayLoopTest, RetriesAfterAnOutageUntilDelivered) {
  store.Add(1);
  store.Add(2);
  int attempts = 0;
  sink.decide = [&](const OutboxMessage&, size_t) {
    return ++attempts <= 4 ? Failed(DeliveryKind::kRetriable, "request_timed_out") : Delivered();
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  while (store.size() > 0) loop.RunOnce();

  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2, 1, 2, 1, 2}));
}

TEST_F(RelayLoopTest, ARowSpecificFailureDelaysThatRowAndLaterRowsOfItsKey) {
  AddKeyed(1, "a");
  AddKeyed(2, "b");
  sink.decide = [](const OutboxMessage& m, size_t) {
    return m.id == 1 ? FailedForRow("topic_authorization_failed") : Delivered();
  };
  RelayLoopOptions options = Options();
  options.backoff_initial = 1min;
  options.backoff_max = 1min;
  RelayLoop loop(store, sink, stop, observer, options);

  loop.RunOnce();
  AddKeyed(3, "a");
  AddKeyed(4, "b");
  loop.RunOnce();

  ASSERT_EQ(store.retries.size(), 1u);
  EXPECT_EQ(store.retries[0].id, 1);
  EXPECT_GE(store.retries[0].delay, 30s);
  EXPECT_EQ(store.row(1).attempts, 1);
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2, 4}));  // 3 waits behind 1

  store.MakeAllDue();
  sink.decide = [](const OutboxMessage&, size_t) { return Delivered(); };
  loop.RunOnce();
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2, 4, 1, 3}));
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(RelayLoopTest, ATimeoutInABatchThatStraddledAnOutageChargesNoRow) {
  AddKeyed(1, "a");  // produced before the brokers went away: delivered
  AddKeyed(2, "b");  // timed out: the connection's fault, not the row's
  sink.decide = [](const OutboxMessage& m, size_t) {
    return m.id == 1 ? Delivered() : Failed(DeliveryKind::kRetriable, "msg_timed_out");
  };
  RelayLoopOptions options = Options();
  options.max_attempts = 1;
  RelayLoop loop(store, sink, stop, observer, options);

  loop.RunOnce();

  EXPECT_TRUE(store.Contains(2));
  EXPECT_EQ(store.row(2).attempts, 0);
  EXPECT_TRUE(store.retries.empty());
  EXPECT_TRUE(store.dead_letters.empty());
}

TEST_F(RelayLoopTest, DeadLettersARowAfterMaxAttempts) {
  AddKeyed(1, "a");
  AddKeyed(2, "b");
  store.row(1).attempts = 2;
  sink.decide = [](const OutboxMessage& m, size_t) {
    return m.id == 1 ? FailedForRow("unknown_topic_or_part") : Delivered();
  };
  RelayLoopOptions options = Options();
  options.max_attempts = 3;
  RelayLoop loop(store, sink, stop, observer, options);

  loop.RunOnce();

  ASSERT_EQ(store.dead_letters.count(1), 1u);
  EXPECT_EQ(store.dead_letters[1].reason, "max_attempts");
  EXPECT_EQ(store.dead_letters[1].error,
            "gave up after 3 attempts; last error: unknown_topic_or_part: injected");
}

TEST_F(RelayLoopTest, GivesUpAfterRepeatedFatalProducerErrors) {
  store.Add(1);
  sink.decide = [](const OutboxMessage&, size_t) { return Failed(DeliveryKind::kFatal, "fatal"); };
  RelayLoop loop(store, sink, stop, observer, Options());

  const Status result = loop.Run();

  EXPECT_FALSE(result.ok());
  EXPECT_EQ(sink.published_ids.size(), 3u);
  EXPECT_TRUE(store.Contains(1));
  EXPECT_TRUE(store.dead_letters.empty());
}

// --- rows that can never be delivered -------------------------------------------

TEST_F(RelayLoopTest, MovesARowTheBrokerRejectsToTheDeadLetterTable) {
  store.Add(1);
  sink.decide = [](const OutboxMessage&, size_t) {
    return Failed(DeliveryKind::kRejected, "msg_size_too_large");
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kPublished);  // progress: no back-off

  EXPECT_FALSE(store.Contains(1));
  ASSERT_EQ(store.dead_letters.count(1), 1u);
  EXPECT_EQ(store.dead_letters[1].reason, "msg_size_too_large");
  EXPECT_EQ(store.dead_letters[1].error, "injected");
}

TEST_F(RelayLoopTest, DeadLettersRowsWithDefectsWithoutSendingThem) {
  AddKeyed(1, "a");
  AddKeyed(2, "b");
  AddKeyed(3, "c");
  MarkDefective(1);
  sink.precheck = [](const OutboxMessage& m) -> std::optional<Rejection> {
    if (m.id == 2) return Rejection{"msg_size_too_large", "too big"};
    return std::nullopt;
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();

  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{3}));
  EXPECT_EQ(store.dead_letters.at(1).reason, "invalid_headers");
  EXPECT_EQ(store.dead_letters.at(2).reason, "msg_size_too_large");
  EXPECT_EQ(store.dead_letters.at(2).error, "too big");
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(RelayLoopTest, BlockKeyHoldsLaterRowsOfThatKeyWhileOtherKeysFlow) {
  AddKeyed(1, "a");
  AddKeyed(2, "a");
  AddKeyed(3, "b");
  MarkDefective(1);
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();
  AddKeyed(4, "a");
  AddKeyed(5, "b");
  loop.RunOnce();

  EXPECT_TRUE(store.dead_letters.at(1).blocks_key);
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{3, 5}));
  EXPECT_TRUE(store.Contains(2));
  EXPECT_TRUE(store.Contains(4));
  EXPECT_EQ(observer.blocked_keys, 1);
}

TEST_F(RelayLoopTest, DeadLetterPolicyLetsLaterRowsOfThatKeyContinue) {
  AddKeyed(1, "a");
  AddKeyed(2, "a");
  MarkDefective(1);
  RelayLoopOptions options = Options();
  options.on_undeliverable = UndeliverablePolicy::kDeadLetter;
  RelayLoop loop(store, sink, stop, observer, options);

  loop.RunOnce();

  EXPECT_FALSE(store.dead_letters.at(1).blocks_key);
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(observer.blocked_keys, 0);
}

TEST_F(RelayLoopTest, SendsRejectedRowsAloneBeforeDeadLetteringThem) {
  // Like a broker: one poison message fails the whole produce request.
  for (int id = 1; id <= 5; ++id) AddKeyed(id, "k" + std::to_string(id));
  sink.decide = [](const OutboxMessage& m, size_t batch_size) {
    if (m.id == 3 || batch_size > 1) return Failed(DeliveryKind::kRejected, "invalid_record");
    return Delivered();
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();

  ASSERT_EQ(store.dead_letters.size(), 1u);  // no healthy row parked
  EXPECT_EQ(store.dead_letters.count(3), 1u);
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(sink.batch_sizes, (std::vector<size_t>{5, 1, 1, 1, 1, 1}));
}

TEST_F(RelayLoopTest, IsolationKeepsAKeysLaterRowsBehindItsPoisonRow) {
  AddKeyed(1, "a");  // poison
  AddKeyed(2, "a");  // healthy, but must wait behind 1 (block_key)
  AddKeyed(3, "b");
  sink.decide = [](const OutboxMessage& m, size_t batch_size) {
    if (m.id == 1 || batch_size > 1) return Failed(DeliveryKind::kRejected, "invalid_record");
    return Delivered();
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();

  EXPECT_EQ(store.dead_letters.count(1), 1u);
  EXPECT_TRUE(store.Contains(2));  // never sent alone: its key is blocked
  EXPECT_FALSE(store.Contains(3));
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2, 3, 1, 3}));
}

TEST_F(RelayLoopTest, NeverSendsARejectedRowAloneAheadOfAnEarlierUndeliveredRowOfItsKey) {
  AddKeyed(1, "a");  // not reported: stays pending
  AddKeyed(2, "a");  // rejected with its request: must not overtake 1
  AddKeyed(3, "b");  // rejected with its request: isolated and delivered
  sink.decide = [](const OutboxMessage& m, size_t batch_size) {
    if (m.id == 1) return Failed(DeliveryKind::kNotReported, "");
    return batch_size > 1 ? Failed(DeliveryKind::kRejected, "invalid_record") : Delivered();
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();

  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2, 3, 3}));
  EXPECT_TRUE(store.Contains(1));
  EXPECT_TRUE(store.Contains(2));
  EXPECT_FALSE(store.Contains(3));
  EXPECT_TRUE(store.dead_letters.empty());
}

// --- shutdown -------------------------------------------------------------

TEST_F(RelayLoopTest, StopWaitsForOutstandingAcksThenSettles) {
  store.Add(1);
  bool gave_up = false;
  sink.before_return = [&](const Sink::GiveUp& give_up) {
    // The stop arrives while acks are outstanding; the sink keeps waiting
    // until the drain timeout tells it to give up.
    stop.Request();
    EXPECT_FALSE(give_up());
    while (!give_up()) std::this_thread::sleep_for(1ms);
    gave_up = true;
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_TRUE(loop.Run().ok());

  EXPECT_TRUE(gave_up);
  EXPECT_FALSE(store.Contains(1));
}

TEST_F(RelayLoopTest, StopCollectsEveryBatchInFlightAndReadsNothingMore) {
  for (int id = 1; id <= 50; ++id) store.Add(id);
  RelayLoopOptions options = Options();
  options.max_in_flight_rows = 30;
  sink.before_return = [&](const Sink::GiveUp&) {
    if (sink.max_batches_in_flight == 3) stop.Request();
  };
  RelayLoop loop(store, sink, stop, observer, options);

  EXPECT_TRUE(loop.Run().ok());

  // The three batches in flight at the stop were collected and settled;
  // the rest was never read.
  EXPECT_EQ(sink.published_ids.size(), 30u);
  EXPECT_EQ(store.size(), 20u);
  EXPECT_FALSE(store.Contains(30));
  EXPECT_TRUE(store.Contains(31));
}

TEST_F(RelayLoopTest, RowsWithoutReportStayPendingAtStop) {
  store.Add(1);
  sink.decide = [](const OutboxMessage&, size_t) { return Failed(DeliveryKind::kNotReported, ""); };
  sink.before_return = [&](const Sink::GiveUp&) { stop.Request(); };
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_TRUE(loop.Run().ok());

  EXPECT_TRUE(store.Contains(1));
  EXPECT_TRUE(store.dead_letters.empty());
}

TEST_F(RelayLoopTest, StopsPromptlyWhenIdle) {
  RelayLoopOptions options = Options();
  options.poll_interval = 10s;
  RelayLoop loop(store, sink, stop, observer, options);
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    stop.Request();
  });
  const auto started = SteadyClock::now();

  EXPECT_TRUE(loop.Run().ok());

  stopper.join();
  EXPECT_LT(SteadyClock::now() - started, 5s);
}

}  // namespace
}  // namespace outbox
