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

  // Publishes `batch` in order and waits until every message has a report or
  // `give_up()` returns true. Returns one outcome per message, same order.
  // Messages without a report by then are kNotReported and withdrawn: the
  // sink never reports them later.
  virtual std::vector<DeliveryOutcome> Publish(std::span<const OutboxMessage> batch,
                                               const GiveUp& give_up) = 0;

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
