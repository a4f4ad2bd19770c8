#include "cli_words.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

#include "commit.h"
#include "outbox/conninfo.h"
#include "sink/kafka_conf.h"

namespace outbox {
namespace {

// Edit distance, for "did you mean".
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "list, show, requeue, purge": the commands under `at`.
std::string CommandNames(CLI::App* at) {
  std::string names;
  for (CLI::App* sub : at->get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return names;
}

}  // namespace

std::string VersionText() {
  return "outbox-relay " OUTBOX_RELAY_VERSION " (commit " OUTBOX_RELAY_COMMIT ")\nlibrdkafka " +
         LibrdkafkaVersion() + "\nlibpq " + LibpqVersion();
}

std::string HelpHint(const std::string& path) {
  return "  (outbox-relay " + (path.empty() ? "" : path + " ") + "--help)\n";
}

bool NamesACommand(CLI::App& cli, int argc, char** argv, std::string* path) {
  bool asks_for_help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    asks_for_help |= word == "-h" || word == "--help" || word == "--version";
  }
  CLI::App* at = &cli;
  for (int i = 1; i < argc && !at->get_subcommands({}).empty(); ++i) {
    const std::string word = argv[i];
    if (word.rfind('-', 0) == 0) continue;  // --help, --version
    CLI::App* next = nullptr;
    std::string closest;
    for (CLI::App* sub : at->get_subcommands({})) {
      if (sub->get_name() == word) next = sub;
      if (Distance(word, sub->get_name()) <= 2) closest = sub->get_name();
    }
    if (next == nullptr) {
      std::cerr << "outbox-relay" << (path->empty() ? "" : " " + *path) << ": unknown command \""
                << word << "\"" << (closest.empty() ? "" : "; did you mean \"" + closest + "\"?")
                << "\n  commands: " << CommandNames(at) << '\n'
                << HelpHint(*path);
      return false;
    }
    *path += (path->empty() ? "" : " ") + word;
    at = next;
  }
  if (at != &cli && !at->get_subcommands({}).empty() && !asks_for_help) {
    std::cerr << "outbox-relay " << *path << ": give a command: " << CommandNames(at) << '\n';
    return false;
  }
  return true;
}

std::string ResolveConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv(kConfigVariable); env != nullptr && *env != '\0') return env;
  if (!std::filesystem::exists(kDefaultConfigPath)) {
    std::cerr << "outbox-relay: no config: give --config FILE, set " << kConfigVariable
              << ", or write " << kDefaultConfigPath << '\n';
    return "";
  }
  return kDefaultConfigPath;
}

}  // namespace outbox
