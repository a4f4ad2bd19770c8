// Connection strings judged and shown by libpq's own parser.
#include "outbox/conninfo.h"

#include <gtest/gtest.h>

#include "common/secrets.h"

namespace outbox {
namespace {

TEST(Conninfo, ShowsEveryFormWithItsPasswordsHidden) {
  EXPECT_EQ(RedactedConninfo("postgresql://relay:s3cret@db:5432/app"),
            "user=relay password=*** dbname=app host=db port=5432");
  EXPECT_EQ(RedactedConninfo("postgres://relay@db/app?password=s3cret&sslmode=require"),
            "user=relay password=*** dbname=app host=db sslmode=require");
  EXPECT_EQ(RedactedConninfo("host=db password='s3 cret' user=relay"),
            "user=relay password=*** host=db");
  // sslpassword once went out as it was.
  EXPECT_EQ(RedactedConninfo("host=db sslpassword=k3ypass sslkey=/k.pem"),
            "host=db sslkey=/k.pem sslpassword=***");
  EXPECT_EQ(RedactedConninfo("host='/run/my socket' user=o\\'b"),
            "user='o\\'b' host='/run/my socket'");
}

// libpq's message for a bad escape quotes the fragment, password and all.
TEST(Conninfo, NamesAStringThatDoesNotParseWithoutQuotingIt) {
  for (const char* dsn : {"postgresql://relay:s3cr%zzet@db/app", "host=db password='s3cret",
                          "host=db s3cret", "postgresql://relay@db/app?s3cret=1"}) {
    const std::optional<std::string> problem = ConninfoProblem(dsn);
    ASSERT_TRUE(problem) << dsn;
    EXPECT_EQ(problem->find("s3cr"), std::string::npos) << *problem;
    EXPECT_NE(problem->find("not a valid libpq connection string"), std::string::npos);
    EXPECT_EQ(RedactedConninfo(dsn).find("s3cr"), std::string::npos);
  }
  EXPECT_FALSE(ConninfoProblem("host=db user=relay"));
}

TEST(Conninfo, FindsThePasswordsDecodedAndAsAUriWritesThem) {
  EXPECT_EQ(ConninfoSecrets("postgresql://relay:p%40ss%2Fw0rd@db/app"),
            (std::vector<std::string>{"p@ss/w0rd", "p%40ss%2Fw0rd"}));
  EXPECT_EQ(ConninfoSecrets("host=db sslpassword=abc123"),
            (std::vector<std::string>{"abc123", "abc123"}));
  EXPECT_TRUE(ConninfoSecrets("host=db").empty());
}

TEST(Secrets, RegisteredSecretsAreBlankedOutOfAnyText) {
  RegisterSecret("hunter2-pw");
  RegisterSecret("ab");  // too short to blank
  EXPECT_EQ(ScrubSecrets("connect failed: password \"hunter2-pw\" for ab"),
            "connect failed: password \"***\" for ab");
}

}  // namespace
}  // namespace outbox
