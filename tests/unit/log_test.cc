#include "common/log.h"

#include <gtest/gtest.h>

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
