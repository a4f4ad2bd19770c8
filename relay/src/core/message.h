// What flows through the relay: an outbox row on its way to Kafka, and what
// the sink reports happened to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace outbox {

using SteadyClock = std::chrono::steady_clock;

// The headers the relay adds to every message (a row may not set any
// `outbox-` header): the row id, and its number among its key's rows.
inline constexpr const char* kIdHeader = "outbox-id";
inline constexpr const char* kSeqHeader = "outbox-seq";

struct OutboxMessage {
  int64_t id = 0;
  std::string topic;
  std::optional<std::string> key;      // nullopt = no key
  std::optional<std::string> payload;  // nullopt = tombstone
  // The row's `headers` object; the sink adds `outbox-id` itself.
  std::vector<std::pair<std::string, std::string>> headers;
  // The row's number among the rows of its key (schema/options/
  // per_key_sequence.sql), sent as header `outbox-seq`; nullopt = none.
  std::optional<int64_t> key_seq;
  // Seconds between the row's commit (with track_commit_timestamp on; else
  // created_at) and the read, by the database's clock.
  double age_at_read_seconds = 0;
  SteadyClock::time_point read_at{};
  // Row-specific delivery failures so far (relay-managed column).
  int attempts = 0;
  // Set when the row cannot be sent as it is (e.g. headers that are not a
  // JSON object of strings): a bounded reason code and the detail. Such a
  // row is never handed to the sink.
  std::string defect_reason;
  std::string defect;
};

enum class DeliveryKind {
  kDelivered,    // the broker acknowledged this message (acks=all)
  kRetriable,    // not delivered now; may succeed later as it is
  kRejected,     // can never succeed as it is (too large, invalid, ...)
  kFatal,        // the producer is unusable; the sink rebuilds it
  kNotReported,  // no report before the wait ended (shutdown): unknown
};

const char* DeliveryKindName(DeliveryKind kind);

// Why a message can never be delivered as it is.
struct Rejection {
  std::string reason;  // bounded code, e.g. "msg_size_too_large"
  std::string detail;  // for the operator
};

// The reasons the store gives a row it will not hand to the sink
// (OutboxMessage::defect_reason): bad headers, or a key + payload larger than
// the producer's message.max.bytes (the same label as the broker's own error).
inline constexpr const char* kInvalidHeaders = "invalid_headers";
inline constexpr const char* kReservedHeader = "reserved_header";
inline constexpr const char* kMessageTooLarge = "msg_size_too_large";
inline constexpr const char* kRowDefectReasons[] = {kInvalidHeaders, kReservedHeader,
                                                    kMessageTooLarge};
// A row whose own error (about its topic or partition) outlived
// relay.max_attempts.
inline constexpr const char* kMaxAttempts = "max_attempts";

struct DeliveryOutcome {
  DeliveryKind kind = DeliveryKind::kNotReported;
  // Short, bounded identifier usable as a metric label, e.g.
  // "msg_timed_out". Empty when delivered.
  std::string reason;
  // Human-readable detail for logs.
  std::string detail;
  // For retriable failures: true when the error is about this message's
  // topic or partition (authorization, unknown topic) rather than the
  // connection (timeouts, transport). Only such failures count towards
  // max_attempts; a connection problem is never a row's fault.
  bool blames_row = false;
  int32_t partition = -1;
  int64_t offset = -1;
  SteadyClock::time_point reported_at{};
};

}  // namespace outbox
