// Refreshes the backlog gauges from the database on an interval, on its own
// thread and connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/backlog.h"
#include "metrics/relay_metrics.h"

namespace outbox {

class BacklogPoller {
 public:
  BacklogPoller(BacklogSource& source, RelayMetrics& metrics, std::chrono::milliseconds interval);
  ~BacklogPoller();  // stops and joins

 private:
  void Work();

  BacklogSource& source_;
  RelayMetrics& metrics_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace outbox
