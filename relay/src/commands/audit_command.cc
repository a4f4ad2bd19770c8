#include "commands/audit_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <utility>

#include "app.h"
#include "commands/operator_commands.h"
#include "common/duration.h"
#include "common/log.h"
#include "outbox/network_timeouts.h"
#include "outbox/sent_rows.h"
#include "sink/topic_reader.h"

namespace outbox {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kKafkaTimeout{15};

// What one topic came to, or why it could not be audited.
struct TopicAudit {
  std::string topic;
  Status status = Status::Ok();
  AuditFindings findings;
  std::vector<PartitionExtent> partitions;
  std::vector<int64_t> starts;  // per partition
  std::string reconcile_note;   // why there is no reconciliation, if none
};

// Progress lines on stderr: at most every two seconds, and at the end of
// each partition.
class Progress {
 public:
  explicit Progress(bool on) : on_(on) {}
  void Report(const std::string& topic, size_t partition_index, size_t partitions, int64_t done,
              int64_t total) {
    if (!on_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(2) && done < total) return;  // ends always print
    if (std::make_pair(partition_index, done) == printed_) return;
    printed_ = {partition_index, done};
    last_ = now;
    std::fprintf(stderr, "audit: %s partition %zu of %zu: %lld of %lld messages\n", topic.c_str(),
                 partition_index + 1, partitions, static_cast<long long>(done),
                 static_cast<long long>(total));
  }

 private:
  bool on_;
  Clock::time_point last_ = Clock::now();
  std::pair<size_t, int64_t> printed_{SIZE_MAX, -1};
};

TopicAudit AuditTopic(const std::string& topic, const Config& config, const std::string& dsn,
                      const AuditRequest& request, Progress& progress) {
  TopicAudit audit;
  audit.topic = topic;
  Result<std::unique_ptr<TopicReader>> reader = TopicReader::Create(config.kafka);
  if (!reader.ok()) {
    audit.status = reader.status();
    return audit;
  }
  // The database's clock before the topic's offsets: a row marked sent by
  // then was acknowledged by then, so it lies below the offsets read next.
  Result<std::string> until = PgSentRows::Now(dsn);
  std::string since_ts;
  bool reconcile = false;
  if (until.ok()) {
    Result<bool> any = PgSentRows::AnySent(dsn);
    reconcile = config.relay.on_ack == "mark_sent" || (any.ok() && *any);
    if (!reconcile) audit.reconcile_note = "the outbox keeps no sent rows (relay.on_ack: delete)";
    if (!request.since.empty()) {
      // "2h": from two hours before the database's now; else a timestamp.
      const std::optional<std::chrono::seconds> ago = ParseDuration(request.since);
      Result<std::string> at = ago ? PgSentRows::Shift(dsn, *until, -ago->count())
                                   : PgSentRows::Shift(dsn, request.since, 0);
      if (!at.ok()) {
        audit.status = Status(at.status().code(), "--since: " + at.status().message());
        return audit;
      }
      since_ts = *at;
    }
  } else if (config.relay.on_ack == "mark_sent" || !request.since.empty()) {
    audit.status =
        Status(until.status().code(), "cannot read the database: " + until.status().message());
    return audit;
  } else {
    audit.reconcile_note = "the database is unreachable: " + until.status().message();
  }
  const SentWindow window{.topic = topic, .since = since_ts, .until = until.ok() ? *until : ""};

  Result<std::vector<PartitionExtent>> partitions = (*reader)->Partitions(topic, kKafkaTimeout);
  if (!partitions.ok()) {
    audit.status = partitions.status();
    return audit;
  }
  audit.partitions = *partitions;
  std::vector<std::pair<int32_t, int64_t>> lowest_sent;
  if (reconcile && !since_ts.empty()) {
    Result<std::vector<std::pair<int32_t, int64_t>>> lowest =
        PgSentRows::LowestOffsets(dsn, window);
    if (!lowest.ok()) {
      audit.status = lowest.status();
      return audit;
    }
    lowest_sent = *lowest;
  }
  int64_t since_ms = 0;
  if (!since_ts.empty()) {
    Result<int64_t> ms = PgSentRows::EpochMillis(dsn, since_ts);
    if (!ms.ok()) {
      audit.status = ms.status();
      return audit;
    }
    since_ms = *ms;
  }
  for (const PartitionExtent& p : audit.partitions) {
    int64_t start = p.log_start;
    if (request.from_offset) start = std::max(p.log_start, *request.from_offset);
    if (!since_ts.empty()) {
      Result<int64_t> at =
          (*reader)->OffsetForTime(topic, p.partition, since_ms, p.end, kKafkaTimeout);
      if (!at.ok()) {
        audit.status = at.status();
        return audit;
      }
      start = std::max(p.log_start, *at);
      // A row sent in the window may carry an earlier timestamp (it was
      // produced before it was marked): start no later than its offset.
      for (const auto& [partition, offset] : lowest_sent) {
        if (partition == p.partition) start = std::max(p.log_start, std::min(start, offset));
      }
    }
    audit.starts.push_back(std::min(start, p.end));
  }

  std::optional<PgSentRows> sent;
  if (reconcile) sent.emplace(dsn, window);
  AuditLedger ledger(sent ? &*sent : nullptr);
  for (size_t i = 0; i < audit.partitions.size(); ++i) {
    const PartitionExtent& p = audit.partitions[i];
    const int64_t start = audit.starts[i];
    ledger.BeginPartition(p.partition, start, p.end, p.log_start,
                          start == 0 && request.since.empty());
    int64_t done = 0;
    const Status read = (*reader)->Read(
        topic, p.partition, start, p.end,
        [&](const AuditedMessage& m) {
          ledger.Observe(m);
          progress.Report(topic, i, audit.partitions.size(), ++done, p.end - start);
        },
        std::chrono::seconds(request.stall_seconds));
    if (!read.ok()) {
      audit.status = read;
      return audit;
    }
    progress.Report(topic, i, audit.partitions.size(), p.end - start, p.end - start);
    ledger.EndPartition();
  }
  audit.findings = ledger.Finish();
  if (sent && !sent->status().ok()) {
    audit.status =
        Status(sent->status().code(), "reading the sent trail failed: " + sent->status().message());
  }
  return audit;
}

json FindingsJson(const TopicAudit& a) {
  const AuditFindings& f = a.findings;
  json partitions = json::array();
  for (size_t i = 0; i < a.partitions.size(); ++i) {
    partitions.push_back({{"partition", a.partitions[i].partition},
                          {"log_start", a.partitions[i].log_start},
                          {"start", a.starts.size() > i ? a.starts[i] : a.partitions[i].log_start},
                          {"end", a.partitions[i].end}});
  }
  json out = {{"topic", a.topic},
              {"complete", a.status.ok()},
              {"partitions", partitions},
              {"messages", f.messages},
              {"unique_ids", f.unique_ids},
              {"duplicates", f.duplicates},
              {"without_id", f.without_id},
              {"with_seq", f.with_seq},
              {"keys", f.keys},
              {"gaps", f.gaps},
              {"reorders", f.reorders},
              {"conflicts", f.conflicts},
              {"lost", f.lost()},
              {"examples",
               {{"duplicates", f.duplicate_examples},
                {"gaps", f.gap_examples},
                {"reorders", f.reorder_examples},
                {"conflicts", f.conflict_examples},
                {"lost", f.lost_examples}}}};
  if (!a.status.ok()) out["error"] = a.status.message();
  if (f.reconciled) {
    out["sent"] = {{"rows", f.sent_rows},
                   {"found", f.sent_found},
                   {"lost", f.sent_lost},
                   {"expired", f.sent_expired},
                   {"unrecorded", f.sent_unrecorded}};
  } else {
    out["sent"] = nullptr;
    out["sent_note"] = a.reconcile_note;
  }
  return out;
}

void PrintExamples(const char* what, const std::vector<std::string>& examples) {
  for (const std::string& e : examples) std::printf("    %s: %s\n", what, e.c_str());
}

void PrintText(const TopicAudit& a) {
  const AuditFindings& f = a.findings;
  std::printf("topic %s (%zu partitions)\n", a.topic.c_str(), a.partitions.size());
  if (!a.status.ok()) {
    std::printf("  INCOMPLETE: %s\n", a.status.message().c_str());
    return;
  }
  std::printf("  messages %lld, unique outbox-ids %lld, duplicates %lld",
              static_cast<long long>(f.messages), static_cast<long long>(f.unique_ids),
              static_cast<long long>(f.duplicates));
  if (f.without_id > 0) {
    std::printf(", without an outbox-id %lld", static_cast<long long>(f.without_id));
  }
  std::printf("\n");
  if (f.with_seq > 0) {
    std::printf("  per-key sequence: %lld keys, gaps %lld, reorders %lld",
                static_cast<long long>(f.keys), static_cast<long long>(f.gaps),
                static_cast<long long>(f.reorders));
    if (f.conflicts > 0) std::printf(", conflicts %lld", static_cast<long long>(f.conflicts));
    std::printf("\n");
  } else {
    std::printf("  per-key sequence: no outbox-seq headers (relay.per_key_sequence is off)\n");
  }
  if (f.reconciled) {
    std::printf("  sent trail: %lld rows marked sent, %lld found at their offset, %lld lost",
                static_cast<long long>(f.sent_rows), static_cast<long long>(f.sent_found),
                static_cast<long long>(f.sent_lost));
    if (f.sent_expired > 0) {
      std::printf(", %lld older than the topic keeps (not checkable)",
                  static_cast<long long>(f.sent_expired));
    }
    if (f.sent_unrecorded > 0) {
      std::printf(", %lld without a recorded offset", static_cast<long long>(f.sent_unrecorded));
    }
    std::printf("\n");
  } else {
    std::printf("  sent trail: not checked (%s)\n", a.reconcile_note.c_str());
  }
  PrintExamples("lost", f.lost_examples);
  PrintExamples("gap", f.gap_examples);
  PrintExamples("reorder", f.reorder_examples);
  PrintExamples("conflict", f.conflict_examples);
  PrintExamples("duplicate", f.duplicate_examples);
}

}  // namespace

int AuditCommand(const std::string& config_path, const AuditRequest& request) {
  std::optional<Config> config = LoadValidConfig(config_path);
  if (!config) return kExitBadConfig;
  ApplyLogSettings(*config);
  SetLibpqDefaults(*config);
  // The audit's own client chatter is not its report.
  if (config->log.level == "info") SetLogLevel(LogLevel::kWarn);
  const std::vector<std::string> topics =
      request.topics.empty() ? config->kafka.topics : request.topics;
  if (topics.empty()) {
    std::cerr << "outbox-relay audit: name a --topic (or list kafka.topics in the config)\n";
    return kExitUsage;
  }
  const std::string dsn = WithNetworkTimeouts(config->postgres.dsn);
  Progress progress(request.progress || isatty(STDERR_FILENO));
  bool lost = false, complete = true;
  json report = json::array();
  for (const std::string& topic : topics) {
    const TopicAudit audit = AuditTopic(topic, *config, dsn, request, progress);
    lost = lost || audit.findings.lost();
    complete = complete && audit.status.ok();
    if (request.json) {
      report.push_back(FindingsJson(audit));
    } else {
      PrintText(audit);
    }
  }
  if (request.json) {
    std::cout << json{{"topics", report}, {"lost", lost}, {"complete", complete}}.dump(2) << '\n';
  } else {
    std::printf("%s\n", !complete ? "verdict: INCOMPLETE (see above); nothing can be concluded"
                        : lost    ? "verdict: LOST messages (see above)"
                                  : "verdict: nothing lost");
  }
  return lost || !complete ? kExitFailure : kExitOk;
}

}  // namespace outbox
