// Bytes from the network made safe for a log line or a text column.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace outbox::inbox {

// Valid UTF-8 without NUL (which PostgreSQL's text and jsonb refuse).
bool IsStorableText(std::string_view bytes);

// At most `limit` bytes of `bytes` for a human: valid UTF-8 is kept, every
// other byte, control character and NUL becomes \xNN; "..." marks a cut.
std::string Printable(std::string_view bytes, size_t limit = 256);

std::string ToHex(std::string_view bytes);
// Inverse of ToHex (PostgreSQL's encode(x, 'hex')); throws on bad input.
std::string FromHex(std::string_view hex);

}  // namespace outbox::inbox
