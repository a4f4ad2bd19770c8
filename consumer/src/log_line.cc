#include "log_line.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "text.h"

namespace outbox::inbox {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void Append(std::string* line, std::string_view key, std::string_view value, bool bare) {
  *line += ' ';
  line->append(key);
  *line += '=';
  if (bare) {
    line->append(value);
  } else {
    // Printable escapes quotes, backslashes, control and non-UTF-8 bytes.
    *line += '"';
    *line += Printable(value, 1024);
    *line += '"';
  }
}

// RFC 3339 in UTC with milliseconds, as the relay's own lines.
std::string Now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(millis));
  return text;
}

}  // namespace

Logger::Logger(std::function<void(LogLevel, std::string_view)> sink, std::string consumer)
    : sink_(std::move(sink)), consumer_(std::move(consumer)) {
  if (!sink_) {
    sink_ = [](LogLevel level, std::string_view line) {
      if (level == LogLevel::kDebug) return;
      std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
}

void Logger::operator()(LogLevel level, std::string_view message,
                        std::initializer_list<Field> fields) const {
  std::string line = "ts=" + Now() + " level=";
  line += LevelName(level);
  Append(&line, "msg", message, false);
  Append(&line, "consumer", consumer_, false);
  for (const Field& field : fields) Append(&line, field.key, field.value, field.bare);
  sink_(level, line);
}

}  // namespace outbox::inbox
