// Where messages are published. The sink reports what happened to each
// message; only the core decides what to do about it.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "core/message.h"

namespace outbox {

class Sink {
 public:
  virtual ~Sink() = default;

  // Returns true when the caller stops waiting for outstanding reports.
  using GiveUp = std::function<bool()>;

  // Starts publishing `batch` in order and returns at once; the messages are
  // copied. Several batches may be in flight; their reports are collected
  // with AwaitOldest() in the order the batches were sent.
  virtual void Send(std::span<const OutboxMessage> batch) = 0;

  // Waits until every message of the oldest batch in flight has a report or
  // `give_up()` returns true, and returns one outcome per message, in order.
  // On giving up, every batch in flight is withdrawn: its messages without
  // a report are kNotReported and never reported later.
  virtual std::vector<DeliveryOutcome> AwaitOldest(const GiveUp& give_up) = 0;

  // Send() and AwaitOldest() for one batch, with nothing else in flight.
  std::vector<DeliveryOutcome> Publish(std::span<const OutboxMessage> batch,
                                       const GiveUp& give_up) {
    Send(batch);
    return AwaitOldest(give_up);
  }

  // Serves the client's callbacks (statistics, errors) while no batch is
  // being published.
  virtual void Poll() {}

  // What can be known without sending (size limits, topic name): a message
  // that can never be delivered as it is.
  virtual std::optional<Rejection> Precheck(const OutboxMessage& message) const {
    (void)message;
    return std::nullopt;
  }
};

}  // namespace outbox
