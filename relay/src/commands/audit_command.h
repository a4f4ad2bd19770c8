// `outbox-relay audit`: reads topics independently of the relay and says
// whether anything committed to the outbox was lost on the way to a
// consumer: duplicates by outbox-id, per-key gaps and reorders by
// outbox-seq, and, with the sent trail (relay.on_ack: mark_sent), every row
// marked sent found at the partition and offset its delivery report gave.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace outbox {

struct AuditRequest {
  std::vector<std::string> topics;  // empty: kafka.topics
  // Where to start: a duration ago ("2h") or a timestamp the database reads
  // ("2026-12-01 10:00+00"); or an offset in every partition; else the
  // beginning of each partition.
  std::string since;
  std::optional<int64_t> from_offset;
  bool json = false;
  bool progress = false;  // also when stderr is not a terminal
  int stall_seconds = 30;
};

// 0: nothing lost; 1: something lost, or the audit could not finish.
int AuditCommand(const std::string& config_path, const AuditRequest& request);

}  // namespace outbox
