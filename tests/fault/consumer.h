// The independent consumer: a plain librdkafka consumer (none of the relay's
// code) assigned every partition from the beginning, recording what it reads.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace outbox::fault {

struct Consumed {
  int32_t partition;
  int64_t offset;
  std::optional<std::string> key;
  std::string payload;
  int64_t outbox_id = -1;  // -2: not exactly one outbox-id header (a forgery got through)
  int key_seq = -1;
  std::chrono::system_clock::time_point received_at{};
};

class Consumer {
 public:
  Consumer(const std::string& bootstrap, const std::string& topic, int partitions);
  ~Consumer();

  // Waits until the consumer has read up to each partition's end offset.
  bool CatchUp(std::chrono::seconds timeout);
  // True if the broker evicted data (a partition's low watermark is above 0).
  bool Evicted();
  // Why the last CatchUp or Evicted said no (which partition, which offsets),
  // for the scenario's failure line.
  std::string why_not();
  // Offsets below where it has read to that it never received, as
  // "partition P: a-b, c"; empty if none. The mock broker's offsets have no
  // holes (no compaction, no transaction markers), so a hole means this
  // consumer jumped over records, not that the topic lacks them.
  std::string Skipped();
  std::vector<Consumed> Records();

 private:
  void Work();

  rd_kafka_t* consumer_;
  std::string topic_;
  int partitions_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<Consumed> records_;
  std::vector<int64_t> next_offset_;
  std::string last_error_;  // the last error the consumer reported, under mutex_
  std::string why_not_;
  std::thread thread_;
};

}  // namespace outbox::fault
