// The outbox row's `headers` column turned into Kafka headers, or the
// reason the row cannot be sent as it is.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/message.h"

namespace outbox {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Header names starting with this (in any case) are the relay's own
// (`outbox-id`, `outbox-seq`): a row may not set them, so a consumer never
// sees a forged one.
inline constexpr std::string_view kReservedHeaderPrefix = "outbox-";

// Parses the column's JSON text: an object of string values with non-empty
// names outside the relay's prefix. On a defect, returns the rejection
// (reason invalid_headers or reserved_header) and leaves `headers` partial.
std::optional<Rejection> ParseRowHeaders(const std::string& json, Headers* headers);

}  // namespace outbox
