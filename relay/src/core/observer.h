// What the relay loop tells the outside world about its progress (metrics,
// health). Called from the loop's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/message.h"

namespace outbox {

class RelayObserver {
 public:
  virtual ~RelayObserver() = default;

  virtual void OnDelivered(const OutboxMessage&, const DeliveryOutcome&) {}
  virtual void OnNotDelivered(const OutboxMessage&, const DeliveryOutcome&) {}
  virtual void OnDeadLettered(const OutboxMessage&, const std::string& reason) { (void)reason; }
  virtual void OnRetryScheduled(const OutboxMessage&, const std::string& reason) { (void)reason; }
  virtual void OnBlockedKeys(int64_t count) { (void)count; }
  virtual void OnStoreResult(bool ok) { (void)ok; }
  virtual void OnSinkResult(bool any_delivered) { (void)any_delivered; }
  // Rows handed to the sink and not yet reported.
  virtual void OnInFlight(size_t rows) { (void)rows; }
  // A batch from read to settled: rows read, seconds taken.
  virtual void OnBatch(size_t rows, double seconds) {
    (void)rows;
    (void)seconds;
  }
  // Whether the database's notifications wake the relay (false: it polls).
  virtual void OnNotifications(bool working) { (void)working; }
  // Each loop iteration: the loop is alive.
  virtual void OnHeartbeat() {}
};

}  // namespace outbox
