// argv → command → exit code. The commands live in app.cc and commands/.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app.h"
#include "cli_words.h"
#include "commands/audit_command.h"
#include "commands/operator_commands.h"
#include "commands/trace_command.h"

namespace {

using outbox::DeadLettersRequest;
using outbox::kConfigVariable;
using outbox::kDefaultConfigPath;

// Adds the dead-letter filters to a subcommand; --older-than is parsed later.
void AddFilters(CLI::App* command, DeadLettersRequest& request, std::string& older_than) {
  command->add_option("--topic", request.filter.topic, "only this topic");
  command->add_option("--key", request.filter.key, "only this key");
  command->add_option("--reason", request.filter.reason, "only this reason, e.g. invalid_headers");
  command->add_option("--id-from", request.filter.id_from, "only ids >= this");
  command->add_option("--id-to", request.filter.id_to, "only ids <= this");
  command->add_option("--older-than", older_than,
                      "only dead-lettered longer ago than this, e.g. 90s, 15m, 2h, 7d");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"outbox-relay: publishes committed PostgreSQL outbox rows to Kafka"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", outbox::VersionText());

  std::string config_flag;
  auto add = [&](CLI::App* parent, const char* name, const char* help) {
    CLI::App* command = parent->add_subcommand(name, help);
    command->add_option("-c,--config", config_flag,
                        std::string("YAML config file (default: $") + kConfigVariable + ", then " +
                            kDefaultConfigPath + ")");
    return command;
  };
  CLI::App* run = add(&cli, "run", "run the relay until SIGTERM/SIGINT (SIGHUP reloads log.*)");
  CLI::App* check =
      add(&cli, "check-config", "validate the config and print it with secrets redacted");
  CLI::App* migrate = add(&cli, "migrate",
                          "apply the schema/ files the database lacks (and "
                          "schema/options/1002_per_key_sequence.sql with relay.per_key_sequence)");
  bool partitioned = false;
  migrate->add_flag("--partitioned", partitioned,
                    "create the outbox partitioned by day (schema/options/1001_partitioned.sql; "
                    "only where no outbox exists yet)");
  bool json = false;
  CLI::App* status = add(&cli, "status",
                         "pending rows, oldest age, dead letters by reason, blocked keys, "
                         "which relay publishes; exits 3 when an operator is needed");
  status->add_flag("--json", json, "print JSON (ages in exact seconds)");
  bool ready = false;
  CLI::App* health = add(&cli, "health",
                         "ask the running relay's /healthz on metrics.listen (a container "
                         "health check); exits 0 if it answers 200");
  health->add_flag("--ready", ready, "ask /readyz instead");

  outbox::TraceRequest trace_request;
  CLI::App* trace = add(&cli, "trace",
                        "where row ID is: pending, sent (partition and offset), "
                        "dead-lettered, or gone; or the last rows of a --key");
  CLI::Option* trace_id = trace->add_option("id", trace_request.id, "the row's id (= outbox-id)");
  trace->add_option("--key", trace_request.key, "instead of an id: the last rows of this key")
      ->excludes(trace_id);
  trace->add_option("--limit", trace_request.limit, "with --key: at most this many (default 10)")
      ->check(CLI::PositiveNumber);
  trace->add_flag("--json", trace_request.json, "print JSON");

  outbox::AuditRequest audit_request;
  CLI::App* audit =
      add(&cli, "audit",
          "read topics independently and report duplicates, per-key gaps and reorders, and "
          "(relay.on_ack: mark_sent) every sent row at its recorded offset; exits 1 if "
          "anything was lost");
  audit->add_option("--topic", audit_request.topics,
                    "a topic to audit (repeat; default: "
                    "kafka.topics)");
  CLI::Option* since = audit->add_option(
      "--since", audit_request.since,
      "start at this age (e.g. 2h, 7d) or timestamp (e.g. \"2026-12-01 10:00+00\"); default: "
      "the beginning of each partition");
  audit
      ->add_option("--from-offset", audit_request.from_offset,
                   "start at this offset in every "
                   "partition")
      ->excludes(since);
  audit->add_flag("--json", audit_request.json, "print JSON");
  audit->add_flag("--progress", audit_request.progress,
                  "print progress on stderr also when it is not a terminal");
  audit
      ->add_option("--stall-timeout", audit_request.stall_seconds,
                   "give up on a partition that sends nothing for this many seconds (30)")
      ->check(CLI::PositiveNumber);

  CLI::App* dead_letters =
      cli.add_subcommand("dead-letters", "inspect and act on rows that could not be delivered");
  dead_letters->require_subcommand(1);
  DeadLettersRequest request;
  std::string older_than;
  CLI::App* list = add(dead_letters, "list", "list dead letters (oldest id first)");
  AddFilters(list, request, older_than);
  list->add_option("--limit", request.limit, "at most this many rows (default 100)")
      ->check(CLI::PositiveNumber);
  list->add_flag("--json", request.json, "print JSON");
  CLI::App* show = add(dead_letters, "show", "show dead letters with their payloads");
  show->add_option("ids", request.filter.ids, "dead letter ids (= outbox-id)")->required();
  show->add_flag("--json", request.json, "print JSON");
  CLI::App* requeue = add(dead_letters, "requeue",
                          "move dead letters back into the outbox (same ids, so the same "
                          "outbox-id header)");
  CLI::App* purge = add(dead_letters, "purge", "delete dead letters for good");
  for (CLI::App* change : {requeue, purge}) {
    change->add_option("ids", request.filter.ids, "only these ids");
    AddFilters(change, request, older_than);
    change->add_flag("--dry-run", request.dry_run, "only print which ids would be affected");
    change->add_flag("--all", request.all, "act on every dead letter (no filter)");
  }
  purge->add_flag("--yes", request.yes, "do not ask before --all on a terminal");

  std::string command_path;
  if (!outbox::NamesACommand(cli, argc, argv, &command_path)) return outbox::kExitUsage;
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "outbox-relay" << (command_path.empty() ? "" : " " + command_path) << ": "
              << e.what() << '\n'
              << outbox::HelpHint(command_path);
    return outbox::kExitUsage;
  }
  const std::string config_path = outbox::ResolveConfigPath(config_flag);
  if (config_path.empty()) return outbox::kExitBadConfig;
  if (*run) return outbox::RunCommand(config_path);
  if (*check) return outbox::CheckConfigCommand(config_path);
  if (*migrate) return outbox::MigrateCommand(config_path, partitioned);
  if (*status) return outbox::StatusCommand(config_path, json);
  if (*health) return outbox::HealthCommand(config_path, ready);
  if (*audit) return outbox::AuditCommand(config_path, audit_request);
  if (*trace) {
    if (!trace_request.id && !trace_request.key) {
      std::cerr << "outbox-relay trace: give a row id or --key KEY\n" << outbox::HelpHint("trace");
      return outbox::kExitUsage;
    }
    return outbox::TraceCommand(config_path, trace_request);
  }
  if (!older_than.empty()) {
    request.filter.older_than = outbox::ParseDuration(older_than);
    if (!request.filter.older_than) {
      std::cerr << "--older-than: expected a duration such as 90s, 15m, 2h or 7d, at most 100 "
                   "years (got \""
                << older_than << "\")\n";
      return outbox::kExitUsage;
    }
  }
  if (*list) request.action = DeadLettersRequest::Action::kList;
  if (*show) request.action = DeadLettersRequest::Action::kShow;
  if (*requeue) request.action = DeadLettersRequest::Action::kRequeue;
  if (*purge) request.action = DeadLettersRequest::Action::kPurge;
  return outbox::DeadLettersCommand(config_path, request);
}
