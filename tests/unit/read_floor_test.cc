#include "outbox/read_floor.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

using Observation = ReadFloor::Observation;
using namespace std::chrono_literals;

// Observations a second apart, so that age never holds a candidate back.
class Clocked {
 public:
  void Observe(ReadFloor& floor, const Observation& seen) {
    floor.Observe(seen, now_);
    now_ += ReadFloor::kMinAge;
  }

 private:
  ReadFloor::Clock::time_point now_{};
};

TEST(ReadFloor, RisesToTheLowestLiveIdOnceEveryEarlierWriterHasEnded) {
  ReadFloor floor;
  Clocked clock;
  // Lowest live id 100; transactions up to xid 500 may still be running.
  clock.Observe(floor, Observation{.xmin = 480, .xmax = 500, .lowest_live = 100});
  EXPECT_EQ(floor.floor(), 0);
  // Still running (xmin 499 < 500): a row below 100 could yet commit.
  clock.Observe(floor, Observation{.xmin = 499, .xmax = 530, .lowest_live = 150});
  EXPECT_EQ(floor.floor(), 0);
  // All of them ended; the lowest live id is now 180.
  clock.Observe(floor, Observation{.xmin = 500, .xmax = 560, .lowest_live = 180});
  EXPECT_EQ(floor.floor(), 100);
  clock.Observe(floor, Observation{.xmin = 560, .xmax = 600, .lowest_live = 200});
  EXPECT_EQ(floor.floor(), 180);
}

TEST(ReadFloor, ALateCommitBelowTheCandidateKeepsTheFloorUnderIt) {
  ReadFloor floor;
  Clocked clock;
  clock.Observe(floor, Observation{.xmin = 10, .xmax = 20, .lowest_live = 100});
  // A transaction running then committed row 42; it is visible now.
  clock.Observe(floor, Observation{.xmin = 20, .xmax = 30, .lowest_live = 42});
  EXPECT_EQ(floor.floor(), 42);
}

TEST(ReadFloor, AnEmptyTableStillRaisesToEarlierCandidates) {
  ReadFloor floor;
  Clocked clock;
  clock.Observe(floor, Observation{.xmin = 10, .xmax = 20, .lowest_live = 100});
  clock.Observe(floor, Observation{.xmin = 20, .xmax = 25, .lowest_live = std::nullopt});
  EXPECT_EQ(floor.floor(), 100);
}

TEST(ReadFloor, NeverFallsExceptOnReset) {
  ReadFloor floor;
  Clocked clock;
  clock.Observe(floor, Observation{.xmin = 10, .xmax = 20, .lowest_live = 100});
  clock.Observe(floor, Observation{.xmin = 20, .xmax = 30, .lowest_live = 200});
  ASSERT_EQ(floor.floor(), 100);
  clock.Observe(floor, Observation{.xmin = 30, .xmax = 40, .lowest_live = 150});
  EXPECT_EQ(floor.floor(), 150);
  floor.Reset();
  EXPECT_EQ(floor.floor(), 0);
  clock.Observe(floor, Observation{.xmin = 40, .xmax = 50, .lowest_live = 7});
  clock.Observe(floor, Observation{.xmin = 50, .xmax = 60, .lowest_live = 7});
  EXPECT_EQ(floor.floor(), 7);
}

TEST(ReadFloor, AYoungCandidateWaitsEvenWhenItsWritersHaveEnded) {
  // An insert may hold an id without an xid for a moment: no snapshot shows it.
  ReadFloor floor;
  const ReadFloor::Clock::time_point start{};
  floor.Observe(Observation{.xmin = 10, .xmax = 20, .lowest_live = 100}, start);
  floor.Observe(Observation{.xmin = 25, .xmax = 30, .lowest_live = 100}, start + 500ms);
  EXPECT_EQ(floor.floor(), 0);
  floor.Observe(Observation{.xmin = 30, .xmax = 35, .lowest_live = 100}, start + 1s);
  EXPECT_EQ(floor.floor(), 100);
}

}  // namespace
}  // namespace outbox
