#include "outbox/pg_errors.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

TEST(PgErrors, ConnectionTroubleMeansReconnect) {
  for (const char* s : {"08006", "08001", "57P01", "57P02", "57P03", "53300", "57014", ""}) {
    EXPECT_EQ(ClassifySqlState(s), StatusCode::kUnavailable) << s;
  }
}

TEST(PgErrors, ConflictsMeanRetryTheBatch) {
  for (const char* s : {"40001", "40P01", "55P03"}) {
    EXPECT_EQ(ClassifySqlState(s), StatusCode::kAborted) << s;
  }
}

TEST(PgErrors, MissingTableOrPrivilegeNeedsAnOperator) {
  for (const char* s : {"42P01", "42501", "42703", "28P01", "28000"}) {
    EXPECT_EQ(ClassifySqlState(s), StatusCode::kFailedPrecondition) << s;
  }
}

TEST(PgErrors, EverythingElseIsInternal) {
  EXPECT_EQ(ClassifySqlState("22P02"), StatusCode::kInternal);
  EXPECT_EQ(ClassifySqlState("XX000"), StatusCode::kInternal);
}

}  // namespace
}  // namespace outbox
