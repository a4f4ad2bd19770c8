#include "sink/topic_durability.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

TEST(TopicDurability, ADurableTopicHasNoProblems) {
  EXPECT_TRUE(DurabilityProblems({"orders", 3, 2, false, ""}).empty());
}

TEST(TopicDurability, NamesTheSettingToChangeForEachWeakness) {
  const auto problems = DurabilityProblems({"orders", 1, 1, true, ""});
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("replication factor 1"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("replication.factor=3"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("--add-config min.insync.replicas=2"), std::string::npos)
      << problems[1];
  EXPECT_NE(problems[2].find("unclean.leader.election.enable=false"), std::string::npos)
      << problems[2];
}

TEST(TopicDurability, SettingsTheBrokerDidNotReportAreNotProblems) {
  EXPECT_TRUE(DurabilityProblems({"orders", 3, std::nullopt, std::nullopt, "unsupported"}).empty());
}

}  // namespace
}  // namespace outbox
