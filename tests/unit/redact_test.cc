#include "config/redact.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

TEST(Redact, HidesPasswordInUri) {
  EXPECT_EQ(RedactDsn("postgresql://relay:s3cret@db:5432/app"),
            "postgresql://relay:***@db:5432/app");
  EXPECT_EQ(RedactDsn("postgres://relay@db/app?password=s3cret&sslmode=require"),
            "postgres://relay@db/app?password=***&sslmode=require");
}

TEST(Redact, HidesPasswordInKeywordForm) {
  EXPECT_EQ(RedactDsn("host=db password=s3cret user=relay"), "host=db password=*** user=relay");
  EXPECT_EQ(RedactDsn("password='s3 cret' host=db"), "password=*** host=db");
}

TEST(Redact, LeavesDsnWithoutPasswordAlone) {
  EXPECT_EQ(RedactDsn("host=/tmp port=5432 user=postgres"), "host=/tmp port=5432 user=postgres");
}

TEST(Redact, RenderedConfigShowsNoSecrets) {
  Config config;
  config.postgres.dsn = "postgresql://relay:topsecret@db/app";
  config.kafka.bootstrap_servers = "b:1";
  config.kafka.properties = {{"sasl.password", "topsecret", {}}, {"linger.ms", "5", {}}};
  const std::string rendered = RenderRedactedConfig(config);
  EXPECT_EQ(rendered.find("topsecret"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("sasl.password: \"***\""), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("linger.ms: 5"), std::string::npos) << rendered;
}

}  // namespace
}  // namespace outbox
