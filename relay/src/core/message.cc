#include "core/message.h"

namespace outbox {

const char* DeliveryKindName(DeliveryKind kind) {
  switch (kind) {
    case DeliveryKind::kDelivered:
      return "delivered";
    case DeliveryKind::kRetriable:
      return "retriable";
    case DeliveryKind::kRejected:
      return "rejected";
    case DeliveryKind::kFatal:
      return "fatal";
    case DeliveryKind::kNotReported:
      return "not_reported";
  }
  return "unknown";
}

}  // namespace outbox
