#include "core/audit_ledger.h"

#include <algorithm>
#include <climits>
#include <functional>

#include "common/text.h"

namespace outbox {
namespace {

constexpr int kChunkBits = 16;  // ids per chunk of the id set: 65,536
constexpr int64_t kChunkMask = (int64_t{1} << kChunkBits) - 1;

std::string Range(int64_t first, int64_t last) {
  return first == last ? std::to_string(first)
                       : std::to_string(first) + ".." + std::to_string(last);
}

std::string Where(const SentRowRecord& row) {
  return "row " + std::to_string(row.id) + " (marked sent to partition " +
         std::to_string(row.partition.value_or(-1)) + ", offset " +
         std::to_string(row.offset.value_or(-1)) + ")";
}

}  // namespace

void AuditLedger::Example(std::vector<std::string>& to, std::string text) {
  if (to.size() < kExamples) to.push_back(std::move(text));
}

bool AuditLedger::SeenBefore(int64_t id) {
  std::vector<uint64_t>& bits = ids_[id >> kChunkBits];
  if (bits.empty()) bits.resize((kChunkMask + 1) / 64);
  const int64_t at = id & kChunkMask;
  const uint64_t mask = uint64_t{1} << (at % 64);
  if (bits[at / 64] & mask) return true;
  bits[at / 64] |= mask;
  return false;
}

void AuditLedger::BeginPartition(int32_t partition, int64_t start, int64_t end, int64_t log_start,
                                 bool from_first_message) {
  partition_ = partition;
  end_ = end;
  log_start_ = std::max(log_start, start);
  from_first_message_ = from_first_message;
}

std::optional<SentRowRecord>& AuditLedger::PeekSent() {
  if (!next_sent_ && !sent_exhausted_ && sent_ != nullptr) {
    next_sent_ = sent_->Next();
    if (!next_sent_) sent_exhausted_ = true;
  }
  return next_sent_;
}

void AuditLedger::Missing(const SentRowRecord& row, const std::string& why) {
  ++findings_.sent_lost;
  Example(findings_.lost_examples, Where(row) + ": " + why);
}

void AuditLedger::ReconcileUpTo(int64_t offset, const AuditedMessage* at) {
  while (std::optional<SentRowRecord>& row = PeekSent()) {
    if (row->partition && *row->partition == partition_ && row->offset && *row->offset > offset) {
      return;  // a later message's
    }
    if (row->partition && *row->partition > partition_) return;  // a later partition's
    ++findings_.sent_rows;
    if (!row->partition || !row->offset) {
      ++findings_.sent_unrecorded;
    } else if (*row->partition < partition_) {
      Missing(*row, "the topic has no partition " + std::to_string(*row->partition));
    } else if (*row->offset < log_start_) {
      ++findings_.sent_expired;
    } else if (at != nullptr && *row->offset == at->offset) {
      if (at->id == row->id) {
        ++findings_.sent_found;
      } else {
        Missing(*row, "offset " + std::to_string(at->offset) + " holds " +
                          (at->id ? "outbox-id " + std::to_string(*at->id) : "no outbox-id"));
      }
    } else {
      Missing(*row, "no message at that offset");
    }
    row.reset();
  }
}

void AuditLedger::Observe(const AuditedMessage& m) {
  ++findings_.messages;
  if (sent_ != nullptr) ReconcileUpTo(m.offset, &m);
  bool duplicate = false;
  if (!m.id || m.malformed_header) {
    ++findings_.without_id;
  } else if (SeenBefore(*m.id)) {
    duplicate = true;
    ++findings_.duplicates;
    Example(findings_.duplicate_examples, "outbox-id " + std::to_string(*m.id) +
                                              " again at partition " + std::to_string(m.partition) +
                                              ", offset " + std::to_string(m.offset));
  } else {
    ++findings_.unique_ids;
  }
  if (!m.key || !m.seq) return;
  ++findings_.with_seq;
  const int64_t seq = *m.seq;
  auto [it, added] = keys_.try_emplace(std::hash<std::string>{}(*m.key));
  KeyState& key = it->second;
  if (added) {
    ++findings_.keys;
    key.example_key = Abbreviated(*m.key);
    // Reading from the middle of the history: this key's run starts here.
    if (!from_first_message_) key.last_seq = seq - 1;
  }
  if (seq > key.last_seq) {
    if (seq > key.last_seq + 1) key.missing.emplace_back(key.last_seq + 1, seq - 1);
    key.last_seq = seq;
    key.last_id = m.id.value_or(0);
    return;
  }
  // At or below the last number: a late one, a re-send, or a clash.
  for (size_t i = 0; i < key.missing.size(); ++i) {
    auto [first, last] = key.missing[i];
    if (seq < first || seq > last) continue;
    ++findings_.reorders;
    Example(findings_.reorder_examples,
            "key \"" + key.example_key + "\": outbox-seq " + std::to_string(seq) + " after " +
                std::to_string(key.last_seq) + " (partition " + std::to_string(m.partition) +
                ", offset " + std::to_string(m.offset) + ")");
    key.missing.erase(key.missing.begin() + static_cast<std::ptrdiff_t>(i));
    if (first < seq) key.missing.emplace_back(first, seq - 1);
    if (seq < last) key.missing.emplace_back(seq + 1, last);
    return;
  }
  if (!duplicate && m.id) {
    ++findings_.conflicts;
    Example(findings_.conflict_examples, "key \"" + key.example_key + "\": outbox-seq " +
                                             std::to_string(seq) + " again, on outbox-id " +
                                             std::to_string(*m.id));
  }
}

void AuditLedger::EndPartition() {
  if (sent_ == nullptr) return;
  ReconcileUpTo(end_ - 1, nullptr);
  // What is left of this partition lies at or beyond its end.
  while (std::optional<SentRowRecord>& row = PeekSent()) {
    if (!row->partition || *row->partition != partition_) return;
    ++findings_.sent_rows;
    Missing(*row, "beyond the partition's end (high watermark " + std::to_string(end_) + ")");
    row.reset();
  }
}

const AuditFindings& AuditLedger::Finish() {
  if (finished_) return findings_;
  finished_ = true;
  if (sent_ != nullptr) {
    // Past every partition read: each row left is of a partition not read.
    partition_ = INT32_MAX;
    ReconcileUpTo(INT64_MAX, nullptr);
  }
  for (auto& [hash, key] : keys_) {
    std::sort(key.missing.begin(), key.missing.end());
    for (const auto& [first, last] : key.missing) {
      findings_.gaps += last - first + 1;
      Example(findings_.gap_examples, "key \"" + key.example_key + "\": outbox-seq " +
                                          Range(first, last) + " never arrived (last seen " +
                                          std::to_string(key.last_seq) + ")");
    }
  }
  return findings_;
}

}  // namespace outbox
