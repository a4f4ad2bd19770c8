// The inbox's database as the processor sees it: one transaction per
// message. The PostgreSQL adapter is pg_inbox_store; the unit tests use a
// fake. Every call may throw StoreUnavailable; Apply also throws
// HandlerFailed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "outbox/inbox/message.h"

namespace outbox::inbox {

// The database could not be reached or refused one of the inbox's own
// statements: the transaction is gone; try the message again later.
class StoreUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The application's handler threw. `transient`: a serialization failure or
// deadlock (SQLSTATE class 40), worth retrying without counting.
class HandlerFailed : public std::runtime_error {
 public:
  HandlerFailed(const std::string& what, bool transient)
      : std::runtime_error(what), transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

// What the inbox row says of a message.
enum class RowOutcome { kApplied, kHeld, kDeadLettered };

// Everything not committed is rolled back when the object goes.
class InboxTransaction {
 public:
  virtual ~InboxTransaction() = default;
  // Records the message's outbox-id for this consumer; false if it was
  // already recorded (a duplicate). Waits for a concurrent transaction
  // recording the same id (another consumer of the group) to end.
  virtual bool Record(const Message& message, RowOutcome outcome) = 0;
  virtual void SetOutcome(int64_t outbox_id, RowOutcome outcome) = 0;
  // The key's last applied number, locked until the transaction ends.
  virtual std::optional<int64_t> LockLastSeq(const std::string& key) = 0;
  virtual void SetLastSeq(const std::string& key, int64_t seq) = 0;
  // Puts the message aside; false if its key already holds that number.
  virtual bool Hold(const Message& message) = 0;
  // Removes and returns the held message of `key` numbered `seq`.
  virtual std::optional<Message> TakeHeld(const std::string& key, int64_t seq) = 0;
  // outbox_id: nullopt when the message has no usable one.
  virtual void DeadLetter(const Message& message, std::optional<int64_t> outbox_id,
                          std::string_view reason, std::string_view error, int attempts) = 0;
  // Runs the application's handler in this transaction (in the current
  // message's savepoint, if one is open).
  virtual void Apply(const Message& message) = 0;
  // Batches: a savepoint around one message's statements. EndMessage(true)
  // keeps them, EndMessage(false) rolls back to the savepoint (the
  // transaction goes on).
  virtual void BeginMessage() = 0;
  virtual void EndMessage(bool keep) = 0;
  virtual void Commit() = 0;
};

class InboxStore {
 public:
  virtual ~InboxStore() = default;
  virtual std::unique_ptr<InboxTransaction> Begin() = 0;
};

}  // namespace outbox::inbox
