// argv → command → exit code. Everything else lives in app.cc.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app.h"
#include "version.h"

int main(int argc, char** argv) {
  CLI::App cli{"outbox-relay: publishes committed PostgreSQL outbox rows to Kafka"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", "outbox-relay " OUTBOX_RELAY_VERSION);

  std::string config_path;
  auto add = [&](const char* name, const char* help) {
    CLI::App* command = cli.add_subcommand(name, help);
    command->add_option("-c,--config", config_path, "YAML config file")->required();
    return command;
  };
  CLI::App* run = add("run", "run the relay until SIGTERM/SIGINT");
  CLI::App* check = add("check-config", "validate the config and print it with secrets redacted");
  CLI::App* migrate = add("migrate", "apply the schema/ files the database lacks");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    // --help and --version are successes; anything else is a usage error.
    return code == 0 ? 0 : outbox::kExitUsage;
  }
  if (*run) return outbox::RunCommand(config_path);
  if (*check) return outbox::CheckConfigCommand(config_path);
  if (*migrate) return outbox::MigrateCommand(config_path);
  return outbox::kExitUsage;
}
