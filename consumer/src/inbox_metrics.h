// The inbox's Prometheus metrics (outbox_inbox_*), labelled by consumer.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "kafka_source.h"
#include "processor.h"

namespace outbox::inbox {

class InboxMetrics {
 public:
  InboxMetrics(std::shared_ptr<prometheus::Registry> registry, const std::string& consumer);

  void Decided(Outcome outcome);
  void DeadLettered(const std::string& reason);
  void SequenceBreak(SequenceBreak::Kind kind);
  void HandlerError() { handler_errors_.Increment(); }
  void StoreError() { store_errors_.Increment(); }
  void RetentionRemoved(int64_t rows) { retention_removed_.Increment(static_cast<double>(rows)); }
  // Sets the lag of these partitions (assigned ones).
  void SetLags(const std::vector<PartitionLag>& lags);
  // A partition left this consumer: its series goes.
  void DropLag(const std::string& topic, int32_t partition);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::string consumer_;
  prometheus::Family<prometheus::Counter>& messages_;
  prometheus::Counter &applied_, &duplicates_, &held_, &dead_lettered_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Counter>& breaks_;
  prometheus::Counter &gaps_, &reorders_;
  prometheus::Counter& handler_errors_;
  prometheus::Counter& store_errors_;
  prometheus::Counter& retention_removed_;
  prometheus::Family<prometheus::Gauge>& lag_;
  std::map<std::pair<std::string, int32_t>, prometheus::Gauge*> lag_series_;
};

}  // namespace outbox::inbox
