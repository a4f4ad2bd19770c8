#include "sink/kafka_errors.h"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace outbox {

namespace {

// Each list is the one definition of its class: the classification below and
// the metric labels the relay primes at start (KnownKafkaReasons) read it.
constexpr rd_kafka_resp_err_t kFatal[] = {RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR__FENCED,
                                          RD_KAFKA_RESP_ERR_PRODUCER_FENCED};
constexpr rd_kafka_resp_err_t kRejected[] = {
    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE,
    RD_KAFKA_RESP_ERR_INVALID_RECORD,
    RD_KAFKA_RESP_ERR_INVALID_MSG,  // CORRUPT_MESSAGE (2)
    RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,    RD_KAFKA_RESP_ERR__BAD_MSG,
    RD_KAFKA_RESP_ERR__INVALID_ARG};
constexpr rd_kafka_resp_err_t kBlamesMessage[] = {
    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
    RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
    RD_KAFKA_RESP_ERR_POLICY_VIOLATION};
// Retriable errors every outage produces (not a classification: anything
// not listed above is retriable too).
constexpr rd_kafka_resp_err_t kCommonRetriable[] = {
    RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
    RD_KAFKA_RESP_ERR__TRANSPORT,
    RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
    RD_KAFKA_RESP_ERR__TIMED_OUT,
    RD_KAFKA_RESP_ERR__QUEUE_FULL,
    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE};

template <size_t N>
bool In(const rd_kafka_resp_err_t (&list)[N], rd_kafka_resp_err_t err) {
  return std::find(std::begin(list), std::end(list), err) != std::end(list);
}

template <size_t N>
void AppendReasons(const rd_kafka_resp_err_t (&list)[N], std::vector<std::string>& out) {
  for (rd_kafka_resp_err_t err : list) out.push_back(KafkaErrorReason(err));
}

}  // namespace

DeliveryKind ClassifyKafkaError(rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return DeliveryKind::kDelivered;
  if (In(kFatal, err)) return DeliveryKind::kFatal;
  if (In(kRejected, err)) return DeliveryKind::kRejected;
  return DeliveryKind::kRetriable;
}

bool BlamesMessage(rd_kafka_resp_err_t err) { return In(kBlamesMessage, err); }

KnownKafkaReasons ListKnownKafkaReasons() {
  KnownKafkaReasons known;
  AppendReasons(kRejected, known.rejected);
  known.rejected.push_back(kInvalidTopic);
  AppendReasons(kBlamesMessage, known.blames_message);
  AppendReasons(kFatal, known.other);
  AppendReasons(kCommonRetriable, known.other);
  return known;
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
