#include "outbox/sql_text.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

TEST(RunsMultirange, EmptyIsTheEmptyMultirange) { EXPECT_EQ(RunsMultirange({}), "{}"); }

TEST(RunsMultirange, ConsecutiveIdsBecomeOneRun) {
  EXPECT_EQ(RunsMultirange({5, 6, 7, 8}), "{[5,8]}");
}

// An id missing between two in flight may be a row committed late: it must
// stay outside every run, or the read would skip it.
TEST(RunsMultirange, AGapSplitsTheRun) {
  EXPECT_EQ(RunsMultirange({1, 2, 4, 9, 10, 12}), "{[1,2],[4,4],[9,10],[12,12]}");
}

TEST(RunsMultirange, LargeIds) {
  EXPECT_EQ(RunsMultirange({9223372036854775806, 9223372036854775807}),
            "{[9223372036854775806,9223372036854775807]}");
}

}  // namespace
}  // namespace outbox
