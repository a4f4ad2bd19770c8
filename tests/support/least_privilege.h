// schema/roles/least_privilege.sql, as the tests apply it.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace outbox::testing {

// The script's text; throws if it cannot be read.
inline std::string LeastPrivilegeSql() {
  std::ifstream file(std::string(OUTBOX_SOURCE_DIR) + "/schema/roles/least_privilege.sql");
  std::stringstream sql;
  sql << file.rdbuf();
  if (sql.str().empty()) throw std::runtime_error("schema/roles/least_privilege.sql missing");
  return sql.str();
}

}  // namespace outbox::testing
