#include "config/env_subst.h"

#include <cctype>
#include <cstdlib>

namespace outbox {
namespace {

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> LookupProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Result<std::string> SubstituteEnv(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out.push_back('$');
      i += 2;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      out.push_back('$');
      ++i;
      continue;
    }
    const size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      // The value is not quoted: it may be a DSN with a password in it.
      return Status(StatusCode::kInvalidArgument,
                    "unterminated ${ at character " + std::to_string(i + 1) + " of the value");
    }
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    const size_t sep = inner.find(":-");
    const std::string name(inner.substr(0, sep));
    if (!IsValidName(name)) {
      return Status(StatusCode::kInvalidArgument,
                    "bad environment variable name at character " + std::to_string(i + 3) +
                        " of the value (letters, digits and _, not starting with a digit)");
    }
    std::optional<std::string> value = env(name);
    if (sep != std::string_view::npos && (!value || value->empty())) {
      value = std::string(inner.substr(sep + 2));
    }
    if (!value) {
      return Status(StatusCode::kInvalidArgument, "environment variable " + name +
                                                      " is not set (use ${" + name +
                                                      ":-default} to give a default)");
    }
    out.append(*value);
    i = close + 1;
  }
  return out;
}

}  // namespace outbox
