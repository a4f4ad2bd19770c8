#include "commands/trace_command.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.h"
#include "commands/operator_commands.h"
#include "common/text.h"
#include "outbox/trace.h"

namespace outbox {
namespace {

using nlohmann::json;

json ToJson(const TracedRow& t) {
  json row = {{"id", t.id}, {"state", RowStateName(t.state)}};
  if (t.state == RowState::kGone || t.state == RowState::kNotYet) {
    row["highest_id"] = t.highest_id ? json(*t.highest_id) : json(nullptr);
    return row;
  }
  // Text a writer put in the row may be anything: JSON gets valid UTF-8.
  row["topic"] = SafeText(t.topic, 1000);
  row["key"] = t.key ? json(SafeText(*t.key, 1000)) : json(nullptr);
  row["outbox_seq"] = t.key_seq ? json(*t.key_seq) : json(nullptr);
  row["created_at"] = t.created_at;
  row["attempts"] = t.attempts;
  switch (t.state) {
    case RowState::kPending:
      row["last_error"] = t.last_error ? json(*t.last_error) : json(nullptr);
      row["next_attempt_in_seconds"] = t.next_attempt_in_seconds && *t.next_attempt_in_seconds > 0
                                           ? json(*t.next_attempt_in_seconds)
                                           : json(nullptr);
      break;
    case RowState::kSent:
      row["sent_at"] = t.sent_at;
      row["partition"] = t.partition ? json(*t.partition) : json(nullptr);
      row["offset"] = t.offset ? json(*t.offset) : json(nullptr);
      break;
    case RowState::kDeadLettered:
      row["reason"] = t.reason;
      row["error"] = t.error;
      row["dead_lettered_at"] = t.dead_lettered_at;
      row["blocks_key"] = t.blocks_key;
      break;
    default:
      break;
  }
  return row;
}

void PrintText(const TracedRow& t) {
  std::printf("row %lld: ", static_cast<long long>(t.id));
  switch (t.state) {
    case RowState::kNotYet:
      std::printf("no such row: ids handed out so far go up to %lld\n",
                  static_cast<long long>(t.highest_id.value_or(0)));
      return;
    case RowState::kGone:
      std::printf(
          "gone: in neither the outbox nor the dead letters. It was removed after its broker "
          "ack (relay.on_ack: delete, or relay.sent_retention), purged from the dead letters, "
          "or never committed (a rolled-back insert leaves its id unused).\n");
      return;
    case RowState::kPending:
      std::printf("pending");
      if (t.next_attempt_in_seconds && *t.next_attempt_in_seconds > 0) {
        std::printf(", next attempt in %s", FormatDuration(*t.next_attempt_in_seconds).c_str());
      }
      break;
    case RowState::kSent:
      std::printf("sent at %s to partition %s, offset %s", t.sent_at.c_str(),
                  t.partition ? std::to_string(*t.partition).c_str() : "?",
                  t.offset ? std::to_string(*t.offset).c_str() : "?");
      break;
    case RowState::kDeadLettered:
      std::printf("dead-lettered at %s: %s%s", t.dead_lettered_at.c_str(), t.reason.c_str(),
                  t.blocks_key ? " (its key waits behind it)" : "");
      break;
  }
  std::printf("\n  topic %s, key %s", Abbreviated(t.topic).c_str(),
              t.key ? ("\"" + Abbreviated(*t.key) + "\"").c_str() : "none");
  if (t.key_seq) std::printf(", outbox-seq %lld", static_cast<long long>(*t.key_seq));
  std::printf(", created %s", t.created_at.c_str());
  if (t.attempts > 0) std::printf(", %d failed attempts", t.attempts);
  std::printf("\n");
  if (t.state == RowState::kPending && t.last_error) {
    std::printf("  last error: %s\n", SafeText(*t.last_error, 300).c_str());
  }
  if (t.state == RowState::kDeadLettered) {
    std::printf("  error: %s\n  (outbox-relay dead-letters show %lld)\n",
                SafeText(t.error, 300).c_str(), static_cast<long long>(t.id));
  }
}

}  // namespace

int TraceCommand(const std::string& config_path, const TraceRequest& request) {
  std::optional<std::string> dsn = OperatorDsn(config_path);
  if (!dsn) return kExitBadConfig;
  std::vector<TracedRow> rows;
  if (request.id) {
    Result<TracedRow> row = TraceId(*dsn, *request.id);
    if (!row.ok()) return ReportFailure(row.status());
    rows.push_back(std::move(*row));
  } else {
    Result<std::vector<TracedRow>> found = TraceKey(*dsn, *request.key, request.limit);
    if (!found.ok()) return ReportFailure(found.status());
    rows = std::move(*found);
  }
  if (request.json) {
    json out = json::array();
    for (const TracedRow& row : rows) out.push_back(ToJson(row));
    std::cout << (request.id ? out[0] : out).dump(2) << '\n';
    return kExitOk;
  }
  if (rows.empty()) {
    std::printf("no rows of key \"%s\" in the outbox or the dead letters\n",
                Abbreviated(*request.key).c_str());
  }
  for (const TracedRow& row : rows) PrintText(row);
  return kExitOk;
}

}  // namespace outbox
