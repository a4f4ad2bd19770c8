#include "commands/operator_commands.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.h"
#include "common/secrets.h"
#include "common/shard_list.h"
#include "common/text.h"
#include "metrics/http_probe.h"
#include "outbox/network_timeouts.h"

namespace outbox {
namespace {

using nlohmann::json;

std::optional<OutboxAdmin> AdminFor(const std::string& config_path) {
  std::optional<std::string> dsn = OperatorDsn(config_path);
  if (!dsn) return std::nullopt;
  return OutboxAdmin(*dsn);
}

int Fail(const outbox::Status& status) { return ReportFailure(status); }

bool IsPrintable(const std::string& bytes) {
  if (!IsUtf8(bytes)) return false;
  for (unsigned char c : bytes) {
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') return false;
    if (c == 0x7f) return false;
  }
  return true;
}

std::string Hex(const std::string& bytes) {
  std::string out;
  char buf[3];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

json ToJson(const DeadLetterRow& d) {
  json row = {{"id", d.id},
              {"topic", d.topic},
              {"key", d.key ? json(*d.key) : json(nullptr)},
              {"reason", d.reason},
              {"error", d.error},
              {"attempts", d.attempts},
              {"blocks_key", d.blocks_key},
              {"payload_bytes", d.payload_bytes},
              {"created_at", d.created_at},
              {"dead_lettered_at", d.dead_lettered_at}};
  if (!d.first_failed_at.empty()) {
    row["first_failed_at"] = d.first_failed_at;
    row["last_failed_at"] = d.last_failed_at;
    row["headers"] = json::parse(d.headers_json, nullptr, false);
    if (!d.payload) {
      row["payload"] = nullptr;
    } else if (IsPrintable(*d.payload)) {
      row["payload"] = *d.payload;
    } else {
      row["payload_hex"] = Hex(*d.payload);
    }
  }
  return row;
}

void PrintTable(const std::vector<DeadLetterRow>& rows) {
  std::printf("%-10s %-20s %-20s %-22s %8s %-6s %-24s %s\n", "ID", "TOPIC", "KEY", "REASON",
              "ATTEMPTS", "BLOCKS", "DEAD-LETTERED", "ERROR");
  for (const DeadLetterRow& d : rows) {
    std::printf("%-10lld %-20s %-20s %-22s %8d %-6s %-24s %s\n", static_cast<long long>(d.id),
                d.topic.c_str(), d.key ? d.key->c_str() : "(none)", d.reason.c_str(), d.attempts,
                d.blocks_key ? "yes" : "no", d.dead_lettered_at.c_str(), d.error.c_str());
  }
}

void PrintDetail(const DeadLetterRow& d) {
  std::cout << "id:               " << d.id << "  (the outbox-id header)\n"
            << "topic:            " << d.topic << '\n'
            << "key:              " << (d.key ? *d.key : "(none)") << '\n'
            << "reason:           " << d.reason << '\n'
            << "error:            " << d.error << '\n'
            << "attempts:         " << d.attempts << '\n'
            << "blocks its key:   " << (d.blocks_key ? "yes" : "no") << '\n'
            << "created at:       " << d.created_at << '\n'
            << "first failed at:  " << d.first_failed_at << '\n'
            << "last failed at:   " << d.last_failed_at << '\n'
            << "dead-lettered at: " << d.dead_lettered_at << '\n'
            << "headers:          " << d.headers_json << '\n';
  if (!d.payload) {
    std::cout << "payload:          (null: tombstone)\n";
  } else if (IsPrintable(*d.payload)) {
    std::cout << "payload:          (" << d.payload_bytes << " bytes)\n" << *d.payload << '\n';
  } else {
    std::cout << "payload:          (" << d.payload_bytes << " bytes, binary, hex)\n"
              << Hex(*d.payload) << '\n';
  }
}

std::string JoinIds(const std::vector<int64_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ", ";
    if (i == 20) return out + "... (" + std::to_string(ids.size() - 20) + " more)";
    out += std::to_string(ids[i]);
  }
  return out;
}

// On a terminal, `purge --all` asks first; it then purges exactly the ids it
// named, not rows dead-lettered while the operator read the question.
// Returns the exit code when there is nothing more to do (declined, stdin
// ended, nothing to purge, or an error).
std::optional<int> ConfirmPurgeAll(const OutboxAdmin& admin, DeadLettersRequest& request) {
  Result<std::vector<int64_t>> ids = admin.PurgeDeadLetters(request.filter, /*dry_run=*/true);
  if (!ids.ok()) return Fail(ids.status());
  if (ids->empty()) {
    std::cout << "purged 0 dead letters\n";
    return kExitOk;
  }
  std::cerr << "purge all " << ids->size() << " dead letter" << (ids->size() == 1 ? "" : "s")
            << " (" << JoinIds(*ids) << ") for good? Type yes to go on: " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer) || answer != "yes") {
    std::cerr << "nothing purged\n";
    return kExitFailure;
  }
  request.filter.ids = std::move(*ids);
  return std::nullopt;
}

int Change(const OutboxAdmin& admin, DeadLettersRequest request) {
  if (request.filter.empty() && !request.all) {
    std::cerr << "outbox-relay: give ids, a filter (--topic, --key, --reason, --id-from, "
                 "--id-to, --older-than) or --all\n";
    return kExitUsage;
  }
  const bool requeue = request.action == DeadLettersRequest::Action::kRequeue;
  if (!requeue && request.filter.empty() && !request.dry_run && !request.yes &&
      isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
    if (std::optional<int> done = ConfirmPurgeAll(admin, request)) return *done;
  }
  Result<std::vector<int64_t>> ids = requeue
                                         ? admin.RequeueDeadLetters(request.filter, request.dry_run)
                                         : admin.PurgeDeadLetters(request.filter, request.dry_run);
  if (!ids.ok()) return Fail(ids.status());
  const char* verb = requeue ? (request.dry_run ? "would requeue" : "requeued")
                             : (request.dry_run ? "would purge" : "purged");
  std::cout << verb << ' ' << ids->size() << " dead letter" << (ids->size() == 1 ? "" : "s");
  if (!ids->empty()) std::cout << ": " << JoinIds(*ids);
  std::cout << '\n';
  return kExitOk;
}

json Instances(const OutboxStatus& s) {
  json out = json::array();
  for (const RelayInstance& i : s.instances) {
    out.push_back({{"id", i.id},
                   {"host", i.host},
                   {"pid", i.pid},
                   {"started_at", i.started_at},
                   {"alive", i.alive},
                   {"shards", i.shards}});
  }
  return out;
}

}  // namespace

std::optional<std::string> OperatorDsn(const std::string& config_path) {
  std::optional<Config> config = LoadValidConfig(config_path);
  if (!config) return std::nullopt;
  SetLibpqDefaults(*config);
  return WithNetworkTimeouts(config->postgres.dsn);
}

int ReportFailure(const Status& status) {
  std::cerr << "outbox-relay: " << StatusCodeName(status.code()) << ": "
            << ScrubSecrets(status.message()) << '\n';
  return kExitFailure;
}

// What an operator must act on, one sentence each; empty when nothing.
std::vector<std::string> NeedsOperator(const OutboxStatus& s, int64_t dead_letters) {
  std::vector<std::string> out;
  if (dead_letters > 0) {
    out.push_back(std::to_string(dead_letters) +
                  " dead letters (outbox-relay dead-letters list; requeue or purge them)");
  }
  if (s.blocked_keys > 0) {
    out.push_back(std::to_string(s.blocked_keys) + " keys blocked behind a dead letter");
  }
  if (!s.unowned_shards.empty()) {
    out.push_back("shards " + ShardList(s.unowned_shards) +
                  " have no live relay: their rows are not published");
  }
  return out;
}

int StatusCommand(const std::string& config_path, bool as_json) {
  std::optional<OutboxAdmin> admin = AdminFor(config_path);
  if (!admin) return kExitBadConfig;
  Result<OutboxStatus> status = admin->ReadStatus();
  if (!status.ok()) return Fail(status.status());
  const OutboxStatus& s = *status;
  int64_t dead_letters = 0;
  for (const auto& [reason, count] : s.dead_letters_by_reason) dead_letters += count;
  const std::vector<std::string> attention = NeedsOperator(s, dead_letters);
  const int exit_code = attention.empty() ? kExitOk : kExitNeedsOperator;
  if (as_json) {
    json by_reason = json::object();
    for (const auto& [reason, count] : s.dead_letters_by_reason) by_reason[reason] = count;
    const Backlog& b = s.backlog;
    auto optional = [](std::optional<double> v) { return v ? json(*v) : json(nullptr); };
    const json out = {
        {"pending", b.pending},
        {"pending_is_estimate", b.pending_is_estimate},
        {"oldest_pending_age_seconds", optional(b.oldest_pending_age_seconds)},
        {"oldest_open_transaction_age_seconds", optional(b.oldest_open_transaction_age_seconds)},
        {"sent_rows", s.sent_rows},
        {"sent_rows_is_estimate", s.sent_rows_is_estimate},
        {"waiting_for_retry", s.waiting_for_retry},
        {"dead_letters", dead_letters},
        {"dead_letters_by_reason", by_reason},
        {"blocked_keys", s.blocked_keys},
        {"blocked_key_examples", s.blocked_key_examples},
        {"instances", Instances(s)},
        {"shards", s.shard_count},
        {"unowned_shards", s.unowned_shards},
        {"needs_operator", attention}};
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    return exit_code;
  }
  const Backlog& b = s.backlog;
  std::printf("pending:       %s%lld", b.pending_is_estimate ? "about " : "",
              static_cast<long long>(b.pending));
  if (b.oldest_pending_age_seconds) {
    std::printf(" (oldest %s old)", FormatDuration(*b.oldest_pending_age_seconds).c_str());
  }
  std::printf("\nwaiting retry: %lld\n", static_cast<long long>(s.waiting_for_retry));
  if (s.sent_rows > 0) {
    std::printf("sent, kept:    %s%lld (relay.on_ack: mark_sent, until relay.sent_retention)\n",
                s.sent_rows_is_estimate ? "about " : "", static_cast<long long>(s.sent_rows));
  }
  if (b.oldest_open_transaction_age_seconds) {
    std::printf("oldest open write transaction: %s (its rows are not visible yet)\n",
                FormatDuration(*b.oldest_open_transaction_age_seconds).c_str());
  }
  std::printf("dead letters:  %lld", static_cast<long long>(dead_letters));
  for (const auto& [reason, count] : s.dead_letters_by_reason) {
    std::printf("  %s=%lld", reason.c_str(), static_cast<long long>(count));
  }
  std::printf("\nblocked keys:  %lld", static_cast<long long>(s.blocked_keys));
  for (size_t i = 0; i < s.blocked_key_examples.size(); ++i) {
    std::printf("%s%s", i == 0 ? "  " : ", ", s.blocked_key_examples[i].c_str());
  }
  std::printf(
      "\nshards:        %d, %s\n", s.shard_count,
      s.unowned_shards.empty()
          ? "all leased"
          : (std::to_string(s.unowned_shards.size()) +
             " without a live lease (nobody publishes them): " + ShardList(s.unowned_shards))
                .c_str());
  std::printf("instances:\n");
  if (s.instances.empty()) std::printf("  none\n");
  for (const RelayInstance& i : s.instances) {
    std::printf("  %-40s %-5s since %s  shards: %s\n", i.id.c_str(), i.alive ? "live" : "gone",
                i.started_at.c_str(), i.shards.empty() ? "none" : ShardList(i.shards).c_str());
  }
  if (attention.empty()) {
    std::printf("needs an operator: no\n");
  } else {
    std::printf("needs an operator (exit %d):\n", kExitNeedsOperator);
    for (const std::string& line : attention) std::printf("  - %s\n", line.c_str());
  }
  return exit_code;
}

int HealthCommand(const std::string& config_path, bool ready) {
  std::optional<Config> config = LoadValidConfig(config_path);
  if (!config) return kExitBadConfig;
  if (config->metrics.listen.empty()) {
    std::cerr << "outbox-relay: metrics.listen is empty, so the relay serves no probes\n";
    return kExitBadConfig;
  }
  Result<ProbeAnswer> answer =
      ProbeRelay(config->metrics.listen, ready ? "/readyz" : "/healthz", std::chrono::seconds(3));
  if (!answer.ok()) return Fail(answer.status());
  std::cout << answer->body;
  return answer->status == 200 ? kExitOk : kExitFailure;
}

int DeadLettersCommand(const std::string& config_path, const DeadLettersRequest& request) {
  std::optional<OutboxAdmin> admin = AdminFor(config_path);
  if (!admin) return kExitBadConfig;
  switch (request.action) {
    case DeadLettersRequest::Action::kList: {
      Result<DeadLetterPage> page = admin->ListDeadLetters(request.filter, request.limit);
      if (!page.ok()) return Fail(page.status());
      const size_t shown = page->rows.size();
      if (request.json) {
        json out = json::array();
        for (const DeadLetterRow& d : page->rows) out.push_back(ToJson(d));
        std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
      } else {
        PrintTable(page->rows);
      }
      // On stderr, so that --json stays one array; said whenever rows were
      // left out.
      if (static_cast<int64_t>(shown) < page->total) {
        std::cerr << shown << " of " << page->total
                  << " dead letters shown (oldest first); --limit N shows more\n";
      } else if (!request.json) {
        std::cerr << page->total << " dead letter" << (page->total == 1 ? "" : "s") << '\n';
      }
      return kExitOk;
    }
    case DeadLettersRequest::Action::kShow: {
      json shown = json::array();
      int exit_code = kExitOk;
      for (size_t i = 0; i < request.filter.ids.size(); ++i) {
        const int64_t id = request.filter.ids[i];
        Result<std::optional<DeadLetterRow>> row = admin->ShowDeadLetter(id);
        if (!row.ok()) return Fail(row.status());
        if (!row->has_value()) {
          std::cerr << "outbox-relay: no dead letter with id " << id << '\n';
          exit_code = kExitFailure;
        } else if (request.json) {
          shown.push_back(ToJson(**row));
        } else {
          if (i > 0) std::cout << '\n';
          PrintDetail(**row);
        }
      }
      if (request.json && !(request.filter.ids.size() == 1 && shown.empty())) {
        // One id prints its object, as before; several print an array.
        const json& out = request.filter.ids.size() == 1 && !shown.empty() ? shown[0] : shown;
        std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
      }
      return exit_code;
    }
    case DeadLettersRequest::Action::kRequeue:
    case DeadLettersRequest::Action::kPurge:
      return Change(*admin, request);
  }
  return kExitUsage;
}

}  // namespace outbox
