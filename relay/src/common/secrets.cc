#include "common/secrets.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace outbox {
namespace {

std::mutex g_mutex;
std::vector<std::string>& Secrets() {
  static std::vector<std::string> secrets;
  return secrets;
}

}  // namespace

void RegisterSecret(std::string secret) {
  if (secret.size() < 3) return;
  std::lock_guard lock(g_mutex);
  std::vector<std::string>& secrets = Secrets();
  if (std::find(secrets.begin(), secrets.end(), secret) != secrets.end()) return;
  secrets.push_back(std::move(secret));
  // Longest first, so a secret that contains another is blanked whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string ScrubSecrets(std::string_view text) {
  std::string out(text);
  std::lock_guard lock(g_mutex);
  for (const std::string& secret : Secrets()) {
    for (size_t at = 0; (at = out.find(secret, at)) != std::string::npos; at += 3) {
      out.replace(at, secret.size(), "***");
    }
  }
  return out;
}

}  // namespace outbox
