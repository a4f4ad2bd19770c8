// What the relay loop tells the outside world about its progress (metrics,
// health). Called from the loop's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/message.h"

namespace outbox {

class RelayObserver {
 public:
  virtual ~RelayObserver() = default;

  // After each read: when the oldest pending row was created, by the local
  // steady clock (nullopt when the outbox was empty).
  virtual void OnOldestPending(std::optional<SteadyClock::time_point>) {}
  virtual void OnDelivered(const OutboxMessage&, const DeliveryOutcome&) {}
  virtual void OnNotDelivered(const OutboxMessage&, const DeliveryOutcome&) {}
  virtual void OnDeadLettered(const OutboxMessage&, const std::string& reason) { (void)reason; }
  virtual void OnRetryScheduled(const OutboxMessage&, const std::string& reason) { (void)reason; }
  virtual void OnBlockedKeys(int64_t count) { (void)count; }
  virtual void OnStoreResult(bool ok) { (void)ok; }
  virtual void OnSinkResult(bool any_delivered) { (void)any_delivered; }
  // Each loop iteration: the loop is alive.
  virtual void OnHeartbeat() {}
};

}  // namespace outbox
