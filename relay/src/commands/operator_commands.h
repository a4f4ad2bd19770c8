// `outbox-relay status` and `outbox-relay dead-letters ...`: what an on-call
// operator runs. Each returns the process exit code.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "outbox/admin.h"

namespace outbox {

// "90s", "15m", "2h", "7d" (a bare number is seconds); nullopt if malformed.
// The longest duration ParseDuration accepts (100 years).
inline constexpr std::chrono::seconds kLongestDuration{int64_t{100} * 365 * 86400};
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

int StatusCommand(const std::string& config_path, bool json);

struct DeadLettersRequest {
  enum class Action { kList, kShow, kRequeue, kPurge };
  Action action = Action::kList;
  DeadLetterFilter filter;
  int64_t id = 0;   // show
  int limit = 100;  // list
  bool dry_run = false;
  bool all = false;   // requeue/purge without a filter
  bool json = false;  // list/show
};

int DeadLettersCommand(const std::string& config_path, const DeadLettersRequest& request);

}  // namespace outbox
