// Durations as people write and read them: config values, CLI flags, ages.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outbox {

// The longest duration ParseDuration accepts (100 years).
inline constexpr std::chrono::seconds kLongestDuration{int64_t{100} * 365 * 86400};
// "90s", "15m", "2h", "7d" (a bare number is seconds); nullopt if malformed.
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);
// An age for people: "0.4s", "42s", "4m05s", "2h13m", "3d04h".
std::string FormatDuration(double seconds);
// A duration as ParseDuration reads it, in its largest whole unit: "7d",
// "36h", "90s", "0".
std::string DurationText(std::chrono::seconds duration);

}  // namespace outbox
