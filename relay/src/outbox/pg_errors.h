// Which PostgreSQL errors the relay retries how. One table, unit-tested.
#pragma once

#include <string_view>

#include "common/status.h"

namespace outbox {

// SQLSTATE → what the caller should do:
//   class 08 (connection), 57P01-03 (shutdown, crash), 53 (resources)
//       → kUnavailable: reconnect after back-off
//   40001 serialization failure, 40P01 deadlock, 55P03 lock not available
//       → kAborted: retry the batch
//   42P01 undefined table, 42501 insufficient privilege, 28xxx auth
//       → kFailedPrecondition: an operator must act (we still back off
//         and retry, so fixing it needs no restart)
//   anything else → kInternal
StatusCode ClassifySqlState(std::string_view sqlstate);

}  // namespace outbox
