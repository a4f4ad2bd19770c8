// `outbox-relay status` and `outbox-relay dead-letters ...`: what an on-call
// operator runs. Each returns the process exit code.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/duration.h"
#include "outbox/admin.h"

namespace outbox {

// The database DSN of a config file, with the operator's network timeouts;
// nullopt after printing the config's problems.
std::optional<std::string> OperatorDsn(const std::string& config_path);
// Prints a failure for the operator (secrets scrubbed); returns kExitFailure.
int ReportFailure(const Status& status);

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
