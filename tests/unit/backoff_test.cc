#include "core/backoff.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesWithJitterUpToTheCap) {
  Backoff backoff(milliseconds(100), milliseconds(1000), /*seed=*/7);
  const int64_t ceilings[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t ceiling : ceilings) {
    const int64_t delay = backoff.Next().count();
    EXPECT_GE(delay, ceiling / 2);
    EXPECT_LE(delay, ceiling);
  }
}

TEST(Backoff, ResetStartsOver) {
  Backoff backoff(milliseconds(100), milliseconds(10000), 7);
  for (int i = 0; i < 5; ++i) (void)backoff.Next();
  backoff.Reset();
  EXPECT_EQ(backoff.failures(), 0);
  EXPECT_LE(backoff.Next().count(), 100);
}

TEST(Backoff, SurvivesManyFailuresWithoutOverflow) {
  Backoff backoff(milliseconds(1), milliseconds(30000), 7);
  for (int i = 0; i < 200; ++i) (void)backoff.Next();
  const int64_t delay = backoff.Next().count();
  EXPECT_GE(delay, 15000);
  EXPECT_LE(delay, 30000);
}

}  // namespace
}  // namespace outbox
