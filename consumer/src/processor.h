// The decision for one message: dead letter, duplicate, hold or apply; the
// sequence check; the handler's retries. Pure logic over InboxStore, so the
// unit tests drive it with fakes. Reports go to ProcessorEvents only after
// the transaction they describe committed, so a retried message is reported
// once.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "inbox_store.h"
#include "outbox/inbox/message.h"
#include "outbox/inbox/options.h"

namespace outbox::inbox {

enum class Outcome {
  kApplied,
  kDuplicate,
  kHeld,
  kDeadLettered,
  kStopped,  // asked to stop before the message was decided: it will come again
};

class ProcessorEvents {
 public:
  virtual ~ProcessorEvents() = default;
  virtual void OnDecided(const Message& message, Outcome outcome) = 0;
  virtual void OnDeadLettered(const Message& message, const std::string& reason,
                              const std::string& error) = 0;
  virtual void OnSequenceBreak(const SequenceBreak& event) = 0;
  virtual void OnHandlerError(const Message& message, const std::string& error, int attempt,
                              bool transient) = 0;
  virtual void OnStoreError(const std::string& error) = 0;
};

struct ProcessorPolicy {
  OnGap on_gap = OnGap::kContinue;
  int max_attempts = 5;  // 0 = for ever
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds max_retry_backoff{10'000};
};

// Waits `delay`; false if the consumer is stopping.
using Wait = std::function<bool(std::chrono::milliseconds delay)>;

class Processor {
 public:
  Processor(InboxStore& store, ProcessorPolicy policy, Wait wait, ProcessorEvents& events);

  // Returns once the message is decided and committed (or kStopped).
  Outcome Process(Message message);

  // Settles the messages in order, as many as it can in one transaction
  // with a savepoint each. A handler's failure rolls back only its
  // message's savepoint and cuts the transaction short there; that message
  // then goes through Process() alone (its retries, its dead letter), and
  // the rest follow in a new transaction. Returns how many messages, from
  // the first, are settled (all, unless it was asked to stop).
  size_t ProcessBatch(std::vector<Message> batch);

 private:
  struct Decision {
    Outcome outcome = Outcome::kApplied;
    std::vector<Message> released;  // held messages applied with it
    std::vector<SequenceBreak> breaks;
    bool applied_early = false;  // the handler already ran (before released ones)
    std::string dead_letter_reason, dead_letter_error;
  };

  Decision Decide(InboxTransaction& tx, const Message& message);
  // Reads the envelope into `message`, then Decide(); a defect is
  // dead-lettered in `tx`.
  Decision DecideAny(InboxTransaction& tx, Message& message);
  // Process() for a message whose handler already failed `attempts` times.
  Outcome ProcessAfter(Message message, int attempts);
  void CheckSequence(InboxTransaction& tx, const Message& message, Decision* decision);
  // Applies the key's held messages that follow `*last`, in order.
  void Release(InboxTransaction& tx, const std::string& key, int64_t* last, Decision* decision);
  // Runs `body` in a transaction until it commits; false if stopping.
  bool Settle(const std::function<void(InboxTransaction&)>& body);
  void DeadLetterIn(InboxTransaction& tx, const Message& message, std::string reason,
                    std::string error, Decision* decision);
  // The handler failed max_attempts times: the message goes to the dead letters.
  Outcome GiveUp(const Message& message, const std::string& error, int attempts);
  void Report(const Message& message, const Decision& decision);

  InboxStore& store_;
  ProcessorPolicy policy_;
  Wait wait_;
  ProcessorEvents& events_;
};

}  // namespace outbox::inbox
