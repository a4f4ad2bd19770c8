// The inbox's decision logic (consumer/src/processor) against a fake store
// with the real one's transaction rules: nothing a transaction did is
// visible unless it committed.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "envelope.h"
#include "processor.h"

namespace outbox::inbox {
namespace {

struct DeadLetterRecord {
  std::optional<int64_t> outbox_id;
  std::string reason, error;
  int attempts = 0;
};

// What the fake database holds.
struct InboxState {
  std::map<int64_t, RowOutcome> rows;
  std::map<std::string, int64_t> last_seq;
  std::map<std::pair<std::string, int64_t>, Message> held;
  std::vector<DeadLetterRecord> dead_letters;
  std::vector<int64_t> applied;  // the handler's committed effect, in order
};

// A handler failure the fake's Apply reports as transient (SQLSTATE 40001).
struct SerializationFailure : std::runtime_error {
  SerializationFailure() : std::runtime_error("could not serialize access") {}
};

class FakeInbox : public InboxStore {
 public:
  std::unique_ptr<InboxTransaction> Begin() override;

  InboxState state;
  std::function<void(const Message&)> handler = [](const Message&) {};
  int fail_begins = 0;   // the next N Begin()s throw StoreUnavailable
  int fail_commits = 0;  // the next N Commit()s throw StoreUnavailable
  int commits = 0;
};

class FakeTransaction : public InboxTransaction {
 public:
  explicit FakeTransaction(FakeInbox& inbox) : inbox_(inbox), state_(inbox.state) {}

  bool Record(const Message& m, RowOutcome outcome) override {
    return state_.rows.emplace(m.outbox_id, outcome).second;
  }
  void SetOutcome(int64_t id, RowOutcome outcome) override { state_.rows.at(id) = outcome; }
  std::optional<int64_t> LockLastSeq(const std::string& key) override {
    auto it = state_.last_seq.find(key);
    if (it == state_.last_seq.end()) return std::nullopt;
    return it->second;
  }
  void SetLastSeq(const std::string& key, int64_t seq) override { state_.last_seq[key] = seq; }
  bool Hold(const Message& m) override {
    return state_.held.emplace(std::pair(*m.key, *m.outbox_seq), m).second;
  }
  std::optional<Message> TakeHeld(const std::string& key, int64_t seq) override {
    auto it = state_.held.find({key, seq});
    if (it == state_.held.end()) return std::nullopt;
    Message m = it->second;
    state_.held.erase(it);
    return m;
  }
  void DeadLetter(const Message&, std::optional<int64_t> id, std::string_view reason,
                  std::string_view error, int attempts) override {
    state_.dead_letters.push_back({id, std::string(reason), std::string(error), attempts});
  }
  void Apply(const Message& m) override {
    try {
      inbox_.handler(m);
    } catch (const SerializationFailure& e) {
      throw HandlerFailed(e.what(), true);
    } catch (const std::exception& e) {
      throw HandlerFailed(e.what(), false);
    }
    state_.applied.push_back(m.outbox_id);
  }
  void BeginMessage() override { savepoint_ = state_; }
  void EndMessage(bool keep) override {
    if (!keep) state_ = *savepoint_;
    savepoint_.reset();
  }
  void Commit() override {
    if (inbox_.fail_commits > 0) {
      --inbox_.fail_commits;
      throw StoreUnavailable("connection lost during commit");
    }
    inbox_.state = state_;
    ++inbox_.commits;
  }

 private:
  FakeInbox& inbox_;
  InboxState state_;  // the transaction's view; the store's on commit
  std::optional<InboxState> savepoint_;
};

std::unique_ptr<InboxTransaction> FakeInbox::Begin() {
  if (fail_begins > 0) {
    --fail_begins;
    throw StoreUnavailable("connection refused");
  }
  return std::make_unique<FakeTransaction>(*this);
}

struct RecordedEvents : ProcessorEvents {
  void OnDecided(const Message& m, Outcome outcome) override {
    decided.emplace_back(m.outbox_id, outcome);
  }
  void OnDeadLettered(const Message&, const std::string& reason, const std::string&) override {
    dead_letter_reasons.push_back(reason);
  }
  void OnSequenceBreak(const SequenceBreak& event) override { breaks.push_back(event); }
  void OnHandlerError(const Message&, const std::string& error, int attempt,
                      bool transient) override {
    handler_errors.push_back({error, attempt, transient});
  }
  void OnStoreError(const std::string&) override { ++store_errors; }

  struct HandlerError {
    std::string error;
    int attempt;
    bool transient;
  };
  std::vector<std::pair<int64_t, Outcome>> decided;
  std::vector<std::string> dead_letter_reasons;
  std::vector<SequenceBreak> breaks;
  std::vector<HandlerError> handler_errors;
  int store_errors = 0;
};

Message Keyed(int64_t id, std::string key, std::optional<int64_t> seq) {
  Message m;
  m.topic = "orders";
  m.partition = 0;
  m.offset = id % 1'000'000;
  m.key = std::move(key);
  m.payload = "{}";
  m.headers = {{"event-type", "OrderPlaced"}, {kOutboxIdHeader, std::to_string(id)}};
  if (seq) m.headers.emplace_back(kOutboxSeqHeader, std::to_string(*seq));
  return m;
}

Message Plain(int64_t id) {
  Message m = Keyed(id, "", std::nullopt);
  m.key.reset();
  return m;
}

class ProcessorTest : public ::testing::Test {
 protected:
  Outcome Process(Message m) {
    Processor processor(inbox_, policy_, wait_, events_);
    return processor.Process(std::move(m));
  }
  size_t ProcessBatch(std::vector<Message> batch) {
    Processor processor(inbox_, policy_, wait_, events_);
    return processor.ProcessBatch(std::move(batch));
  }

  FakeInbox inbox_;
  ProcessorPolicy policy_;
  std::vector<std::chrono::milliseconds> waits_;
  bool stopping_ = false;
  Wait wait_ = [this](std::chrono::milliseconds delay) {
    waits_.push_back(delay);
    return !stopping_;
  };
  RecordedEvents events_;
};

TEST_F(ProcessorTest, AppliesEachOutboxIdOnceAndCountsTheRepeat) {
  EXPECT_EQ(Process(Plain(1)), Outcome::kApplied);
  EXPECT_EQ(Process(Plain(2)), Outcome::kApplied);
  Message again = Plain(1);
  again.offset = 999;  // a redelivery may sit at another offset (the relay sent it twice)
  EXPECT_EQ(Process(again), Outcome::kDuplicate);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(events_.decided.back(), std::pair(int64_t{1}, Outcome::kDuplicate));
}

TEST_F(ProcessorTest, AMessageWithoutAUsableOutboxIdIsDeadLetteredNeverApplied) {
  struct Case {
    Headers headers;
    std::optional<std::string> key;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {{}, "k", "missing_outbox_id"},
      {{{"Outbox-Id", "5"}}, "k", "missing_outbox_id"},  // the relay's names are lower case
      {{{"outbox-id", ""}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", "abc"}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", "-1"}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", "0"}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", "007"}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", " 7"}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", "9223372036854775808"}}, "k", "malformed_outbox_id"},  // 2^63
      {{{"outbox-id", std::string("7\0", 2)}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", "\xff\xfe"}}, "k", "malformed_outbox_id"},
      {{{"outbox-id", "7"}, {"outbox-id", "8"}}, "k", "duplicate_outbox_id"},
      {{{"outbox-id", "7"}, {"outbox-seq", "x"}}, "k", "malformed_outbox_seq"},
      {{{"outbox-id", "7"}, {"outbox-seq", "1"}, {"outbox-seq", "2"}}, "k", "duplicate_outbox_seq"},
      {{{"outbox-id", "7"}, {"outbox-seq", "1"}}, std::nullopt, "outbox_seq_without_key"},
  };
  for (const Case& c : cases) {
    Message m;
    m.topic = "orders";
    m.key = c.key;
    m.headers = c.headers;
    EXPECT_EQ(Process(m), Outcome::kDeadLettered) << c.reason;
    ASSERT_FALSE(inbox_.state.dead_letters.empty());
    EXPECT_EQ(inbox_.state.dead_letters.back().reason, c.reason);
    EXPECT_EQ(inbox_.state.dead_letters.back().outbox_id, std::nullopt);
  }
  EXPECT_TRUE(inbox_.state.applied.empty());
  EXPECT_TRUE(inbox_.state.rows.empty());
  // The partition moves on: the next good message is applied.
  EXPECT_EQ(Process(Plain(7)), Outcome::kApplied);
}

TEST_F(ProcessorTest, TheLargestIdAndNumberAreAcceptedAndNothingFollowsTheLargestNumber) {
  policy_.on_gap = OnGap::kHold;
  EXPECT_EQ(Process(Keyed(INT64_MAX, "k", INT64_MAX)), Outcome::kApplied);
  // Another message on the key: at or below the last (there is no higher number).
  EXPECT_EQ(Process(Keyed(5, "k", INT64_MAX)), Outcome::kDeadLettered);
  ASSERT_EQ(events_.breaks.size(), 1u);
  EXPECT_EQ(events_.breaks[0].kind, SequenceBreak::Kind::kReorder);
  policy_.on_gap = OnGap::kContinue;
  EXPECT_EQ(Process(Keyed(6, "k", 1)), Outcome::kApplied);
  EXPECT_EQ(inbox_.state.last_seq["k"], INT64_MAX);
}

TEST_F(ProcessorTest, AGapIsReportedWithItsKeyAndUnderContinueApplied) {
  Process(Keyed(1, "customer-7", 1));
  Process(Keyed(2, "customer-7", 2));
  EXPECT_EQ(Process(Keyed(4, "customer-7", 4)), Outcome::kApplied);
  ASSERT_EQ(events_.breaks.size(), 1u);
  const SequenceBreak& gap = events_.breaks[0];
  EXPECT_EQ(gap.kind, SequenceBreak::Kind::kGap);
  EXPECT_EQ(gap.key, "customer-7");
  EXPECT_EQ(gap.expected, 3);
  EXPECT_EQ(gap.got, 4);
  EXPECT_EQ(gap.outbox_id, 4);
  EXPECT_FALSE(gap.held);
  EXPECT_EQ(inbox_.state.last_seq["customer-7"], 4);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2, 4}));
}

TEST_F(ProcessorTest, ALateNumberIsReportedAsAReorderAndUnderContinueApplied) {
  Process(Keyed(1, "k", 1));
  Process(Keyed(3, "k", 3));  // gap: 2 missing
  EXPECT_EQ(Process(Keyed(2, "k", 2)), Outcome::kApplied);
  ASSERT_EQ(events_.breaks.size(), 2u);
  EXPECT_EQ(events_.breaks[1].kind, SequenceBreak::Kind::kReorder);
  EXPECT_EQ(events_.breaks[1].got, 2);
  EXPECT_EQ(inbox_.state.last_seq["k"], 3);  // never moves back
}

TEST_F(ProcessorTest, TheFirstNumberOfAKeyNotSeenBeforeIsWhereItStarts) {
  EXPECT_EQ(Process(Keyed(50, "k", 17)), Outcome::kApplied);
  EXPECT_TRUE(events_.breaks.empty());
  EXPECT_EQ(Process(Keyed(51, "k", 18)), Outcome::kApplied);
  EXPECT_TRUE(events_.breaks.empty());
}

TEST_F(ProcessorTest, KeysAreIndependent) {
  Process(Keyed(1, "a", 1));
  Process(Keyed(2, "b", 1));
  Process(Keyed(3, "a", 2));
  Process(Keyed(4, "b", 2));
  EXPECT_TRUE(events_.breaks.empty());
}

TEST_F(ProcessorTest, HoldKeepsTheKeysLaterNumbersUntilTheMissingOneArrives) {
  policy_.on_gap = OnGap::kHold;
  Process(Keyed(1, "k", 1));
  EXPECT_EQ(Process(Keyed(3, "k", 3)), Outcome::kHeld);
  EXPECT_EQ(Process(Keyed(4, "k", 4)), Outcome::kHeld);
  EXPECT_EQ(Process(Keyed(10, "other", 1)), Outcome::kApplied);  // other keys go on
  EXPECT_EQ(inbox_.state.rows.at(3), RowOutcome::kHeld);
  ASSERT_EQ(events_.breaks.size(), 2u);
  EXPECT_TRUE(events_.breaks[0].held);
  EXPECT_EQ(events_.breaks[0].expected, 2);

  EXPECT_EQ(Process(Keyed(2, "k", 2)), Outcome::kApplied);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 10, 2, 3, 4}));
  EXPECT_TRUE(inbox_.state.held.empty());
  EXPECT_EQ(inbox_.state.rows.at(3), RowOutcome::kApplied);
  EXPECT_EQ(inbox_.state.last_seq["k"], 4);
  // The released ones are reported as applied too.
  int applied = 0;
  for (const auto& [id, outcome] : events_.decided) applied += outcome == Outcome::kApplied;
  EXPECT_EQ(applied, 5);
}

TEST_F(ProcessorTest, AnOperatorSkipsAHeldGapByMovingTheKeysLastNumber) {
  policy_.on_gap = OnGap::kHold;
  Process(Keyed(1, "k", 1));
  Process(Keyed(3, "k", 3));
  inbox_.state.last_seq["k"] = 2;  // docs/inbox.md: "skip a gap"
  EXPECT_EQ(Process(Keyed(4, "k", 4)), Outcome::kApplied);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 3, 4}));
}

TEST_F(ProcessorTest, HoldDeadLettersAReorderAndAConflictingNumber) {
  policy_.on_gap = OnGap::kHold;
  Process(Keyed(1, "k", 1));
  Process(Keyed(2, "k", 2));
  EXPECT_EQ(Process(Keyed(9, "k", 2)), Outcome::kDeadLettered);
  EXPECT_EQ(inbox_.state.dead_letters.back().reason, "sequence_reorder");
  EXPECT_EQ(inbox_.state.rows.at(9), RowOutcome::kDeadLettered);
  Process(Keyed(5, "k", 5));                                     // held
  EXPECT_EQ(Process(Keyed(6, "k", 5)), Outcome::kDeadLettered);  // 5 again, another id
  EXPECT_EQ(inbox_.state.dead_letters.back().reason, "sequence_conflict");
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2}));
}

TEST_F(ProcessorTest, AThrowingHandlerIsRetriedAndItsFailedAttemptsLeaveNothing) {
  int calls = 0;
  inbox_.handler = [&](const Message&) {
    if (++calls <= 2) throw std::runtime_error("downstream said no");
  };
  policy_.retry_backoff = std::chrono::milliseconds(100);
  EXPECT_EQ(Process(Keyed(1, "k", 1)), Outcome::kApplied);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1}));
  ASSERT_EQ(events_.handler_errors.size(), 2u);
  EXPECT_EQ(events_.handler_errors[1].attempt, 2);
  EXPECT_EQ(waits_, (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(100),
                                                            std::chrono::milliseconds(200)}));
  EXPECT_EQ(inbox_.commits, 1);  // the failed attempts committed nothing
}

TEST_F(ProcessorTest, AHandlerThatKeepsThrowingIsDeadLetteredNotRecordedAsApplied) {
  inbox_.handler = [](const Message&) { throw std::runtime_error("bad order"); };
  policy_.max_attempts = 3;
  EXPECT_EQ(Process(Keyed(1, "k", 1)), Outcome::kDeadLettered);
  EXPECT_EQ(events_.handler_errors.size(), 3u);
  EXPECT_TRUE(inbox_.state.applied.empty());
  EXPECT_EQ(inbox_.state.rows.at(1), RowOutcome::kDeadLettered);
  ASSERT_EQ(inbox_.state.dead_letters.size(), 1u);
  EXPECT_EQ(inbox_.state.dead_letters[0].reason, "handler_failed");
  EXPECT_EQ(inbox_.state.dead_letters[0].error, "bad order");
  EXPECT_EQ(inbox_.state.dead_letters[0].attempts, 3);
  EXPECT_EQ(inbox_.state.dead_letters[0].outbox_id, 1);
  // Redelivered, it is not tried again.
  inbox_.handler = [](const Message&) {};
  EXPECT_EQ(Process(Keyed(1, "k", 1)), Outcome::kDuplicate);
  EXPECT_TRUE(inbox_.state.applied.empty());
}

// Its number was never applied: the key's next message shows the gap, and
// under hold waits for an operator, as docs/inbox.md says.
TEST_F(ProcessorTest, ADeadLetteredKeyedMessageLeavesAGapAtTheKeysNextMessage) {
  policy_.on_gap = OnGap::kHold;
  policy_.max_attempts = 1;
  inbox_.handler = [](const Message& m) {
    if (m.outbox_id == 2) throw std::runtime_error("bad order");
  };
  Process(Keyed(1, "k", 1));
  EXPECT_EQ(Process(Keyed(2, "k", 2)), Outcome::kDeadLettered);
  EXPECT_EQ(Process(Keyed(3, "k", 3)), Outcome::kHeld);
  ASSERT_EQ(events_.breaks.size(), 1u);
  EXPECT_EQ(events_.breaks[0].expected, 2);
  inbox_.state.last_seq["k"] = 2;  // the operator skips it
  EXPECT_EQ(Process(Keyed(4, "k", 4)), Outcome::kApplied);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 3, 4}));
}

TEST_F(ProcessorTest, ZeroAttemptsMeansTheHandlerIsRetriedForEver) {
  int calls = 0;
  inbox_.handler = [&](const Message&) {
    if (++calls <= 40) throw std::runtime_error("not yet");
  };
  policy_.max_attempts = 0;
  policy_.max_retry_backoff = std::chrono::milliseconds(1000);
  EXPECT_EQ(Process(Plain(1)), Outcome::kApplied);
  EXPECT_EQ(calls, 41);
  EXPECT_EQ(waits_.back(), std::chrono::milliseconds(1000));  // capped
}

TEST_F(ProcessorTest, SerializationFailuresAreRetriedWithoutCounting) {
  int calls = 0;
  inbox_.handler = [&](const Message&) {
    if (++calls <= 10) throw SerializationFailure();
  };
  policy_.max_attempts = 2;
  EXPECT_EQ(Process(Plain(1)), Outcome::kApplied);
  EXPECT_EQ(events_.handler_errors.size(), 10u);
  EXPECT_TRUE(events_.handler_errors[9].transient);
  EXPECT_TRUE(inbox_.state.dead_letters.empty());
}

TEST_F(ProcessorTest, ALostDatabaseIsWaitedOutAndNeverCountsAsAnAttempt) {
  inbox_.fail_begins = 3;
  inbox_.fail_commits = 2;
  policy_.max_attempts = 1;
  EXPECT_EQ(Process(Keyed(1, "k", 1)), Outcome::kApplied);
  EXPECT_EQ(events_.store_errors, 5);
  EXPECT_TRUE(events_.handler_errors.empty());
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1}));
}

TEST_F(ProcessorTest, ABreakIsReportedOnceEvenWhenItsFirstCommitFailed) {
  Process(Keyed(1, "k", 1));
  inbox_.fail_commits = 1;
  Process(Keyed(3, "k", 3));
  EXPECT_EQ(events_.breaks.size(), 1u);
}

TEST_F(ProcessorTest, StoppingWhileWaitingLeavesTheMessageUndecided) {
  inbox_.handler = [](const Message&) { throw std::runtime_error("no"); };
  stopping_ = true;
  EXPECT_EQ(Process(Plain(1)), Outcome::kStopped);
  EXPECT_TRUE(inbox_.state.rows.empty());
  inbox_.handler = [](const Message&) {};
  inbox_.fail_begins = 1;
  EXPECT_EQ(Process(Plain(1)), Outcome::kStopped);
  EXPECT_TRUE(inbox_.state.rows.empty());
}

// --- batches: one transaction, a savepoint per message ------------------------

TEST_F(ProcessorTest, ABatchIsSettledInOneTransactionInOrder) {
  std::vector<Message> batch;
  for (int64_t id = 1; id <= 5; ++id) batch.push_back(Keyed(id, "k", id));
  EXPECT_EQ(ProcessBatch(std::move(batch)), 5u);
  EXPECT_EQ(inbox_.commits, 1);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(inbox_.state.last_seq["k"], 5);
  EXPECT_EQ(events_.decided.size(), 5u);
}

TEST_F(ProcessorTest, AFailingHandlerInABatchRollsBackOnlyItsOwnMessage) {
  int calls_for_3 = 0;
  inbox_.handler = [&](const Message& m) {
    if (m.outbox_id == 3 && ++calls_for_3 == 1) throw std::runtime_error("once");
  };
  std::vector<Message> batch;
  for (int64_t id = 1; id <= 5; ++id) batch.push_back(Keyed(id, "k", id));
  EXPECT_EQ(ProcessBatch(std::move(batch)), 5u);
  // 1-2 together, 3 alone (its retry), 4-5 together.
  EXPECT_EQ(inbox_.commits, 3);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  ASSERT_EQ(events_.handler_errors.size(), 1u);
  EXPECT_EQ(events_.handler_errors[0].attempt, 1);
  EXPECT_TRUE(events_.breaks.empty());
}

TEST_F(ProcessorTest, AMessageThatKeepsFailingInABatchUsesItsAttemptsThere) {
  int calls_for_2 = 0;
  inbox_.handler = [&](const Message& m) {
    if (m.outbox_id == 2) {
      ++calls_for_2;
      throw std::runtime_error("never");
    }
  };
  policy_.max_attempts = 2;
  std::vector<Message> batch = {Plain(1), Plain(2), Plain(3)};
  EXPECT_EQ(ProcessBatch(std::move(batch)), 3u);
  EXPECT_EQ(calls_for_2, 2);  // the batch's run counts as the first
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 3}));
  ASSERT_EQ(inbox_.state.dead_letters.size(), 1u);
  EXPECT_EQ(inbox_.state.dead_letters[0].attempts, 2);
}

TEST_F(ProcessorTest, ABatchLostWithItsCommitIsDoneAgainWhole) {
  inbox_.fail_commits = 1;
  std::vector<Message> batch = {Plain(1), Plain(2), Plain(3)};
  EXPECT_EQ(ProcessBatch(std::move(batch)), 3u);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(events_.store_errors, 1);
  EXPECT_EQ(events_.decided.size(), 3u);  // reported once, after the commit that held
}

TEST_F(ProcessorTest, ABatchDropsARepeatInsideItAndDeadLettersADefect) {
  Message no_id = Plain(9);
  no_id.headers.clear();
  std::vector<Message> batch = {Plain(1), no_id, Plain(1), Plain(2)};
  EXPECT_EQ(ProcessBatch(std::move(batch)), 4u);
  EXPECT_EQ(inbox_.commits, 1);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(inbox_.state.dead_letters.size(), 1u);
  EXPECT_EQ(inbox_.state.dead_letters[0].reason, "missing_outbox_id");
  EXPECT_EQ(events_.decided[2].second, Outcome::kDuplicate);
}

TEST_F(ProcessorTest, StoppingDuringABatchSaysHowManyAreSettled) {
  inbox_.handler = [](const Message& m) {
    if (m.outbox_id == 3) throw std::runtime_error("no");
  };
  stopping_ = true;
  std::vector<Message> batch = {Plain(1), Plain(2), Plain(3), Plain(4)};
  EXPECT_EQ(ProcessBatch(std::move(batch)), 2u);
  EXPECT_EQ(inbox_.state.applied, (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace outbox::inbox
