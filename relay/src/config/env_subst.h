// ${VAR} and ${VAR:-default} substitution in config values. `$$` is a
// literal `$`. Substitution happens per scalar, after parsing, so an
// environment value can never change the YAML structure.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace outbox {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
std::optional<std::string> LookupProcessEnv(const std::string& name);

// Returns the substituted text, or kInvalidArgument naming the problem
// (unset variable, unterminated reference, bad variable name).
Result<std::string> SubstituteEnv(std::string_view text, const EnvLookup& env);

}  // namespace outbox
