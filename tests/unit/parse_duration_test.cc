#include <gtest/gtest.h>

#include "common/duration.h"

namespace outbox {
namespace {

using std::chrono::seconds;

TEST(ParseDuration, AcceptsSecondsMinutesHoursDays) {
  EXPECT_EQ(ParseDuration("90"), seconds(90));
  EXPECT_EQ(ParseDuration("90s"), seconds(90));
  EXPECT_EQ(ParseDuration("15m"), seconds(900));
  EXPECT_EQ(ParseDuration("2h"), seconds(7200));
  EXPECT_EQ(ParseDuration("7d"), seconds(7 * 86400));
}

TEST(ParseDuration, RejectsAnythingElse) {
  EXPECT_EQ(ParseDuration(""), std::nullopt);
  EXPECT_EQ(ParseDuration("soon"), std::nullopt);
  EXPECT_EQ(ParseDuration("5w"), std::nullopt);
  EXPECT_EQ(ParseDuration("-5m"), std::nullopt);
  EXPECT_EQ(ParseDuration("5 m"), std::nullopt);
}

// A product that overflowed once read as a negative age: "purge everything".
TEST(ParseDuration, RejectsDurationsPastAHundredYearsInsteadOfOverflowing) {
  EXPECT_EQ(ParseDuration("1152921504606846975h"), std::nullopt);
  EXPECT_EQ(ParseDuration("9223372036854775807s"), std::nullopt);
  EXPECT_EQ(ParseDuration("99999999999999d"), std::nullopt);
  EXPECT_EQ(ParseDuration("36500d"), seconds(36500LL * 86400));
}

// `status` prints ages for people; --json keeps the exact seconds.
TEST(FormatDuration, PrintsAgesAnOperatorReadsAtAGlance) {
  EXPECT_EQ(FormatDuration(0.42), "0.4s");
  EXPECT_EQ(FormatDuration(42.7), "42s");
  EXPECT_EQ(FormatDuration(245), "4m05s");
  EXPECT_EQ(FormatDuration(2 * 3600 + 13 * 60 + 59), "2h13m");
  EXPECT_EQ(FormatDuration(3 * 86400 + 4 * 3600 + 1), "3d04h");
  EXPECT_EQ(FormatDuration(-5), "0.0s");  // clocks that disagree
}

TEST(DurationText, WritesWhatParseDurationReadsInTheLargestWholeUnit) {
  EXPECT_EQ(DurationText(seconds(0)), "0");
  EXPECT_EQ(DurationText(seconds(7 * 86400)), "7d");
  EXPECT_EQ(DurationText(seconds(36 * 3600)), "36h");
  EXPECT_EQ(DurationText(seconds(90)), "90s");
  EXPECT_EQ(DurationText(seconds(120)), "2m");
  for (int64_t s : {0, 1, 59, 60, 3601, 86400, 90000}) {
    EXPECT_EQ(ParseDuration(DurationText(seconds(s))), seconds(s)) << s;
  }
}

}  // namespace
}  // namespace outbox
