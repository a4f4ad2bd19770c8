#include "outbox/read_floor.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

using Observation = ReadFloor::Observation;

TEST(ReadFloor, RisesToTheLowestLiveIdOnceEveryEarlierWriterHasEnded) {
  ReadFloor floor;
  // Lowest live id 100; transactions up to xid 500 may still be running.
  floor.Observe(Observation{.xmin = 480, .xmax = 500, .lowest_live = 100});
  EXPECT_EQ(floor.floor(), 0);
  // Still running (xmin 499 < 500): a row below 100 could yet commit.
  floor.Observe(Observation{.xmin = 499, .xmax = 530, .lowest_live = 150});
  EXPECT_EQ(floor.floor(), 0);
  // All of them ended; the lowest live id is now 180.
  floor.Observe(Observation{.xmin = 500, .xmax = 560, .lowest_live = 180});
  EXPECT_EQ(floor.floor(), 100);
  floor.Observe(Observation{.xmin = 560, .xmax = 600, .lowest_live = 200});
  EXPECT_EQ(floor.floor(), 180);
}

TEST(ReadFloor, ALateCommitBelowTheCandidateKeepsTheFloorUnderIt) {
  ReadFloor floor;
  floor.Observe(Observation{.xmin = 10, .xmax = 20, .lowest_live = 100});
  // A transaction running then committed row 42; it is visible now.
  floor.Observe(Observation{.xmin = 20, .xmax = 30, .lowest_live = 42});
  EXPECT_EQ(floor.floor(), 42);
}

TEST(ReadFloor, AnEmptyTableStillRaisesToEarlierCandidates) {
  ReadFloor floor;
  floor.Observe(Observation{.xmin = 10, .xmax = 20, .lowest_live = 100});
  floor.Observe(Observation{.xmin = 20, .xmax = 25, .lowest_live = std::nullopt});
  EXPECT_EQ(floor.floor(), 100);
}

TEST(ReadFloor, NeverFallsExceptOnReset) {
  ReadFloor floor;
  floor.Observe(Observation{.xmin = 10, .xmax = 20, .lowest_live = 100});
  floor.Observe(Observation{.xmin = 20, .xmax = 30, .lowest_live = 200});
  ASSERT_EQ(floor.floor(), 100);
  floor.Observe(Observation{.xmin = 30, .xmax = 40, .lowest_live = 150});
  EXPECT_EQ(floor.floor(), 150);
  floor.Reset();
  EXPECT_EQ(floor.floor(), 0);
  floor.Observe(Observation{.xmin = 40, .xmax = 50, .lowest_live = 7});
  floor.Observe(Observation{.xmin = 50, .xmax = 60, .lowest_live = 7});
  EXPECT_EQ(floor.floor(), 7);
}

}  // namespace
}  // namespace outbox
