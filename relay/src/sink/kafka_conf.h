// librdkafka configuration: the relay's safe defaults, then the user's
// properties unchanged, with every refused property named.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

typedef struct rd_kafka_conf_s rd_kafka_conf_t;

namespace outbox {

// A property that librdkafka refused, for `file:line:col: key: problem`.
struct KafkaPropertyProblem {
  int property_index;  // into KafkaConfig::properties; -1 = the combination
  std::string problem;
};

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const;
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// Defaults + bootstrap.servers + the user's properties, with librdkafka's
// log and error callbacks routed into the relay's log. Appends one problem
// per refused property.
ConfPtr BuildConf(const KafkaConfig& config, std::vector<KafkaPropertyProblem>* problems);

// For reading topics (the audit): bootstrap.servers and the user's
// connection properties (security.*, sasl.*, ssl.*, socket.*, ...), with the
// same log routing; no producer settings.
ConfPtr BuildReaderConf(const KafkaConfig& config);
// A numeric property's value in `conf`, or `fallback`.
int64_t IntegerProperty(const rd_kafka_conf_t* conf, const char* name, int64_t fallback);

// Checks every property and their combination without connecting anywhere.
std::vector<KafkaPropertyProblem> ValidateKafkaConfig(const KafkaConfig& config);

// The librdkafka the relay runs with (rd_kafka_version_str), for --version.
std::string LibrdkafkaVersion();

}  // namespace outbox
