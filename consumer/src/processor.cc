#include "processor.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "envelope.h"
#include "text.h"

namespace outbox::inbox {
namespace {

// A lost database is waited out at this pace, never counted as an attempt.
constexpr std::chrono::milliseconds kStoreRetryFirst{200};
constexpr std::chrono::milliseconds kStoreRetryMax{5'000};

// last + 1, where the numbers end at 2^63-1 (a message may claim the
// largest; nothing follows it).
std::optional<int64_t> Next(int64_t last) {
  if (last == std::numeric_limits<int64_t>::max()) return std::nullopt;
  return last + 1;
}

SequenceBreak BreakOf(SequenceBreak::Kind kind, const Message& m, int64_t last) {
  SequenceBreak event;
  event.kind = kind;
  event.key = *m.key;
  event.expected = Next(last).value_or(last);
  event.got = *m.outbox_seq;
  event.outbox_id = m.outbox_id;
  event.topic = m.topic;
  event.partition = m.partition;
  event.offset = m.offset;
  return event;
}

}  // namespace

Processor::Processor(InboxStore& store, ProcessorPolicy policy, Wait wait, ProcessorEvents& events)
    : store_(store), policy_(policy), wait_(std::move(wait)), events_(events) {}

bool Processor::Settle(const std::function<void(InboxTransaction&)>& body) {
  std::chrono::milliseconds delay = kStoreRetryFirst;
  for (;;) {
    try {
      std::unique_ptr<InboxTransaction> tx = store_.Begin();
      body(*tx);
      tx->Commit();
      return true;
    } catch (const StoreUnavailable& e) {
      events_.OnStoreError(e.what());
      if (!wait_(delay)) return false;
      delay = std::min(delay * 2, kStoreRetryMax);
    }
  }
}

Processor::Decision Processor::DecideAny(InboxTransaction& tx, Message& message) {
  Envelope envelope;
  if (std::optional<EnvelopeDefect> defect = ReadEnvelope(message, &envelope)) {
    tx.DeadLetter(message, std::nullopt, defect->reason, defect->detail, 0);
    Decision decision;
    decision.outcome = Outcome::kDeadLettered;
    decision.dead_letter_reason = defect->reason;
    decision.dead_letter_error = defect->detail;
    return decision;
  }
  message.outbox_id = envelope.outbox_id;
  message.outbox_seq = envelope.outbox_seq;
  return Decide(tx, message);
}

Outcome Processor::Process(Message message) { return ProcessAfter(std::move(message), 0); }

Outcome Processor::ProcessAfter(Message message, int attempts) {
  // attempts: the handler's, not counting transient failures
  std::chrono::milliseconds backoff = policy_.retry_backoff;
  std::chrono::milliseconds store_delay = kStoreRetryFirst;
  for (;;) {
    Decision decision;
    try {
      std::unique_ptr<InboxTransaction> tx = store_.Begin();
      decision = DecideAny(*tx, message);
      tx->Commit();
    } catch (const StoreUnavailable& e) {
      events_.OnStoreError(e.what());
      if (!wait_(store_delay)) return Outcome::kStopped;
      store_delay = std::min(store_delay * 2, kStoreRetryMax);
      continue;
    } catch (const HandlerFailed& e) {
      if (!e.transient()) ++attempts;
      events_.OnHandlerError(message, e.what(), attempts, e.transient());
      if (!e.transient() && policy_.max_attempts > 0 && attempts >= policy_.max_attempts) {
        return GiveUp(message, e.what(), attempts);
      }
      if (!wait_(backoff)) return Outcome::kStopped;
      backoff = std::min(backoff * 2, policy_.max_retry_backoff);
      continue;
    }
    Report(message, decision);
    return decision.outcome;
  }
}

size_t Processor::ProcessBatch(std::vector<Message> batch) {
  size_t settled = 0;
  std::chrono::milliseconds store_delay = kStoreRetryFirst;
  while (settled < batch.size()) {
    std::vector<Decision> decisions;
    std::optional<HandlerFailed> failure;
    try {
      std::unique_ptr<InboxTransaction> tx = store_.Begin();
      for (size_t i = settled; i < batch.size(); ++i) {
        tx->BeginMessage();
        try {
          decisions.push_back(DecideAny(*tx, batch[i]));
        } catch (const HandlerFailed& e) {
          tx->EndMessage(false);
          failure.emplace(e);
          break;
        }
        tx->EndMessage(true);
      }
      tx->Commit();
    } catch (const StoreUnavailable& e) {
      events_.OnStoreError(e.what());
      if (!wait_(store_delay)) return settled;
      store_delay = std::min(store_delay * 2, kStoreRetryMax);
      continue;
    } catch (const HandlerFailed& e) {
      // The commit itself (a handler that ended the transaction): nothing
      // of this round holds; its first message goes alone.
      decisions.clear();
      failure.emplace(e);
    }
    store_delay = kStoreRetryFirst;
    for (size_t k = 0; k < decisions.size(); ++k) Report(batch[settled + k], decisions[k]);
    settled += decisions.size();
    if (!failure) continue;
    // The failed message alone, with the attempt it just used.
    Message& failed = batch[settled];
    const int attempts = failure->transient() ? 0 : 1;
    events_.OnHandlerError(failed, failure->what(), attempts, failure->transient());
    Outcome outcome =
        policy_.max_attempts > 0 && attempts >= policy_.max_attempts
            ? GiveUp(failed, failure->what(), attempts)
            : (wait_(policy_.retry_backoff) ? ProcessAfter(std::move(failed), attempts)
                                            : Outcome::kStopped);
    if (outcome == Outcome::kStopped) return settled;
    ++settled;
  }
  return settled;
}

Outcome Processor::GiveUp(const Message& message, const std::string& error, int attempts) {
  bool duplicate = false;
  if (!Settle([&](InboxTransaction& tx) {
        // Another consumer of the group may have applied it meanwhile.
        duplicate = !tx.Record(message, RowOutcome::kDeadLettered);
        if (!duplicate) {
          tx.DeadLetter(message, message.outbox_id, "handler_failed", error, attempts);
        }
      })) {
    return Outcome::kStopped;
  }
  Decision decision;
  decision.outcome = duplicate ? Outcome::kDuplicate : Outcome::kDeadLettered;
  decision.dead_letter_reason = "handler_failed";
  decision.dead_letter_error = error;
  Report(message, decision);
  return decision.outcome;
}

Processor::Decision Processor::Decide(InboxTransaction& tx, const Message& message) {
  Decision decision;
  if (!tx.Record(message, RowOutcome::kApplied)) {
    decision.outcome = Outcome::kDuplicate;
    return decision;
  }
  if (message.outbox_seq) CheckSequence(tx, message, &decision);
  if (decision.outcome == Outcome::kApplied && !decision.applied_early) tx.Apply(message);
  return decision;
}

void Processor::CheckSequence(InboxTransaction& tx, const Message& message, Decision* decision) {
  const std::string& key = *message.key;  // ReadEnvelope: a number only on a keyed message
  const int64_t seq = *message.outbox_seq;
  const bool hold = policy_.on_gap == OnGap::kHold;
  std::optional<int64_t> last = tx.LockLastSeq(key);
  if (!last) {
    // A key this consumer has not seen: its first number is where it starts
    // (the topic's retention or the consumer's start may have passed 1).
    tx.SetLastSeq(key, seq);
    return;
  }
  // An operator may have moved last_seq past a gap since the last message.
  if (hold) Release(tx, key, &*last, decision);
  const std::optional<int64_t> next = Next(*last);
  if (next && seq == *next) {
    tx.SetLastSeq(key, seq);
    int64_t now_last = seq;
    // Its own Apply comes after these in Decide; apply it first so that the
    // key's order holds.
    tx.Apply(message);
    decision->outcome = Outcome::kApplied;
    if (hold) Release(tx, key, &now_last, decision);
    decision->applied_early = true;
    return;
  }
  if (next && seq > *next) {
    SequenceBreak event = BreakOf(SequenceBreak::Kind::kGap, message, *last);
    if (hold) {
      event.held = true;
      decision->breaks.push_back(event);
      if (tx.Hold(message)) {
        tx.SetOutcome(message.outbox_id, RowOutcome::kHeld);
        decision->outcome = Outcome::kHeld;
      } else {
        DeadLetterIn(tx, message, "sequence_conflict",
                     "outbox-seq " + std::to_string(seq) + " of this key is already held on " +
                         "another outbox-id",
                     decision);
      }
      return;
    }
    decision->breaks.push_back(event);
    tx.SetLastSeq(key, seq);
    return;
  }
  // At or below the last applied number, on an outbox-id not seen before.
  SequenceBreak event = BreakOf(SequenceBreak::Kind::kReorder, message, *last);
  event.held = hold;
  decision->breaks.push_back(event);
  if (hold) {
    DeadLetterIn(
        tx, message, "sequence_reorder",
        "outbox-seq " + std::to_string(seq) + " after " + std::to_string(*last) + " was applied",
        decision);
  }
}

void Processor::DeadLetterIn(InboxTransaction& tx, const Message& message, std::string reason,
                             std::string error, Decision* decision) {
  tx.SetOutcome(message.outbox_id, RowOutcome::kDeadLettered);
  tx.DeadLetter(message, message.outbox_id, reason, error, 0);
  decision->outcome = Outcome::kDeadLettered;
  decision->dead_letter_reason = std::move(reason);
  decision->dead_letter_error = std::move(error);
}

void Processor::Release(InboxTransaction& tx, const std::string& key, int64_t* last,
                        Decision* decision) {
  while (std::optional<Message> held =
             Next(*last) ? tx.TakeHeld(key, *Next(*last)) : std::nullopt) {
    tx.Apply(*held);
    tx.SetOutcome(held->outbox_id, RowOutcome::kApplied);
    *last += 1;
    tx.SetLastSeq(key, *last);
    decision->released.push_back(std::move(*held));
  }
}

void Processor::Report(const Message& message, const Decision& decision) {
  for (const SequenceBreak& event : decision.breaks) events_.OnSequenceBreak(event);
  for (const Message& released : decision.released) {
    events_.OnDecided(released, Outcome::kApplied);
  }
  if (decision.outcome == Outcome::kDeadLettered) {
    events_.OnDeadLettered(message, decision.dead_letter_reason, decision.dead_letter_error);
  }
  events_.OnDecided(message, decision.outcome);
}

}  // namespace outbox::inbox
