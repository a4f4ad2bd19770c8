#include "sink/kafka_errors.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

TEST(KafkaErrors, BrokerAndNetworkTroubleIsRetriable) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__PURGE_QUEUE,
        RD_KAFKA_RESP_ERR__PURGE_INFLIGHT}) {
    EXPECT_EQ(ClassifyKafkaError(err), DeliveryKind::kRetriable) << rd_kafka_err2name(err);
  }
}

TEST(KafkaErrors, TopicLevelErrorsAreRetriableNotPoison) {
  // An ACL fix or topic creation makes these rows deliverable again.
  EXPECT_EQ(ClassifyKafkaError(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
            DeliveryKind::kRetriable);
  EXPECT_EQ(ClassifyKafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), DeliveryKind::kRetriable);
  EXPECT_EQ(ClassifyKafkaError(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC), DeliveryKind::kRetriable);
}

TEST(KafkaErrors, OnlyTopicLevelRetriableErrorsBlameTheMessage) {
  EXPECT_TRUE(BlamesMessage(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
  EXPECT_TRUE(BlamesMessage(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
  EXPECT_FALSE(BlamesMessage(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
  EXPECT_FALSE(BlamesMessage(RD_KAFKA_RESP_ERR__TRANSPORT));
  EXPECT_FALSE(BlamesMessage(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS));
  EXPECT_TRUE(KafkaOutcome(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, nullptr).blames_row);
}

TEST(KafkaErrors, MessageLevelErrorsAreRejected) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_INVALID_MSG, RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE,
        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION}) {
    EXPECT_EQ(ClassifyKafkaError(err), DeliveryKind::kRejected) << rd_kafka_err2name(err);
  }
}

TEST(KafkaErrors, FatalProducerErrorsAreFatal) {
  EXPECT_EQ(ClassifyKafkaError(RD_KAFKA_RESP_ERR__FATAL), DeliveryKind::kFatal);
  EXPECT_EQ(ClassifyKafkaError(RD_KAFKA_RESP_ERR__FENCED), DeliveryKind::kFatal);
}

TEST(KafkaErrors, SuccessIsDelivered) {
  EXPECT_EQ(ClassifyKafkaError(RD_KAFKA_RESP_ERR_NO_ERROR), DeliveryKind::kDelivered);
}

TEST(KafkaErrors, ReasonIsABoundedLowerCaseName) {
  EXPECT_EQ(KafkaErrorReason(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), "msg_timed_out");
  EXPECT_EQ(KafkaErrorReason(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS), "not_enough_replicas");
}

}  // namespace
}  // namespace outbox
