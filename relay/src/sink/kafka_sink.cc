#include "sink/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "common/text.h"
#include "sink/kafka_conf.h"
#include "sink/kafka_errors.h"

namespace outbox {
namespace {

// The bytes of the headers the relay adds itself (outbox-id, outbox-seq).
int64_t RelayHeaderBytes(const OutboxMessage& m) {
  int64_t size = std::strlen(kIdHeader) + std::to_string(m.id).size();
  if (m.key_seq) size += std::strlen(kSeqHeader) + std::to_string(*m.key_seq).size();
  return size;
}

// Kafka's rule for topic names.
bool IsValidTopicName(const std::string& topic) {
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") return false;
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

Result<std::unique_ptr<KafkaSink>> KafkaSink::Create(const KafkaConfig& config) {
  std::unique_ptr<KafkaSink> sink(new KafkaSink(config));
  if (Status s = sink->Connect(); !s.ok()) return s;
  return sink;
}

KafkaSink::KafkaSink(KafkaConfig config) : config_(std::move(config)) {}

KafkaSink::~KafkaSink() { Disconnect(); }

Status KafkaSink::Connect() {
  std::vector<KafkaPropertyProblem> problems;
  ConfPtr conf = BuildConf(config_, &problems);
  if (!problems.empty()) {
    return Status(StatusCode::kInvalidArgument, problems.front().problem);
  }
  message_timeout_ =
      std::chrono::milliseconds(IntegerProperty(conf.get(), "message.timeout.ms", 300000));
  message_max_bytes_ = IntegerProperty(conf.get(), "message.max.bytes", 1000000);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::OnDelivery);
  rd_kafka_conf_set_stats_cb(conf.get(), &KafkaSink::OnStatistics);
  char errstr[512];
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
  if (producer_ == nullptr) {
    return Status(StatusCode::kInvalidArgument, errstr);
  }
  conf.release();  // owned by the producer now
  rebuild_needed_ = false;
  // Topics known in advance get their partition leaders looked up now, in
  // the background, rather than on the first message (~0.2 s later).
  for (const std::string& topic : config_.topics) {
    if (rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_, topic.c_str(), nullptr)) {
      rd_kafka_topic_destroy(handle);
    }
  }
  return Status::Ok();
}

void KafkaSink::Disconnect() {
  if (producer_ == nullptr) return;
  rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_, 0);
  rd_kafka_destroy(producer_);
  producer_ = nullptr;
}

std::optional<Rejection> KafkaSink::Precheck(const OutboxMessage& m) const {
  if (!IsValidTopicName(m.topic)) {
    return Rejection{kInvalidTopic,
                     "topic \"" + Abbreviated(m.topic) +
                         "\" is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"};
  }
  // The same sum librdkafka checks (key + value + headers), ignoring the
  // record overhead, so a row librdkafka would refuse never reaches it.
  int64_t size = (m.key ? m.key->size() : 0) + (m.payload ? m.payload->size() : 0);
  for (const auto& [name, value] : m.headers) size += name.size() + value.size();
  size += RelayHeaderBytes(m);
  if (size > message_max_bytes_) {
    return Rejection{kMessageTooLarge, "message of " + std::to_string(size) +
                                           " bytes exceeds message.max.bytes (" +
                                           std::to_string(message_max_bytes_) + ")"};
  }
  return std::nullopt;
}

void KafkaSink::Send(std::span<const OutboxMessage> batch) {
  InFlight sent;
  sent.outcomes.resize(batch.size());
  if (rebuild_needed_ || producer_ == nullptr) {
    // Nothing still in flight may be reported by a producer that is gone.
    if (!in_flight_.empty()) Withdraw();
    LogInfo("rebuilding the kafka producer");
    Disconnect();
    if (Status s = Connect(); !s.ok()) {
      for (DeliveryOutcome& o : sent.outcomes) {
        o = {DeliveryKind::kFatal, "producer_create_failed", s.message()};
      }
      in_flight_.push_back(std::move(sent));
      return;
    }
  }
  if (inspector_ != nullptr) {
    for (const OutboxMessage& m : batch) {
      if (seen_topics_.insert(m.topic).second) inspector_->CheckInBackground(m.topic);
    }
  }
  sent.first_seq = next_seq_;
  next_seq_ += batch.size();
  in_flight_.push_back(std::move(sent));
  Enqueue(batch, in_flight_.back());
}

std::vector<DeliveryOutcome> KafkaSink::AwaitOldest(const GiveUp& give_up) {
  // Reports that arrived while the caller was busy are served first, so a
  // batch whose acks are all in is complete even if give_up() is true.
  if (producer_ != nullptr) rd_kafka_poll(producer_, 0);
  while (in_flight_.front().outstanding > 0 && !give_up()) {
    rd_kafka_poll(producer_, 50);
  }
  if (in_flight_.front().outstanding > 0) Withdraw();
  std::vector<DeliveryOutcome> outcomes = std::move(in_flight_.front().outcomes);
  in_flight_.pop_front();

  char fatal[512];
  if (producer_ != nullptr &&
      rd_kafka_fatal_error(producer_, fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR &&
      !rebuild_needed_) {
    LogError("kafka producer hit a fatal error; it will be rebuilt", {{"error", fatal}});
    rebuild_needed_ = true;
  }
  return outcomes;
}

void KafkaSink::Enqueue(std::span<const OutboxMessage> batch, InFlight& in_flight) {
  for (size_t i = 0; i < batch.size(); ++i) {
    const OutboxMessage& m = batch[i];
    const std::string id = std::to_string(m.id);
    const std::string seq = m.key_seq ? std::to_string(*m.key_seq) : std::string();
    // The RD_KAFKA_V_* macros cast their arguments: pass plain variables.
    void* key = m.key ? const_cast<char*>(m.key->data()) : nullptr;
    const size_t key_size = m.key ? m.key->size() : 0;
    void* value = m.payload ? const_cast<char*>(m.payload->data()) : nullptr;
    const size_t value_size = m.payload ? m.payload->size() : 0;
    void* opaque = reinterpret_cast<void*>(static_cast<uintptr_t>(in_flight.first_seq + i));
    for (;;) {
      rd_kafka_headers_t* headers = rd_kafka_headers_new(m.headers.size() + 2);
      rd_kafka_header_add(headers, kIdHeader, -1, id.data(), id.size());
      if (m.key_seq) rd_kafka_header_add(headers, kSeqHeader, -1, seq.data(), seq.size());
      for (const auto& [name, value] : m.headers) {
        rd_kafka_header_add(headers, name.data(), name.size(), value.data(), value.size());
      }
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(m.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++in_flight.outstanding;
        break;
      }
      rd_kafka_headers_destroy(headers);
      // A full local queue drains as reports are served; retrying the same
      // message before the next one keeps the batch in order.
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer_, 10);
        continue;
      }
      in_flight.outcomes[i] = KafkaOutcome(err, nullptr);
      break;
    }
  }
}

size_t KafkaSink::outstanding() const {
  size_t n = 0;
  for (const InFlight& batch : in_flight_) n += batch.outstanding;
  return n;
}

void KafkaSink::Withdraw() {
  LogWarn("giving up on outstanding delivery reports; those rows stay pending",
          {{"outstanding", outstanding()}});
  rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  // Purged messages are reported on the next poll.
  for (int i = 0; i < 20 && outstanding() > 0; ++i) rd_kafka_poll(producer_, 50);
  // Their acks could still come back on this instance; a fresh producer
  // guarantees that no report for these batches arrives later. Messages
  // still without a report stay kNotReported.
  rebuild_needed_ = true;
  for (InFlight& batch : in_flight_) batch.outstanding = 0;
}

void KafkaSink::Poll() {
  if (producer_ != nullptr) rd_kafka_poll(producer_, 0);
}

int KafkaSink::OnStatistics(rd_kafka_t*, char* json, size_t size, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  if (self->stats_handler_) {
    if (std::optional<KafkaStats> stats = ParseKafkaStats(std::string_view(json, size))) {
      self->stats_handler_(*stats);
    }
  }
  return 0;  // librdkafka frees the JSON
}

void KafkaSink::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const auto seq = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message->_private));
  for (InFlight& batch : self->in_flight_) {
    if (seq < batch.first_seq || seq >= batch.first_seq + batch.outcomes.size()) continue;
    // Nothing outstanding: the batch was withdrawn (or is complete); a late
    // report must not change what the caller was or will be told.
    if (batch.outstanding == 0) return;
    DeliveryOutcome outcome =
        KafkaOutcome(message->err, message->err ? rd_kafka_err2str(message->err) : nullptr);
    outcome.partition = message->partition;
    outcome.offset = message->offset;
    batch.outcomes[seq - batch.first_seq] = std::move(outcome);
    --batch.outstanding;
    return;
  }
}

}  // namespace outbox
