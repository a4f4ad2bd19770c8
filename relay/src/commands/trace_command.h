// `outbox-relay trace`: where row N is (pending, sent, dead-lettered, gone),
// or where the last rows of a key are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace outbox {

struct TraceRequest {
  std::optional<int64_t> id;
  std::optional<std::string> key;  // instead of id: its last `limit` rows
  int limit = 10;
  bool json = false;
};

int TraceCommand(const std::string& config_path, const TraceRequest& request);

}  // namespace outbox
