// What the operator's commands (admin.cc, trace.cc) share: one connection
// and transaction per call, errors as Status, times as ISO 8601 text.
#pragma once

#include <pqxx/pqxx>
#include <string>

#include "common/status.h"
#include "outbox/pg_errors.h"

namespace outbox {

// `column` as ISO 8601 in UTC with milliseconds, e.g. 2026-12-02T03:00:01.250Z.
inline std::string IsoColumn(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

inline Status FromException(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return Status(StatusCode::kFailedPrecondition,
                  "SQLSTATE " + SqlStateOf(*sql) + ": " + e.what());
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return Status(StatusCode::kUnavailable, e.what());
  }
  return Status(StatusCode::kInternal, e.what());
}

// Runs fn(tx) in one transaction on a new connection and commits.
template <typename Fn>
auto WithTransaction(const std::string& dsn, Fn fn) -> decltype(fn(std::declval<pqxx::work&>())) {
  try {
    pqxx::connection connection(dsn);
    pqxx::work tx(connection);
    auto result = fn(tx);
    tx.commit();
    return result;
  } catch (const std::exception& e) {
    return FromException(e);
  }
}

}  // namespace outbox
