#include "sink/kafka_errors.h"

#include <cctype>

namespace outbox {

DeliveryKind ClassifyKafkaError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return DeliveryKind::kDelivered;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
      return DeliveryKind::kFatal;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:  // CORRUPT_MESSAGE (2)
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return DeliveryKind::kRejected;
    default:
      return DeliveryKind::kRetriable;
  }
}

bool BlamesMessage(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return true;
    default:
      return false;
  }
}

std::string KafkaErrorReason(rd_kafka_resp_err_t err) {
  std::string reason;
  for (const char* c = rd_kafka_err2name(err); *c != '\0'; ++c) {
    if (reason.empty() && *c == '_') continue;
    reason.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(*c))));
  }
  return reason;
}

DeliveryOutcome KafkaOutcome(rd_kafka_resp_err_t err, const char* detail) {
  DeliveryOutcome outcome;
  outcome.kind = ClassifyKafkaError(err);
  outcome.blames_row = BlamesMessage(err);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    outcome.reason = KafkaErrorReason(err);
    outcome.detail = detail != nullptr ? detail : rd_kafka_err2str(err);
  }
  outcome.reported_at = SteadyClock::now();
  return outcome;
}

}  // namespace outbox
