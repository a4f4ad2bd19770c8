// What `outbox-relay audit` concludes from one topic, read independently of
// the relay: duplicates (by outbox-id), per-key gaps and reorders (by
// outbox-seq), and, with the outbox's sent trail (relay.on_ack: mark_sent),
// whether every row marked sent is in the topic where its delivery report
// said. Pure logic: the reading is done by adapters (sink/topic_reader,
// outbox/sent_rows) that feed it in (partition, offset) order.
//
// Memory: per key, its last number and any open gaps; one bit per id in the
// range of ids read (10M ids: 1.25 MB). Never one entry per message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace outbox {

// A message as the audit sees it.
struct AuditedMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<int64_t> id;      // outbox-id
  std::optional<int64_t> seq;     // outbox-seq
  bool malformed_header = false;  // an outbox-id or outbox-seq that is not a number
};

// A row of the outbox marked sent: where its delivery report put it.
struct SentRowRecord {
  int64_t id = 0;
  std::optional<int32_t> partition;
  std::optional<int64_t> offset;
};

// Rows marked sent, in (partition, offset) order; unknown positions first.
class SentRowSource {
 public:
  virtual ~SentRowSource() = default;
  virtual std::optional<SentRowRecord> Next() = 0;
};

struct AuditFindings {
  int64_t messages = 0;
  int64_t unique_ids = 0;
  int64_t duplicates = 0;  // messages whose outbox-id was seen before
  int64_t without_id = 0;  // no (or a malformed) outbox-id header
  // Per-key sequence (only messages with outbox-seq).
  int64_t with_seq = 0;
  int64_t keys = 0;
  int64_t gaps = 0;       // numbers never seen although a later one was
  int64_t reorders = 0;   // a number seen after a higher one of its key
  int64_t conflicts = 0;  // one key's number on two different ids
  // Reconciliation (with a sent trail).
  bool reconciled = false;
  int64_t sent_rows = 0;
  int64_t sent_found = 0;
  int64_t sent_lost = 0;        // not at their recorded offset: lost after the ack
  int64_t sent_expired = 0;     // below the partition's log start: not checkable
  int64_t sent_unrecorded = 0;  // marked sent without a partition/offset
  // The first examples of each finding, for people.
  std::vector<std::string> duplicate_examples;
  std::vector<std::string> gap_examples;
  std::vector<std::string> reorder_examples;
  std::vector<std::string> conflict_examples;
  std::vector<std::string> lost_examples;
  // Something a consumer would miss.
  bool lost() const { return gaps > 0 || sent_lost > 0; }
};

class AuditLedger {
 public:
  static constexpr size_t kExamples = 10;

  // `sent`: the rows marked sent for this topic, or null (no reconciliation).
  explicit AuditLedger(SentRowSource* sent) : sent_(sent) { findings_.reconciled = sent; }

  // Before a partition's messages: read from `start` up to `end` (its high
  // watermark when the audit began); `log_start` is its lowest offset.
  // `from_first_message`: the partition's history is complete here, so
  // every key's numbers must start at 1.
  void BeginPartition(int32_t partition, int64_t start, int64_t end, int64_t log_start,
                      bool from_first_message);
  void Observe(const AuditedMessage& message);
  // After its last message.
  void EndPartition();
  // After every partition: open gaps and sent rows not found are final.
  const AuditFindings& Finish();

 private:
  struct KeyState {
    int64_t last_seq = 0;
    int64_t last_id = 0;
    // Numbers below last_seq not seen yet: [first, last] ranges.
    std::vector<std::pair<int64_t, int64_t>> missing;
    std::string example_key;  // abbreviated, for examples
  };
  bool SeenBefore(int64_t id);  // and remembers it
  void CheckSequence(const AuditedMessage& m);
  // Sent rows up to (partition_, offset): missing unless at `offset` itself.
  void ReconcileUpTo(int64_t offset, const AuditedMessage* at);
  void Missing(const SentRowRecord& row, const std::string& why);
  std::optional<SentRowRecord>& PeekSent();
  static void Example(std::vector<std::string>& to, std::string text);

  SentRowSource* sent_;
  std::optional<SentRowRecord> next_sent_;
  bool sent_exhausted_ = false;
  AuditFindings findings_;
  std::unordered_map<uint64_t, KeyState> keys_;             // by hash of the key
  std::unordered_map<int64_t, std::vector<uint64_t>> ids_;  // 65,536-id chunks of bits
  int32_t partition_ = -1;
  int64_t end_ = 0;
  int64_t log_start_ = 0;
  bool from_first_message_ = false;
  bool finished_ = false;
};

}  // namespace outbox
