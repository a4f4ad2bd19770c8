// Whether a topic keeps an acknowledged message when a broker dies: the
// "store" stage of the no-loss checklist. acks=all only means "all in-sync
// replicas", so it protects nothing if the topic has one replica, or if one
// in-sync replica is enough, or if an out-of-sync replica may become leader.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace outbox {

struct TopicDurability {
  std::string topic;
  int replication_factor = 0;                   // smallest replica count of any partition
  std::optional<int> min_insync_replicas;       // nullopt: the broker did not say
  std::optional<bool> unclean_leader_election;  // nullopt: the broker did not say
  std::string unreadable;                       // why configs could not be read, if so
};

// One sentence per weakness, each naming the setting to change. Empty when
// the topic is durable. Unknown settings are not reported as weaknesses.
std::vector<std::string> DurabilityProblems(const TopicDurability& topic);

}  // namespace outbox
