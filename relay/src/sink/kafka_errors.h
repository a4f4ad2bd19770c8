// Which librdkafka errors mean what for one message. One table, unit-tested.
#pragma once

#include <librdkafka/rdkafka.h>

#include <string>
#include <vector>

#include "core/message.h"

namespace outbox {

// Rejected: this message can never succeed as it is (too large, invalid,
// corrupt). Fatal: the producer instance is unusable and must be rebuilt.
// Everything else is retriable, including topic-level errors
// (authorization, unknown topic): an operator fix makes those rows
// deliverable again, so they are never treated as poison.
DeliveryKind ClassifyKafkaError(rd_kafka_resp_err_t err);

// For retriable errors: whether the error is about the message's topic or
// partition rather than the connection to the brokers.
bool BlamesMessage(rd_kafka_resp_err_t err);

// The reason labels (KafkaErrorReason) of the errors the relay knows by name,
// so that their counters exist at 0 from the start.
// The sink's own rejection: a topic name Kafka would refuse.
inline constexpr const char* kInvalidTopic = "invalid_topic";

struct KnownKafkaReasons {
  std::vector<std::string> rejected;        // dead-lettered at once (with kInvalidTopic)
  std::vector<std::string> blames_message;  // retried, then dead-lettered
  std::vector<std::string> other;           // fatal and common retriable ones
};
KnownKafkaReasons ListKnownKafkaReasons();

// A bounded metric label for an error: rd_kafka_err2name lower-cased without
// leading underscores, e.g. "msg_timed_out".
std::string KafkaErrorReason(rd_kafka_resp_err_t err);

DeliveryOutcome KafkaOutcome(rd_kafka_resp_err_t err, const char* detail);

}  // namespace outbox
