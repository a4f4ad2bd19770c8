// What main.cc needs around CLI11: naming an unknown command, where the
// config comes from, and what --version prints.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "version.h"

namespace outbox {

inline constexpr const char* kDefaultConfigPath = OUTBOX_RELAY_DEFAULT_CONFIG;
inline constexpr const char* kConfigVariable = "OUTBOX_RELAY_CONFIG";

// "outbox-relay 0.1.0 (commit …)", then the librdkafka and libpq versions.
std::string VersionText();

// "  (outbox-relay dead-letters --help)\n"
std::string HelpHint(const std::string& path);

// CLI11 answers an unknown command with "A subcommand is required"; this
// walks argv's command words first and names the problem. Returns false
// (having said why) if they do not name a command. `path` gets the words
// that did, e.g. "dead-letters list".
bool NamesACommand(CLI::App& cli, int argc, char** argv, std::string* path);

// --config, else $OUTBOX_RELAY_CONFIG, else the default path; empty (having
// said why) if that default does not exist.
std::string ResolveConfigPath(const std::string& flag);

}  // namespace outbox
