// Which PostgreSQL errors the relay retries how. One table, unit-tested.
#pragma once

#include <exception>
#include <string>
#include <string_view>

#include "common/status.h"

namespace pqxx {
class sql_error;
}

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

// The SQLSTATE of a libpqxx error. libpqxx 6.4 throws insufficient_privilege
// without it (sqlstate() is empty, which would read as "no server answer").
std::string SqlStateOf(const pqxx::sql_error& error);

// A libpqxx (or other) exception as a Status: SQL errors by their SQLSTATE,
// broken connections and commits in doubt kUnavailable, the rest kInternal.
Status StatusOfPqxxError(const std::exception& error);

}  // namespace outbox
