// The sent trail of one topic (relay.on_ack: mark_sent) for the audit: rows
// marked sent, in the order the broker stored them, read in pages of short
// transactions through schema/0007's outbox_sent_position index, so that a
// long audit holds no snapshot that would keep vacuum off the outbox.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "core/audit_ledger.h"

namespace outbox {

// Marked sent between `since` (empty: any time) and `until` (timestamptz
// text from the database's clock).
struct SentWindow {
  std::string topic;
  std::string since;
  std::string until;
};

class PgSentRows : public SentRowSource {
 public:
  PgSentRows(std::string dsn, SentWindow window);
  ~PgSentRows() override;
  std::optional<SentRowRecord> Next() override;
  // A failure while paging (Next() then returns nothing more).
  const Status& status() const { return status_; }

  // The database's clock now, as timestamptz text; whether the outbox keeps
  // sent rows at all; the lowest recorded offset per partition in a window.
  static Result<std::string> Now(const std::string& dsn);
  static Result<bool> AnySent(const std::string& dsn);
  static Result<std::vector<std::pair<int32_t, int64_t>>> LowestOffsets(const std::string& dsn,
                                                                        const SentWindow& window);
  // `timestamp` moved by `seconds`, as timestamptz text; and as Unix ms.
  // The database reads the timestamp, so any form it accepts works.
  static Result<std::string> Shift(const std::string& dsn, const std::string& timestamp,
                                   int64_t seconds);
  static Result<int64_t> EpochMillis(const std::string& dsn, const std::string& timestamp);

 private:
  void FetchPage();
  struct Session;
  std::unique_ptr<Session> session_;
  SentWindow window_;
  std::deque<SentRowRecord> page_;
  bool unrecorded_done_ = false;
  bool exhausted_ = false;
  int32_t after_partition_ = -1;
  int64_t after_offset_ = -1;
  Status status_ = Status::Ok();
};

}  // namespace outbox
