// The audit's conclusions from a stream of messages and a sent trail.
#include "core/audit_ledger.h"

#include <gtest/gtest.h>

#include <deque>

namespace outbox {
namespace {

class FakeSentRows : public SentRowSource {
 public:
  explicit FakeSentRows(std::deque<SentRowRecord> rows) : rows_(std::move(rows)) {}
  std::optional<SentRowRecord> Next() override {
    if (rows_.empty()) return std::nullopt;
    SentRowRecord row = rows_.front();
    rows_.pop_front();
    return row;
  }

 private:
  std::deque<SentRowRecord> rows_;
};

AuditedMessage Message(int32_t partition, int64_t offset, const char* key, int64_t id,
                       std::optional<int64_t> seq = std::nullopt) {
  AuditedMessage m;
  m.partition = partition;
  m.offset = offset;
  if (key) m.key = key;
  m.id = id;
  m.seq = seq;
  return m;
}

TEST(AuditLedgerTest, ACleanStreamHasNoFindings) {
  AuditLedger ledger(nullptr);
  ledger.BeginPartition(0, 0, 4, 0, true);
  ledger.Observe(Message(0, 0, "a", 1, 1));
  ledger.Observe(Message(0, 1, "b", 2, 1));
  ledger.Observe(Message(0, 2, "a", 3, 2));
  ledger.Observe(Message(0, 3, nullptr, 4));
  ledger.EndPartition();
  const AuditFindings& f = ledger.Finish();
  EXPECT_EQ(f.messages, 4);
  EXPECT_EQ(f.unique_ids, 4);
  EXPECT_EQ(f.duplicates, 0);
  EXPECT_EQ(f.keys, 2);
  EXPECT_EQ(f.with_seq, 3);
  EXPECT_EQ(f.gaps, 0);
  EXPECT_EQ(f.reorders, 0);
  EXPECT_FALSE(f.lost());
  EXPECT_FALSE(f.reconciled);
}

TEST(AuditLedgerTest, AReSendAfterACrashIsCountedAsDuplicatesNotAsGapsOrReorders) {
  AuditLedger ledger(nullptr);
  ledger.BeginPartition(0, 0, 9, 0, true);
  int64_t offset = 0;
  for (int64_t seq : {1, 2, 3, 4, 5, 3, 4, 5, 6}) {
    ledger.Observe(Message(0, offset++, "a", 100 + seq, seq));
  }
  ledger.EndPartition();
  const AuditFindings& f = ledger.Finish();
  EXPECT_EQ(f.messages, 9);
  EXPECT_EQ(f.unique_ids, 6);
  EXPECT_EQ(f.duplicates, 3);
  ASSERT_FALSE(f.duplicate_examples.empty());
  EXPECT_EQ(f.duplicate_examples[0], "outbox-id 103 again at partition 0, offset 5");
  EXPECT_EQ(f.gaps, 0);
  EXPECT_EQ(f.reorders, 0);
  EXPECT_EQ(f.conflicts, 0);
}

TEST(AuditLedgerTest, AMissingNumberIsAGapAndALateOneAReorder) {
  AuditLedger ledger(nullptr);
  ledger.BeginPartition(1, 0, 6, 0, true);
  ledger.Observe(Message(1, 0, "a", 1, 1));
  ledger.Observe(Message(1, 1, "a", 2, 2));
  ledger.Observe(Message(1, 2, "a", 5, 5));  // 3 and 4 not yet
  ledger.Observe(Message(1, 3, "a", 3, 3));  // 3 late: a reorder
  ledger.Observe(Message(1, 4, "b", 9, 2));  // b starts at 2: 1 missing
  ledger.EndPartition();
  const AuditFindings& f = ledger.Finish();
  EXPECT_EQ(f.gaps, 2);  // a:4, b:1
  EXPECT_EQ(f.reorders, 1);
  EXPECT_TRUE(f.lost());
  ASSERT_EQ(f.reorder_examples.size(), 1u);
  EXPECT_EQ(f.reorder_examples[0], "key \"a\": outbox-seq 3 after 5 (partition 1, offset 3)");
  ASSERT_EQ(f.gap_examples.size(), 2u);
}

TEST(AuditLedgerTest, ReadingFromTheMiddleStartsEachKeysRunAtItsFirstNumber) {
  AuditLedger ledger(nullptr);
  ledger.BeginPartition(0, 500, 502, 0, false);
  ledger.Observe(Message(0, 500, "a", 41, 41));
  ledger.Observe(Message(0, 501, "a", 42, 42));
  ledger.EndPartition();
  EXPECT_EQ(ledger.Finish().gaps, 0);
}

TEST(AuditLedgerTest, TheSameNumberOnTwoIdsIsAConflict) {
  AuditLedger ledger(nullptr);
  ledger.BeginPartition(0, 0, 2, 0, true);
  ledger.Observe(Message(0, 0, "a", 1, 1));
  ledger.Observe(Message(0, 1, "a", 2, 1));
  ledger.EndPartition();
  EXPECT_EQ(ledger.Finish().conflicts, 1);
}

TEST(AuditLedgerTest, ReconcilesEverySentRowWithTheMessageAtItsOffset) {
  FakeSentRows sent({
      {7, std::nullopt, std::nullopt},  // marked without a position
      {1, 0, 0},                        // found
      {2, 0, 1},                        // offset 1 holds another id
      {3, 0, 3},                        // no message at offset 3 (the log skips it)
      {4, 0, 4},                        // found
      {5, 0, 9},                        // beyond the end
      {6, 1, 0},                        // below partition 1's log start
      {8, 1, 5},                        // found
      {9, 3, 0},                        // a partition the topic lacks
  });
  AuditLedger ledger(&sent);
  ledger.BeginPartition(0, 0, 5, 0, true);
  ledger.Observe(Message(0, 0, "a", 1));
  ledger.Observe(Message(0, 1, "a", 22));
  ledger.Observe(Message(0, 2, "a", 23));
  ledger.Observe(Message(0, 4, "a", 4));
  ledger.EndPartition();
  ledger.BeginPartition(1, 2, 6, 2, false);
  ledger.Observe(Message(1, 5, "b", 8));
  ledger.EndPartition();
  const AuditFindings& f = ledger.Finish();
  EXPECT_TRUE(f.reconciled);
  EXPECT_EQ(f.sent_rows, 9);
  EXPECT_EQ(f.sent_found, 3);
  EXPECT_EQ(f.sent_unrecorded, 1);
  EXPECT_EQ(f.sent_expired, 1);
  EXPECT_EQ(f.sent_lost, 4);
  EXPECT_TRUE(f.lost());
  ASSERT_EQ(f.lost_examples.size(), 4u);
  EXPECT_EQ(f.lost_examples[0],
            "row 2 (marked sent to partition 0, offset 1): offset 1 holds outbox-id 22");
  EXPECT_EQ(f.lost_examples[1],
            "row 3 (marked sent to partition 0, offset 3): no message at that offset");
  EXPECT_EQ(f.lost_examples[2],
            "row 5 (marked sent to partition 0, offset 9): beyond the partition's end (high "
            "watermark 5)");
  EXPECT_EQ(f.lost_examples[3],
            "row 9 (marked sent to partition 3, offset 0): the topic has no partition 3");
}

TEST(AuditLedgerTest, IdsFarApartCostOneChunkEach) {
  AuditLedger ledger(nullptr);
  ledger.BeginPartition(0, 0, 3, 0, true);
  ledger.Observe(Message(0, 0, nullptr, 1));
  ledger.Observe(Message(0, 1, nullptr, int64_t{1} << 40));
  ledger.Observe(Message(0, 2, nullptr, int64_t{1} << 40));
  ledger.EndPartition();
  const AuditFindings& f = ledger.Finish();
  EXPECT_EQ(f.unique_ids, 2);
  EXPECT_EQ(f.duplicates, 1);
}

}  // namespace
}  // namespace outbox
