// Shard numbers as operators read them: "0,1,5".
#pragma once

#include <string>
#include <vector>

namespace outbox {

inline std::string ShardList(const std::vector<int>& shards) {
  std::string out;
  for (int shard : shards) out += (out.empty() ? "" : ",") + std::to_string(shard);
  return out;
}

}  // namespace outbox
