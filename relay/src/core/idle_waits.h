// How long the relay waits when it has caught up, and whether the database's
// notifications are arriving.
//
// With the notify trigger (schema/0003) a commit wakes the relay at once and
// the wait is only a fallback. Without it, or when notifications are lost
// (a transaction-pooling PgBouncer drops them), the relay polls, and adapts:
// a poll that finds new rows halves the next wait (down to a floor), an
// empty poll doubles it (up to relay.poll_interval_ms).
#pragma once

#include <chrono>
#include <cstdint>

#include "core/outbox_store.h"

namespace outbox {

class IdleWaits {
 public:
  explicit IdleWaits(std::chrono::milliseconds poll_interval);

  std::chrono::milliseconds next() const { return next_; }

  // The read after an idle wait that ended with `wakeup` found rows with ids
  // above every id read before (`new_rows`), or not.
  enum class Change { kNone, kNotificationsLost, kNotificationsBack };
  Change Record(Wakeup wakeup, bool listening, bool new_rows);

  // Listening, and no sign that notifications are being lost.
  bool notifications_working() const { return working_; }

  // Polls that found new rows no notification announced, in a row, before
  // notifications are declared lost. One can be a race with the timeout.
  static constexpr int kUnannouncedLimit = 3;

 private:
  std::chrono::milliseconds poll_interval_;
  std::chrono::milliseconds floor_;
  std::chrono::milliseconds next_;
  int unannounced_ = 0;
  bool working_ = false;
  bool listening_seen_ = false;
};

}  // namespace outbox
