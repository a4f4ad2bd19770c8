#include "core/idle_waits.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

using namespace std::chrono_literals;
using Change = IdleWaits::Change;

TEST(IdleWaits, WithoutListeningPollsAdaptively) {
  IdleWaits waits(200ms);
  EXPECT_EQ(waits.next(), 200ms);

  waits.Record(Wakeup::kTimedOut, /*listening=*/false, /*new_rows=*/true);
  EXPECT_EQ(waits.next(), 100ms);
  for (int i = 0; i < 10; ++i) waits.Record(Wakeup::kTimedOut, false, true);
  EXPECT_EQ(waits.next(), 10ms);  // the floor
  waits.Record(Wakeup::kTimedOut, false, false);
  EXPECT_EQ(waits.next(), 20ms);
  for (int i = 0; i < 10; ++i) waits.Record(Wakeup::kTimedOut, false, false);
  EXPECT_EQ(waits.next(), 200ms);  // the cap: relay.poll_interval_ms
  EXPECT_FALSE(waits.notifications_working());
}

TEST(IdleWaits, NotificationsWorkUntilNewRowsKeepArrivingUnannounced) {
  IdleWaits waits(200ms);
  EXPECT_EQ(waits.Record(Wakeup::kNotified, /*listening=*/true, true), Change::kNone);
  EXPECT_TRUE(waits.notifications_working());
  // A timeout that finds nothing new, or one race with the timeout, is fine.
  EXPECT_EQ(waits.Record(Wakeup::kTimedOut, true, false), Change::kNone);
  EXPECT_EQ(waits.Record(Wakeup::kTimedOut, true, true), Change::kNone);
  EXPECT_TRUE(waits.notifications_working());
  EXPECT_EQ(waits.Record(Wakeup::kNotified, true, true), Change::kNone);

  for (int i = 1; i < IdleWaits::kUnannouncedLimit; ++i) {
    EXPECT_EQ(waits.Record(Wakeup::kTimedOut, true, true), Change::kNone);
  }
  EXPECT_EQ(waits.Record(Wakeup::kTimedOut, true, true), Change::kNotificationsLost);
  EXPECT_FALSE(waits.notifications_working());
  EXPECT_LT(waits.next(), 200ms);  // polling adapts meanwhile

  EXPECT_EQ(waits.Record(Wakeup::kNotified, true, true), Change::kNotificationsBack);
  EXPECT_TRUE(waits.notifications_working());
}

TEST(IdleWaits, ANotifiedWakeupDoesNotShortenTheFallbackPoll) {
  IdleWaits waits(200ms);
  waits.Record(Wakeup::kNotified, true, true);
  EXPECT_EQ(waits.next(), 200ms);
}

}  // namespace
}  // namespace outbox
