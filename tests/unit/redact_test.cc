#include "config/redact.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

TEST(Redact, RenderedConfigShowsNoSecrets) {
  Config config;
  config.postgres.dsn = "postgresql://relay:topsecret@db/app";
  config.kafka.bootstrap_servers = "b:1";
  config.kafka.properties = {{"sasl.password", "topsecret", {}}, {"linger.ms", "5", {}}};
  const std::string rendered = RenderRedactedConfig(config, "host=db password=***");
  EXPECT_EQ(rendered.find("topsecret"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("dsn: host=db password=***"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("sasl.password: \"***\""), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("linger.ms: 5"), std::string::npos) << rendered;
}

}  // namespace
}  // namespace outbox
