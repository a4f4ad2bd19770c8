#include "sink/topic_reader.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "sink/kafka_conf.h"
#include "sink/kafka_errors.h"

namespace outbox {
namespace {

// A header's value as a decimal number; false if present but not one.
bool NumberHeader(rd_kafka_headers_t* headers, const char* name, std::optional<int64_t>* out) {
  const void* value = nullptr;
  size_t size = 0;
  if (headers == nullptr ||
      rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return true;
  }
  const char* text = static_cast<const char*>(value);
  int64_t number = 0;
  const auto [end, ec] = std::from_chars(text, text + size, number);
  if (value == nullptr || ec != std::errc() || end != text + size) return false;
  *out = number;
  return true;
}

Status KafkaStatus(rd_kafka_resp_err_t err, const std::string& what) {
  return Status(StatusCode::kUnavailable,
                what + ": " + rd_kafka_err2str(err) + " (" + KafkaErrorReason(err) + ")");
}

}  // namespace

Result<std::unique_ptr<TopicReader>> TopicReader::Create(const KafkaConfig& config) {
  ConfPtr conf = BuildReaderConf(config);
  char errstr[512];
  for (const auto& [name, value] : std::initializer_list<std::pair<const char*, const char*>>{
           {"client.id", "outbox-relay-audit"},
           // Needed by librdkafka's consumer; no group is joined (assign
           // only) and nothing is committed.
           {"group.id", "outbox-relay-audit"},
           {"enable.auto.commit", "false"},
           {"enable.auto.offset.store", "false"},
           {"enable.partition.eof", "true"},
           {"auto.offset.reset", "earliest"},
           {"fetch.wait.max.ms", "100"},
           // librdkafka fetches ahead up to 100,000 messages / 64 MiB per
           // partition by default: the audit's memory would follow the
           // partition's size. 16 MiB ahead keeps it flat and fetching.
           {"queued.max.messages.kbytes", "16384"}}) {
    if (rd_kafka_conf_set(conf.get(), name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      return Status(StatusCode::kInvalidArgument, std::string(name) + ": " + errstr);
    }
  }
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof errstr);
  if (consumer == nullptr) return Status(StatusCode::kInvalidArgument, errstr);
  conf.release();  // owned by the client now
  return std::unique_ptr<TopicReader>(new TopicReader(consumer));
}

TopicReader::~TopicReader() {
  rd_kafka_consumer_close(consumer_);
  rd_kafka_destroy(consumer_);
}

Result<std::vector<PartitionExtent>> TopicReader::Partitions(const std::string& topic,
                                                             std::chrono::milliseconds timeout) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(consumer_, 0, handle, &metadata, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(handle);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "reading the topic's metadata");
  std::vector<int32_t> ids;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int t = 0; t < metadata->topic_cnt; ++t) {
    const rd_kafka_metadata_topic_t& m = metadata->topics[t];
    if (topic != m.topic) continue;
    topic_err = m.err;
    for (int p = 0; p < m.partition_cnt; ++p) ids.push_back(m.partitions[p].id);
  }
  rd_kafka_metadata_destroy(metadata);
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(topic_err, "topic " + topic);
  if (ids.empty())
    return Status(StatusCode::kFailedPrecondition, "topic " + topic + " has no partitions");
  std::sort(ids.begin(), ids.end());
  std::vector<PartitionExtent> out;
  for (int32_t id : ids) {
    PartitionExtent extent;
    extent.partition = id;
    const rd_kafka_resp_err_t w =
        rd_kafka_query_watermark_offsets(consumer_, topic.c_str(), id, &extent.log_start,
                                         &extent.end, static_cast<int>(timeout.count()));
    if (w != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(w, "reading the offsets of partition " + std::to_string(id));
    }
    out.push_back(extent);
  }
  return out;
}

Result<int64_t> TopicReader::OffsetForTime(const std::string& topic, int32_t partition,
                                           int64_t unix_ms, int64_t end,
                                           std::chrono::milliseconds timeout) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = unix_ms;
  const rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(consumer_, list, static_cast<int>(timeout.count()));
  const int64_t offset = list->elems[0].offset;
  const rd_kafka_resp_err_t part_err = list->elems[0].err;
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "finding offsets by time");
  if (part_err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(part_err, "finding an offset");
  return offset < 0 ? end : offset;  // -1: no message that late
}

Status TopicReader::Read(const std::string& topic, int32_t partition, int64_t from, int64_t to,
                         const std::function<void(const AuditedMessage&)>& on_message,
                         std::chrono::milliseconds stall) {
  if (from >= to) return Status::Ok();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = from;
  rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "assigning the partition");
  Status result = Status::Ok();
  int64_t next = from;
  auto last_progress = std::chrono::steady_clock::now();
  while (next < to) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_, 200);
    if (message == nullptr) {
      if (std::chrono::steady_clock::now() - last_progress > stall) {
        result = Status(StatusCode::kUnavailable, "partition " + std::to_string(partition) +
                                                      " stalled at offset " + std::to_string(next) +
                                                      " of " + std::to_string(to) + " for " +
                                                      std::to_string(stall.count() / 1000) + " s");
        break;
      }
      continue;
    }
    err = message->err;
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The log ends before `to`: what was there is gone (the broker lost
      // it, or the log was truncated).
      next = to;
    } else if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      // librdkafka reconnects; the stall timer decides.
    } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = KafkaStatus(err, "reading partition " + std::to_string(partition));
      rd_kafka_message_destroy(message);
      break;
    } else if (message->offset < to) {
      AuditedMessage m;
      m.partition = partition;
      m.offset = message->offset;
      if (message->key != nullptr) {
        m.key.emplace(static_cast<const char*>(message->key), message->key_len);
      }
      rd_kafka_headers_t* headers = nullptr;
      rd_kafka_message_headers(message, &headers);
      const bool id_ok = NumberHeader(headers, kIdHeader, &m.id);
      const bool seq_ok = NumberHeader(headers, kSeqHeader, &m.seq);
      m.malformed_header = !id_ok || !seq_ok;
      on_message(m);
      next = message->offset + 1;
      last_progress = std::chrono::steady_clock::now();
    } else {
      next = to;
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_assign(consumer_, nullptr);
  return result;
}

}  // namespace outbox
