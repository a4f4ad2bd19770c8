#include "outbox/network_timeouts.h"

#include <utility>

namespace outbox {
namespace {

// Dead-peer detection within about 15 seconds.
constexpr std::pair<const char*, const char*> kDefaults[] = {
    {"keepalives", "1"},       {"keepalives_idle", "5"},      {"keepalives_interval", "2"},
    {"keepalives_count", "3"}, {"tcp_user_timeout", "15000"},  // ms: unacknowledged data gives up
                                                               // after this
};

bool IsUri(const std::string& dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

bool Mentions(const std::string& dsn, const std::string& key) {
  for (size_t at = dsn.find(key); at != std::string::npos; at = dsn.find(key, at + 1)) {
    const bool starts = at == 0 || dsn[at - 1] == ' ' || dsn[at - 1] == '?' || dsn[at - 1] == '&';
    const size_t after = at + key.size();
    if (starts && after < dsn.size() && (dsn[after] == '=' || dsn[after] == ' ')) return true;
  }
  return false;
}

}  // namespace

std::string WithNetworkTimeouts(const std::string& dsn) {
  std::string out = dsn;
  const bool uri = IsUri(dsn);
  for (const auto& [key, value] : kDefaults) {
    if (Mentions(dsn, key)) continue;
    if (uri) {
      out += out.find('?') == std::string::npos ? '?' : '&';
    } else if (!out.empty()) {
      out += ' ';
    }
    out += std::string(key) + "=" + value;
  }
  return out;
}

}  // namespace outbox
