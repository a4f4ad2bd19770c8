#include "outbox/pg_errors.h"

namespace outbox {

StatusCode ClassifySqlState(std::string_view s) {
  if (s.size() != 5) return StatusCode::kUnavailable;  // no server answer
  const std::string_view cls = s.substr(0, 2);
  if (cls == "08" || cls == "53" || s == "57P01" || s == "57P02" || s == "57P03" ||
      s == "57014") {  // 57014: statement timeout / cancel
    return StatusCode::kUnavailable;
  }
  if (s == "40001" || s == "40P01" || s == "55P03") return StatusCode::kAborted;
  if (s == "42P01" || s == "42501" || s == "42703" || cls == "28") {
    return StatusCode::kFailedPrecondition;
  }
  return StatusCode::kInternal;
}

}  // namespace outbox
