#include "metrics/backlog_poller.h"

#include "common/log.h"

namespace outbox {

BacklogPoller::BacklogPoller(BacklogSource& source, RelayMetrics& metrics,
                             std::chrono::milliseconds interval)
    : source_(source), metrics_(metrics), interval_(interval) {
  thread_ = std::thread([this] { Work(); });
}

BacklogPoller::~BacklogPoller() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void BacklogPoller::Work() {
  bool failing = false;
  for (;;) {
    Result<Backlog> backlog = source_.Read();
    if (backlog.ok()) {
      metrics_.OnBacklog(*backlog);
      failing = false;
    } else if (!failing) {  // once per outage; the relay loop logs its own
      LogWarn("reading the backlog for the metrics failed",
              {{"error", backlog.status().message()}});
      failing = true;
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
  }
}

}  // namespace outbox
