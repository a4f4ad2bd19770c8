#include "config/env_subst.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

std::optional<std::string> Env(const std::string& name) {
  if (name == "HOST") return "db.internal";
  if (name == "EMPTY") return "";
  return std::nullopt;
}

std::string Subst(std::string_view text) {
  Result<std::string> r = SubstituteEnv(text, &Env);
  return r.ok() ? *r : "ERROR: " + r.status().message();
}

TEST(EnvSubst, ReplacesSetVariables) {
  EXPECT_EQ(Subst("postgresql://${HOST}/app"), "postgresql://db.internal/app");
}

TEST(EnvSubst, UsesDefaultWhenUnsetOrEmpty) {
  EXPECT_EQ(Subst("${MISSING:-fallback}"), "fallback");
  EXPECT_EQ(Subst("${EMPTY:-fallback}"), "fallback");
  EXPECT_EQ(Subst("${HOST:-fallback}"), "db.internal");
  EXPECT_EQ(Subst("${MISSING:-}"), "");
}

TEST(EnvSubst, LeavesPlainDollarsAndEscapes) {
  EXPECT_EQ(Subst("cost $5"), "cost $5");
  EXPECT_EQ(Subst("$${HOST}"), "${HOST}");
  EXPECT_EQ(Subst("end$"), "end$");
}

TEST(EnvSubst, ReportsProblems) {
  EXPECT_EQ(Subst("${MISSING}"),
            "ERROR: environment variable MISSING is not set (use ${MISSING:-default} "
            "to give a default)");
  // Never the value itself: it may be a DSN with a password.
  EXPECT_EQ(Subst("postgresql://u:s3cret@db/${HOST"),
            "ERROR: unterminated ${ at character 26 of the value");
  EXPECT_EQ(Subst("${1BAD}"),
            "ERROR: bad environment variable name at character 3 of the value (letters, digits "
            "and _, not starting with a digit)");
  EXPECT_EQ(Subst("x${}").find("ERROR: bad environment variable name at character 4"), 0u);
}

}  // namespace
}  // namespace outbox
