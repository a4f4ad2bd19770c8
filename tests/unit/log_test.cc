#include "common/log.h"

#include <gtest/gtest.h>

#include <limits>

namespace outbox {
namespace {

TEST(Log, FormatsLogfmtWithQuotingWhereNeeded) {
  EXPECT_EQ(FormatLogLine(LogFormat::kLogfmt, "2026-01-01T00:00:00.000Z", LogLevel::kWarn,
                          "reading the outbox failed",
                          {{"code", "unavailable"}, {"error", "no \"server\"\nhere"}, {"n", ""}}),
            "ts=2026-01-01T00:00:00.000Z level=warn msg=\"reading the outbox failed\" "
            "code=unavailable error=\"no \\\"server\\\"\\nhere\" n=\"\"");
}

TEST(Log, FormatsJsonWithEscapes) {
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, "2026-01-01T00:00:00.000Z", LogLevel::kInfo,
                          "relay started", {{"dsn", "a\"b\\c\nd\x01"}}),
            "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"level\":\"info\",\"msg\":\"relay started\","
            "\"dsn\":\"a\\\"b\\\\c\\nd\\u0001\"}");
}

// A log pipeline sums and compares numbers: JSON lines write them as numbers.
TEST(Log, WritesNumbersAndBoolsUnquotedInJsonAndAsTheyAreInLogfmt) {
  const int64_t id = 9007199254740993;  // past a double's integers: kept exact
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, "t", LogLevel::kInfo, "m",
                          {{"id", id},
                           {"rows", size_t{3}},
                           {"seconds", 0.25},
                           {"ok", true},
                           {"bad", std::numeric_limits<double>::infinity()},
                           {"text", "42"}}),
            "{\"ts\":\"t\",\"level\":\"info\",\"msg\":\"m\",\"id\":9007199254740993,"
            "\"rows\":3,\"seconds\":0.25,\"ok\":true,\"bad\":null,\"text\":\"42\"}");
  EXPECT_EQ(
      FormatLogLine(LogFormat::kLogfmt, "t", LogLevel::kInfo, "m", {{"id", id}, {"ok", false}}),
      "ts=t level=info msg=m id=9007199254740993 ok=false");
}

TEST(Log, ParsesLevels) {
  LogLevel level;
  EXPECT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("error", &level));
  EXPECT_EQ(level, LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("verbose", &level));
}

}  // namespace
}  // namespace outbox
