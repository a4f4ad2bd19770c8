#include "core/relay_loop.h"

#include <gtest/gtest.h>

#include <thread>

#include "support/fakes.h"

namespace outbox {
namespace {

using testing::Failed;
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
  void OnOldestPending(std::optional<SteadyClock::time_point> since) override { oldest = since; }
  std::vector<int64_t> delivered, failed;
  std::vector<std::string> reasons;
  std::optional<SteadyClock::time_point> oldest;
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
  FakeStore store;
  FakeSink sink;
  StopSignal stop;
  RecordingObserver observer;
};

TEST_F(RelayLoopTest, RemovesEachRowOnlyAfterItsOwnAck) {
  for (int id = 1; id <= 4; ++id) store.Add(id);
  sink.decide = [](const OutboxMessage& m) {
    return m.id % 2 == 0 ? DeliveryOutcome{DeliveryKind::kDelivered, "", ""}
                         : Failed(DeliveryKind::kRetriable, "msg_timed_out");
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

TEST_F(RelayLoopTest, PublishesInIdOrderInBatches) {
  for (int id = 1; id <= 25; ++id) store.Add(id);
  RelayLoop loop(store, sink, stop, observer, Options());

  for (int i = 0; i < 3; ++i) EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kPublished);
  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kIdle);

  std::vector<int64_t> expected;
  for (int id = 1; id <= 25; ++id) expected.push_back(id);
  EXPECT_EQ(sink.published_ids, expected);
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.reads, 4);
}

TEST_F(RelayLoopTest, KeepsRowPendingWhenBrokerRejectsIt) {
  store.Add(1);
  sink.decide = [](const OutboxMessage&) {
    return Failed(DeliveryKind::kRejected, "msg_size_too_large");
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);

  EXPECT_TRUE(store.Contains(1));
  EXPECT_EQ(observer.reasons, (std::vector<std::string>{"msg_size_too_large"}));
}

TEST_F(RelayLoopTest, RetriesFailedRowsUntilDelivered) {
  store.Add(1);
  store.Add(2);
  int attempts = 0;
  sink.decide = [&](const OutboxMessage& m) {
    if (m.id == 1 && ++attempts < 3) return Failed(DeliveryKind::kRetriable, "request_timed_out");
    return DeliveryOutcome{DeliveryKind::kDelivered, "", ""};
  };
  RelayLoop loop(store, sink, stop, observer, Options());

  while (store.size() > 0) loop.RunOnce();

  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2, 1, 1}));
}

TEST_F(RelayLoopTest, BacksOffInsteadOfSpinningWhileNothingIsDelivered) {
  store.Add(1);
  sink.decide = [](const OutboxMessage&) {
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

TEST_F(RelayLoopTest, BacksOffWhenTheStoreIsUnavailable) {
  store.Add(1);
  store.fail_reads = 2;
  RelayLoop loop(store, sink, stop, observer, Options());

  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);
  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);
  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kPublished);
  EXPECT_FALSE(store.Contains(1));
}

TEST_F(RelayLoopTest, RemovesAcknowledgedRowsBeforeReadingAgainAfterStoreOutage) {
  store.Add(1);
  store.Add(2);
  store.fail_removes = 2;
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();  // published; removal fails
  EXPECT_EQ(loop.acked_not_removed(), 2u);
  EXPECT_EQ(loop.RunOnce(), RelayLoop::Step::kBackedOff);  // removal fails again
  EXPECT_EQ(store.reads, 1);                               // nothing new read while acked rows wait
  loop.RunOnce();                                          // removal succeeds, then an empty read

  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(loop.acked_not_removed(), 0u);
  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{1, 2}));  // no re-send
}

TEST_F(RelayLoopTest, NeverSendsRowsWithDefectsButKeepsThem) {
  store.Add(1);
  store.Add(2);
  store.row(1).defect = "headers must be a JSON object of string values";
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();

  EXPECT_EQ(sink.published_ids, (std::vector<int64_t>{2}));
  EXPECT_TRUE(store.Contains(1));
  EXPECT_FALSE(store.Contains(2));
  EXPECT_EQ(observer.reasons, (std::vector<std::string>{"invalid_row"}));
}

TEST_F(RelayLoopTest, ReportsOldestPendingRowFromTheLowestId) {
  store.Add(1);
  store.row(1).age_at_read_seconds = 30;
  sink.decide = [](const OutboxMessage&) { return Failed(DeliveryKind::kRetriable, "x"); };
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.RunOnce();

  ASSERT_TRUE(observer.oldest.has_value());
  const auto age = SteadyClock::now() - *observer.oldest;
  EXPECT_GE(age, 30s);
  EXPECT_LT(age, 40s);
}

TEST_F(RelayLoopTest, StopWaitsForOutstandingAcksThenRemovesThem) {
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

  loop.Run();

  EXPECT_TRUE(gave_up);
  EXPECT_FALSE(store.Contains(1));
}

TEST_F(RelayLoopTest, RowsWithoutReportStayPendingAtStop) {
  store.Add(1);
  sink.decide = [](const OutboxMessage&) {
    return DeliveryOutcome{DeliveryKind::kNotReported, "", ""};
  };
  sink.before_return = [&](const Sink::GiveUp&) { stop.Request(); };
  RelayLoop loop(store, sink, stop, observer, Options());

  loop.Run();

  EXPECT_TRUE(store.Contains(1));
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

  loop.Run();

  stopper.join();
  EXPECT_LT(SteadyClock::now() - started, 5s);
}

}  // namespace
}  // namespace outbox
