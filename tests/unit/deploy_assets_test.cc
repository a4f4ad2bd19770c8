// The operator assets in deploy/ are well-formed (the e2e tests check that
// they only use metrics the relay exports, and promtool checks the rules).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace outbox {
namespace {

nlohmann::json LoadDashboard() {
  std::ifstream file(std::string(OUTBOX_SOURCE_DIR) + "/deploy/grafana/outbox-relay.json");
  std::stringstream text;
  text << file.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, false);
}

TEST(GrafanaDashboard, IsProvisionableJsonWithAQueryInEveryPanel) {
  const nlohmann::json dashboard = LoadDashboard();
  ASSERT_TRUE(dashboard.is_object()) << "not JSON";
  EXPECT_EQ(dashboard.value("uid", ""), "outbox-relay");
  ASSERT_TRUE(dashboard.contains("panels"));
  std::set<int> ids;
  for (const auto& panel : dashboard["panels"]) {
    EXPECT_TRUE(ids.insert(panel.value("id", -1)).second) << "duplicate panel id";
    ASSERT_TRUE(panel.contains("targets")) << panel.value("title", "?");
    for (const auto& target : panel["targets"]) {
      EXPECT_NE(target.value("expr", "").find("outbox_relay_"), std::string::npos)
          << panel.value("title", "?");
    }
  }
  EXPECT_GE(ids.size(), 8u);
}

TEST(GrafanaDashboard, ShowsLagThroughputLatencyErrorsAndInFlight) {
  const std::string text = LoadDashboard().dump();
  for (const char* metric :
       {"outbox_relay_oldest_pending_age_seconds", "outbox_relay_messages_published_total",
        "outbox_relay_delivery_latency_seconds_bucket", "outbox_relay_publish_errors_total",
        "outbox_relay_in_flight_messages"}) {
    EXPECT_NE(text.find(metric), std::string::npos) << metric;
  }
}

}  // namespace
}  // namespace outbox
