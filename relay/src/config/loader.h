// Loads the YAML config into Config. Pure apart from reading the file: every
// problem is collected (not just the first) with the position it came from.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/env_subst.h"

namespace outbox {

struct ConfigProblem {
  SourceMark mark;
  std::string key;  // dotted path, e.g. "relay.batch_size"; empty for syntax
  std::string problem;
};

struct LoadedConfig {
  Config config;
  std::vector<ConfigProblem> problems;  // empty = valid
};

// "file:line:col: key: problem"
std::string FormatConfigProblem(const std::string& path, const ConfigProblem& problem);

LoadedConfig LoadConfigFromString(std::string_view yaml, const std::string& path,
                                  const EnvLookup& env);

LoadedConfig LoadConfigFile(const std::string& path, const EnvLookup& env);

}  // namespace outbox
