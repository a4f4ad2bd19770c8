// One write-back at a time on a thread of its own, so that the relay loop
// reads and sends the next batch while the database removes (or marks) the
// rows of the last one. Used only with a store that settles on a session of
// its own (OutboxStore::settles_concurrently()).
//
// Threading: Start(), pending() and Collect() on the loop's thread; the
// store's Settle() runs on this object's thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "common/status.h"
#include "core/outbox_store.h"

namespace outbox {

class BackgroundWriteBack {
 public:
  explicit BackgroundWriteBack(OutboxStore& store);
  ~BackgroundWriteBack();  // waits for a write-back under way
  BackgroundWriteBack(const BackgroundWriteBack&) = delete;
  BackgroundWriteBack& operator=(const BackgroundWriteBack&) = delete;

  // Starts writing `settlement` back. Requires !pending().
  void Start(Settlement settlement);
  // A write-back was started and not collected yet.
  bool pending() const { return settlement_.has_value(); }
  // A pending write-back has finished (Collect() would not wait).
  bool finished() const;
  // The pending write-back's settlement: its rows are neither in flight nor
  // gone yet, so reads must skip them.
  const Settlement* settlement() const { return settlement_ ? &*settlement_ : nullptr; }
  // Waits for the pending write-back; returns its status. On failure its
  // settlement is moved into `*failed`, to be written back again.
  Status Collect(Settlement* failed);

 private:
  void Work();

  OutboxStore& store_;
  std::optional<Settlement> settlement_;  // owned by the loop's thread
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  const Settlement* job_ = nullptr;  // set by Start, cleared by the worker
  std::optional<Status> result_;
  bool quit_ = false;
  std::thread worker_;
};

}  // namespace outbox
