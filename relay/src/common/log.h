// Structured logging: one event per line (logfmt or JSON), a sentence for the
// message and fields for the data. Safe to call from any thread.
#pragma once

#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace outbox {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kLogfmt, kJson };

// Parses "debug", "info", "warn", "error"; returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

// One field: text, or a number (or bool) that JSON lines write unquoted.
struct LogField {
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, bool b) : key(k), value(b ? "true" : "false"), bare(true) {}
  template <typename Number>
  requires std::is_arithmetic_v<Number> LogField(std::string_view k, Number n)
      : key(k), value(FormatNumber(n)), bare(true) {}

  std::string_view key;
  std::string value;
  bool bare = false;  // a JSON number or bool, not a string

 private:
  template <typename Number>
  static std::string FormatNumber(Number n) {
    if constexpr (std::is_floating_point_v<Number>) {
      // JSON has no NaN or infinity.
      if (!std::isfinite(n)) return "null";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(n));
      return buf;
    } else {
      return std::to_string(n);
    }
  }
};

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});

inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, m, f);
}

// Formats one line (without the newline); exposed for tests.
std::string FormatLogLine(LogFormat format, std::string_view timestamp, LogLevel level,
                          std::string_view message, std::initializer_list<LogField> fields);

}  // namespace outbox
