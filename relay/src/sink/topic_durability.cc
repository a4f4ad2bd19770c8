#include "sink/topic_durability.h"

namespace outbox {

std::vector<std::string> DurabilityProblems(const TopicDurability& t) {
  std::vector<std::string> problems;
  if (t.replication_factor < 2) {
    problems.push_back("topic " + t.topic + " has replication factor " +
                       std::to_string(t.replication_factor) +
                       ": a single broker failure can lose acknowledged messages; recreate it "
                       "(or reassign its partitions) with replication.factor=3");
  }
  if (t.min_insync_replicas && *t.min_insync_replicas < 2) {
    problems.push_back("topic " + t.topic +
                       " has min.insync.replicas=" + std::to_string(*t.min_insync_replicas) +
                       ": acks=all is then satisfied by one replica; set it with kafka-configs.sh "
                       "--alter --entity-type topics --entity-name " +
                       t.topic + " --add-config min.insync.replicas=2");
  }
  if (t.unclean_leader_election.value_or(false)) {
    problems.push_back("topic " + t.topic +
                       " allows unclean leader election: an out-of-sync replica may become "
                       "leader and drop acknowledged messages; set it with kafka-configs.sh "
                       "--alter --entity-type topics --entity-name " +
                       t.topic + " --add-config unclean.leader.election.enable=false");
  }
  return problems;
}

}  // namespace outbox
