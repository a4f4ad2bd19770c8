#include "outbox/conninfo.h"

#include <libpq-fe.h>

#include <functional>
#include <memory>

namespace outbox {
namespace {

using Options = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

// Parses `dsn`; on failure returns null and sets `error` to libpq's message.
Options Parse(const std::string& dsn, std::string* error) {
  char* message = nullptr;
  Options options(PQconninfoParse(dsn.c_str(), &message), &PQconninfoFree);
  if (!options) {
    *error = message != nullptr ? message : "out of memory";
    if (message != nullptr) PQfreemem(message);
  }
  return options;
}

// libpq marks the options to hide (password, sslpassword) with '*'.
bool IsSecret(const PQconninfoOption& option) {
  return option.dispchar != nullptr && option.dispchar[0] == '*';
}

void ForEachSet(const Options& options, const std::function<void(const PQconninfoOption&)>& f) {
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) f(*o);
  }
}

std::string Quoted(const std::string& value) {
  if (!value.empty() && value.find_first_of(" '\\") == std::string::npos) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

std::string PercentEncoded(const std::string& value) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> ConninfoProblem(const std::string& dsn) {
  std::string error;
  if (Parse(dsn, &error)) return std::nullopt;
  // Up to libpq's first quotation, which would repeat part of the string.
  error = error.substr(0, error.find('"'));
  while (!error.empty() && (error.back() == ' ' || error.back() == ':' || error.back() == '\n')) {
    error.pop_back();
  }
  return "not a valid libpq connection string: " + error + " (the value is not shown: it may " +
         "hold a password)";
}

std::string RedactedConninfo(const std::string& dsn) {
  std::string error;
  const Options options = Parse(dsn, &error);
  if (!options) return "(a connection string libpq cannot parse; not shown)";
  std::string out;
  ForEachSet(options, [&out](const PQconninfoOption& o) {
    if (!out.empty()) out.push_back(' ');
    out += std::string(o.keyword) + "=" + (IsSecret(o) ? "***" : Quoted(o.val));
  });
  return out;
}

std::vector<std::string> ConninfoSecrets(const std::string& dsn) {
  std::string error;
  const Options options = Parse(dsn, &error);
  std::vector<std::string> secrets;
  if (!options) return secrets;
  ForEachSet(options, [&secrets](const PQconninfoOption& o) {
    if (!IsSecret(o) || o.val[0] == '\0') return;
    secrets.emplace_back(o.val);
    secrets.push_back(PercentEncoded(o.val));
  });
  return secrets;
}

std::string LibpqVersion() {
  // 150010 -> "15.10" (PostgreSQL 10 and later: major * 10000 + minor).
  const int version = PQlibVersion();
  return std::to_string(version / 10000) + "." + std::to_string(version % 10000);
}

}  // namespace outbox
