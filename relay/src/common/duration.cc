#include "common/duration.h"

#include <charconv>
#include <cstdio>

namespace outbox {

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  char buf[32];
  if (seconds < 10) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    return buf;
  }
  const auto whole = static_cast<long long>(seconds);
  if (whole < 60) {
    std::snprintf(buf, sizeof buf, "%llds", whole);
  } else if (whole < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", whole / 60, whole % 60);
  } else if (whole < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", whole / 86400, whole % 86400 / 3600);
  }
  return buf;
}

std::string DurationText(std::chrono::seconds duration) {
  const int64_t s = duration.count();
  if (s == 0) return "0";
  if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return std::nullopt;
  const std::string_view unit(end, text.data() + text.size() - end);
  int64_t unit_seconds;
  if (unit.empty() || unit == "s") {
    unit_seconds = 1;
  } else if (unit == "m") {
    unit_seconds = 60;
  } else if (unit == "h") {
    unit_seconds = 3600;
  } else if (unit == "d") {
    unit_seconds = 86400;
  } else {
    return std::nullopt;
  }
  // Past this the product could overflow (a huge --older-than once wrapped
  // around to "everything"); no outbox keeps rows this long.
  if (value > kLongestDuration.count() / unit_seconds) return std::nullopt;
  return std::chrono::seconds(value * unit_seconds);
}

}  // namespace outbox
