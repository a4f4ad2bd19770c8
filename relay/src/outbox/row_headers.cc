#include "outbox/row_headers.h"

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace outbox {
namespace {

bool Reserved(const std::string& name) {
  if (name.size() < kReservedHeaderPrefix.size()) return false;
  for (size_t i = 0; i < kReservedHeaderPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(name[i])) != kReservedHeaderPrefix[i]) return false;
  }
  return true;
}

Rejection Invalid(const std::string& detail) {
  return Rejection{kInvalidHeaders,
                   "headers must be a JSON object of string values (" + detail + ")"};
}

}  // namespace

std::optional<Rejection> ParseRowHeaders(const std::string& json, Headers* headers) {
  const nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
  if (!parsed.is_object()) return Invalid(std::string("got a ") + parsed.type_name());
  for (const auto& [name, value] : parsed.items()) {
    if (name.empty()) return Invalid("a header name is empty");
    if (!value.is_string()) {
      return Invalid("\"" + Abbreviated(name) + "\" is a " + value.type_name());
    }
    if (Reserved(name)) {
      return Rejection{kReservedHeader, "header \"" + Abbreviated(name) +
                                            "\" is set by the relay itself (names "
                                            "starting with \"outbox-\" are reserved)"};
    }
    headers->emplace_back(name, value.get<std::string>());
  }
  return std::nullopt;
}

}  // namespace outbox
