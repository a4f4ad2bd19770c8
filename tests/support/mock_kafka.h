// librdkafka's mock cluster in the test process (for error injection), and an
// independent consumer that reads a topic back from every partition.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace outbox::testing {

class MockKafka {
 public:
  explicit MockKafka(int brokers = 1);
  ~MockKafka();
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

  void CreateTopic(const std::string& topic, int partitions);
  // The next Produce requests (any broker) fail with these errors, in order.
  void FailNextProduces(const std::vector<rd_kafka_resp_err_t>& errors);
  void SetBrokerDown(int32_t broker_id);
  void SetBrokerUp(int32_t broker_id);

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

struct ConsumedRecord {
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::map<std::string, std::string> headers;
};

// Reads `topic` (all `partitions`) from the beginning until at least
// `expected` records arrived and every partition is read to the end it had
// then (so duplicates do not stand in for records not read yet), or until
// `timeout` passed; returns what it read.
std::vector<ConsumedRecord> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                      int partitions, size_t expected,
                                      std::chrono::seconds timeout);

}  // namespace outbox::testing
