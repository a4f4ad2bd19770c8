#include "common/status.h"

namespace outbox {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kAborted:
      return "aborted";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace outbox
