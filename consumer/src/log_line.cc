#include "log_line.h"

#include <cstdio>

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
  std::string line = "level=";
  line += LevelName(level);
  Append(&line, "msg", message, false);
  Append(&line, "consumer", consumer_, false);
  for (const Field& field : fields) Append(&line, field.key, field.value, field.bare);
  sink_(level, line);
}

}  // namespace outbox::inbox
