#include "core/idle_waits.h"

#include <algorithm>

namespace outbox {

IdleWaits::IdleWaits(std::chrono::milliseconds poll_interval)
    : poll_interval_(poll_interval),
      floor_(std::min(poll_interval, std::chrono::milliseconds(10))),
      next_(poll_interval) {}

IdleWaits::Change IdleWaits::Record(Wakeup wakeup, bool listening, bool new_rows) {
  Change change = Change::kNone;
  if (listening && !listening_seen_) working_ = true;  // until shown otherwise
  listening_seen_ = listening;
  if (!listening) {
    working_ = false;
    unannounced_ = 0;
  } else if (wakeup == Wakeup::kNotified) {
    unannounced_ = 0;
    if (!working_) change = Change::kNotificationsBack;
    working_ = true;
  } else if (new_rows && ++unannounced_ >= kUnannouncedLimit && working_) {
    working_ = false;
    change = Change::kNotificationsLost;
  }
  if (wakeup == Wakeup::kTimedOut) {
    next_ = new_rows ? std::max(floor_, next_ / 2) : std::min(poll_interval_, next_ * 2);
  }
  return change;
}

}  // namespace outbox
