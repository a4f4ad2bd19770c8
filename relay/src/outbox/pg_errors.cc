#include "outbox/pg_errors.h"

#include <pqxx/except>

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

std::string SqlStateOf(const pqxx::sql_error& error) {
  if (!error.sqlstate().empty()) return error.sqlstate();
  if (dynamic_cast<const pqxx::insufficient_privilege*>(&error) != nullptr) return "42501";
  return "";
}

Status StatusOfPqxxError(const std::exception& error) {
  std::string message = error.what();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    const std::string sqlstate = SqlStateOf(*sql);
    return Status(ClassifySqlState(sqlstate), "SQLSTATE " + sqlstate + ": " + message);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    return Status(StatusCode::kUnavailable, message);
  }
  return Status(StatusCode::kInternal, message);
}

}  // namespace outbox
