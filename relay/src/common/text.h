// Text from outside (row values, error messages) made safe to show and
// store: bounded in size and valid UTF-8. A 100 kB key must not become a
// 100 kB log line, and a byte that is not UTF-8 must not make PostgreSQL
// refuse the dead letter that records it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace outbox {

// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD, cut
// to at most `max_bytes` at a character boundary, with "...(N bytes)" added
// when it was cut.
std::string SafeText(std::string_view text, size_t max_bytes);

// Whether `text` is valid UTF-8 throughout.
bool IsUtf8(std::string_view text);

// For naming a value in a message: SafeText with a short bound.
inline std::string Abbreviated(std::string_view text) { return SafeText(text, 80); }

}  // namespace outbox
