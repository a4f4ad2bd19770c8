#include "outbox/network_timeouts.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

constexpr const char* kAll =
    "keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 "
    "tcp_user_timeout=15000";

TEST(NetworkTimeouts, AddsThemToKeyValueStrings) {
  EXPECT_EQ(WithNetworkTimeouts("host=db user=relay"), std::string("host=db user=relay ") + kAll);
  EXPECT_EQ(WithNetworkTimeouts(""), kAll);  // all from PG* variables
}

TEST(NetworkTimeouts, AddsThemToUris) {
  EXPECT_EQ(WithNetworkTimeouts("postgresql://relay@db/app"),
            "postgresql://relay@db/app?keepalives=1&keepalives_idle=5&keepalives_interval=2&"
            "keepalives_count=3&tcp_user_timeout=15000");
  EXPECT_EQ(WithNetworkTimeouts("postgres://db/app?sslmode=require&tcp_user_timeout=1000"),
            "postgres://db/app?sslmode=require&tcp_user_timeout=1000&keepalives=1&"
            "keepalives_idle=5&keepalives_interval=2&keepalives_count=3");
}

TEST(NetworkTimeouts, KeepsWhatTheUserSet) {
  EXPECT_EQ(WithNetworkTimeouts("host=db keepalives_idle=60 tcp_user_timeout=0 keepalives=0 "
                                "keepalives_interval=9 keepalives_count=1"),
            "host=db keepalives_idle=60 tcp_user_timeout=0 keepalives=0 keepalives_interval=9 "
            "keepalives_count=1");
}

}  // namespace
}  // namespace outbox
