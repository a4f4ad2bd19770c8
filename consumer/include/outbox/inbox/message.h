// A message as the inbox hands it to the application's handler.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace outbox::inbox {

// Header names the relay sets on every message (and refuses in its rows).
inline constexpr const char* kOutboxIdHeader = "outbox-id";
inline constexpr const char* kOutboxSeqHeader = "outbox-seq";

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Message {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;      // bytes; nullopt = no key
  std::optional<std::string> payload;  // bytes; nullopt = tombstone
  Headers headers;                     // in the order they came, the relay's included
  // From the headers, once the inbox has accepted them:
  int64_t outbox_id = 0;
  std::optional<int64_t> outbox_seq;  // the relay's per-key sequence, when it sends one
};

}  // namespace outbox::inbox
