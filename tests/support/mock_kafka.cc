#include "support/mock_kafka.h"

#include <optional>
#include <stdexcept>
#include <vector>

namespace outbox::testing {
namespace {

constexpr int16_t kProduceApiKey = 0;  // request-type constants are not installed

void Set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    throw std::runtime_error(std::string(name) + ": " + errstr);
  }
}

}  // namespace

MockKafka::MockKafka(int brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "log_level", "3");
  char errstr[512];
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (handle_ == nullptr) throw std::runtime_error(errstr);
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (cluster_ == nullptr) throw std::runtime_error("mock cluster not created");
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

MockKafka::~MockKafka() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

void MockKafka::CreateTopic(const std::string& topic, int partitions) {
  if (rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("cannot create topic " + topic);
  }
}

void MockKafka::FailNextProduces(const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, kProduceApiKey, errors.size(), errors.data());
}

void MockKafka::SetBrokerDown(int32_t broker_id) {
  rd_kafka_mock_broker_set_down(cluster_, broker_id);
}

void MockKafka::SetBrokerUp(int32_t broker_id) { rd_kafka_mock_broker_set_up(cluster_, broker_id); }

std::vector<ConsumedRecord> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                      int partitions, size_t expected,
                                      std::chrono::seconds timeout) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", bootstrap);
  Set(conf, "group.id", "outbox-test-reader");
  Set(conf, "enable.auto.commit", "false");
  Set(conf, "log_level", "3");
  char errstr[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (consumer == nullptr) throw std::runtime_error(errstr);

  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);

  std::vector<ConsumedRecord> records;
  std::vector<int64_t> next_offset(partitions, 0);
  std::optional<std::vector<int64_t>> ends;  // high watermarks, once `expected` are in
  const auto read_to_end = [&] {
    if (records.size() < expected) return false;
    if (!ends) {
      ends.emplace(partitions, 0);
      for (int p = 0; p < partitions; ++p) {
        int64_t low = 0;
        if (rd_kafka_query_watermark_offsets(consumer, topic.c_str(), p, &low, &(*ends)[p], 5000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          ends.reset();  // asked again on the next poll
          return false;
        }
      }
    }
    for (int p = 0; p < partitions; ++p) {
      if (next_offset[p] < (*ends)[p]) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!read_to_end() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->partition >= 0 && message->partition < partitions) {
        next_offset[message->partition] = message->offset + 1;
      }
      ConsumedRecord& r = records.emplace_back();
      r.partition = message->partition;
      r.offset = message->offset;
      if (message->key != nullptr) {
        r.key.emplace(static_cast<const char*>(message->key), message->key_len);
      }
      if (message->payload != nullptr) {
        r.value.emplace(static_cast<const char*>(message->payload), message->len);
      }
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return records;
}

}  // namespace outbox::testing
