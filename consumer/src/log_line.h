// The library's log lines: logfmt, to the application's callback
// (Options::log) or to stderr.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "outbox/inbox/options.h"

namespace outbox::inbox {

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, int64_t n) : key(k), value(std::to_string(n)), bare(true) {}
  Field(std::string_view k, int32_t n) : key(k), value(std::to_string(n)), bare(true) {}
  std::string_view key;
  std::string value;
  bool bare = false;
};

class Logger {
 public:
  Logger(std::function<void(LogLevel, std::string_view)> sink, std::string consumer);
  void operator()(LogLevel level, std::string_view message,
                  std::initializer_list<Field> fields = {}) const;

 private:
  std::function<void(LogLevel, std::string_view)> sink_;
  std::string consumer_;
};

}  // namespace outbox::inbox
