#include "core/background_write_back.h"

#include <utility>

namespace outbox {

BackgroundWriteBack::BackgroundWriteBack(OutboxStore& store)
    : store_(store), worker_([this] { Work(); }) {}

BackgroundWriteBack::~BackgroundWriteBack() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void BackgroundWriteBack::Start(Settlement settlement) {
  settlement_ = std::move(settlement);
  {
    std::lock_guard lock(mutex_);
    result_.reset();
    job_ = &*settlement_;
  }
  changed_.notify_all();
}

bool BackgroundWriteBack::finished() const {
  std::lock_guard lock(mutex_);
  return result_.has_value();
}

Status BackgroundWriteBack::Collect(Settlement* failed) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return result_.has_value(); });
  Status status = std::move(*result_);
  result_.reset();
  lock.unlock();
  if (!status.ok()) *failed = std::move(*settlement_);
  settlement_.reset();
  return status;
}

void BackgroundWriteBack::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return quit_ || job_ != nullptr; });
    // A write-back under way is finished first: quitting mid-statement
    // would leave its outcome unknown for no reason.
    if (job_ == nullptr) return;
    const Settlement* job = job_;
    lock.unlock();
    Status status = store_.Settle(*job);
    lock.lock();
    job_ = nullptr;
    result_ = std::move(status);
    changed_.notify_all();
  }
}

}  // namespace outbox
