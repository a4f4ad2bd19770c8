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
// An age for people: "0.4s", "42s", "4m05s", "2h13m", "3d04h".
std::string FormatDuration(double seconds);

// Exit code of `status` when an operator is needed (dead letters, blocked
// keys, shards without a live relay), so that scripts can act on it.
constexpr int kExitNeedsOperator = 3;
int StatusCommand(const std::string& config_path, bool json);

// `health`: the relay's /healthz (or /readyz) from metrics.listen; 0 if 200.
int HealthCommand(const std::string& config_path, bool ready);

struct DeadLettersRequest {
  enum class Action { kList, kShow, kRequeue, kPurge };
  Action action = Action::kList;
  DeadLetterFilter filter;  // its ids: the ones given on the command line
  int limit = 100;          // list
  bool dry_run = false;
  bool all = false;   // requeue/purge without a filter
  bool yes = false;   // purge --all without asking on a terminal
  bool json = false;  // list/show
};

int DeadLettersCommand(const std::string& config_path, const DeadLettersRequest& request);

}  // namespace outbox
