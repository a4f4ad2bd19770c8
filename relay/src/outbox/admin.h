// What an operator asks of the outbox: status, and the dead letters (list,
// show, requeue, purge). One connection per call; libpqxx stays in here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "core/backlog.h"

namespace outbox {

// Which dead letters an operator means; unset fields match everything.
struct DeadLetterFilter {
  std::vector<int64_t> ids;  // only these (empty: any)
  std::optional<std::string> topic;
  std::optional<std::string> key;
  std::optional<std::string> reason;
  std::optional<int64_t> id_from;                  // inclusive
  std::optional<int64_t> id_to;                    // inclusive
  std::optional<std::chrono::seconds> older_than;  // by dead_lettered_at

  bool empty() const {
    return ids.empty() && !topic && !key && !reason && !id_from && !id_to && !older_than;
  }
};

struct DeadLetterRow {
  int64_t id = 0;
  std::string topic;
  std::optional<std::string> key;
  std::string reason;
  std::string error;
  int attempts = 0;
  bool blocks_key = false;
  int64_t payload_bytes = 0;
  std::string created_at;        // ISO 8601, UTC
  std::string dead_lettered_at;  // ISO 8601, UTC
  // Filled by ShowDeadLetter only.
  std::optional<std::string> payload;
  std::string headers_json;
  std::string first_failed_at;
  std::string last_failed_at;
};

// A relay that shares the outbox (schema/0005), as the database sees it.
struct RelayInstance {
  std::string id;  // host:pid:random
  std::string host;
  int pid = 0;
  std::string started_at;   // ISO 8601, UTC
  bool alive = false;       // renewed within its lease
  std::vector<int> shards;  // held under a live lease
};

// One page of dead letters, and how many match in all.
struct DeadLetterPage {
  std::vector<DeadLetterRow> rows;
  int64_t total = 0;
};

struct OutboxStatus {
  Backlog backlog;
  int64_t sent_rows = 0;  // kept as sent (relay.on_ack: mark_sent)
  bool sent_rows_is_estimate = false;
  int64_t waiting_for_retry = 0;
  std::vector<std::pair<std::string, int64_t>> dead_letters_by_reason;
  int64_t blocked_keys = 0;
  std::vector<std::string> blocked_key_examples;  // up to 10
  std::vector<RelayInstance> instances;           // live ones first
  int shard_count = 0;
  std::vector<int> unowned_shards;  // no live lease: nobody publishes their rows
};

class OutboxAdmin {
 public:
  explicit OutboxAdmin(std::string dsn) : dsn_(std::move(dsn)) {}

  Result<OutboxStatus> ReadStatus() const;
  Result<DeadLetterPage> ListDeadLetters(const DeadLetterFilter& filter, int limit) const;
  Result<std::optional<DeadLetterRow>> ShowDeadLetter(int64_t id) const;
  // Moves matching dead letters back into the outbox with their original ids
  // (so the outbox-id header is unchanged and, under block_key, they go out
  // before the rows that waited behind them). Returns the ids.
  Result<std::vector<int64_t>> RequeueDeadLetters(const DeadLetterFilter& filter,
                                                  bool dry_run) const;
  // Deletes matching dead letters for good. Returns the ids.
  Result<std::vector<int64_t>> PurgeDeadLetters(const DeadLetterFilter& filter, bool dry_run) const;

 private:
  std::string dsn_;
};

}  // namespace outbox
