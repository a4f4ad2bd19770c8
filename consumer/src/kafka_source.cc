#include "kafka_source.h"

#include <cstring>
#include <stdexcept>

namespace outbox::inbox {
namespace {

bool Cooperative(rd_kafka_t* rk) {
  return std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
}

void Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::invalid_argument("kafka property " + name + ": " + error);
  }
}

}  // namespace

KafkaSource::KafkaSource(const Options& options, Logger& log,
                         std::function<void(const std::string&, int32_t)> on_revoked)
    : log_(log), on_revoked_(std::move(on_revoked)) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", options.bootstrap_servers);
  Set(conf, "group.id", options.name);
  // A new group starts at the beginning: the inbox drops what it has seen,
  // and nothing written before the consumer first joined is skipped.
  Set(conf, "auto.offset.reset", "earliest");
  for (const auto& [name, value] : options.kafka_properties) Set(conf, name, value);
  // The inbox's guarantee rests on these: offsets move only after the
  // database committed.
  Set(conf, "enable.auto.commit", "false");
  Set(conf, "enable.auto.offset.store", "false");
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::OnRebalance);
  rd_kafka_conf_set_opaque(conf, this);
  char error[512];
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (consumer_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::invalid_argument(std::string("kafka: ") + error);
  }
  rd_kafka_poll_set_consumer(consumer_);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size()));
  for (const std::string& topic : options.topics) {
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(consumer_);
    throw std::invalid_argument(std::string("kafka subscribe: ") + rd_kafka_err2str(err));
  }
}

KafkaSource::~KafkaSource() {
  Close();
  rd_kafka_destroy(consumer_);
}

void KafkaSource::OnRebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaSource*>(opaque)->Rebalance(err, partitions);
}

void KafkaSource::Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = Cooperative(consumer_);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) {
      marks_.try_emplace({partitions->elems[i].topic, partitions->elems[i].partition});
      log_(LogLevel::kInfo, "partition assigned",
           {{"topic", partitions->elems[i].topic}, {"partition", partitions->elems[i].partition}});
    }
    if (cooperative) {
      rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer_, partitions);
      if (error != nullptr) rd_kafka_error_destroy(error);
    } else {
      rd_kafka_assign(consumer_, partitions);
    }
    return;
  }
  // Revoked (or lost): what was applied is committed first, so the next
  // owner starts after it. After a loss the commit fails (the group has
  // moved on) and the next owner gets those messages again: the inbox
  // drops them.
  CommitMarked(true, partitions);
  for (int i = 0; i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = partitions->elems[i];
    marks_.erase({p.topic, p.partition});
    log_(LogLevel::kInfo, "partition revoked", {{"topic", p.topic}, {"partition", p.partition}});
    on_revoked_(p.topic, p.partition);
  }
  if (cooperative) {
    rd_kafka_error_t* error = rd_kafka_incremental_unassign(consumer_, partitions);
    if (error != nullptr) rd_kafka_error_destroy(error);
  } else {
    rd_kafka_assign(consumer_, nullptr);
  }
}

std::optional<Message> KafkaSource::Poll(std::chrono::milliseconds timeout) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, static_cast<int>(timeout.count()));
  if (m == nullptr) return std::nullopt;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string error = rd_kafka_message_errstr(m);
    rd_kafka_resp_err_t code = m->err;
    rd_kafka_message_destroy(m);
    if (code == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::nullopt;
    char fatal[512];
    if (rd_kafka_fatal_error(consumer_, fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("kafka: fatal: ") + fatal);
    }
    log_(LogLevel::kWarn, "kafka consumer error", {{"error", error}});
    return std::nullopt;
  }
  Message message;
  message.topic = rd_kafka_topic_name(m->rkt);
  message.partition = m->partition;
  message.offset = m->offset;
  if (m->key != nullptr) message.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) {
    message.payload.emplace(static_cast<const char*>(m->payload), m->len);
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      message.headers.emplace_back(name, value == nullptr
                                             ? std::string()
                                             : std::string(static_cast<const char*>(value), size));
    }
  }
  rd_kafka_message_destroy(m);
  return message;
}

void KafkaSource::MarkApplied(const std::string& topic, int32_t partition, int64_t offset) {
  auto it = marks_.find({topic, partition});
  if (it == marks_.end()) return;  // revoked meanwhile: its next owner has it
  it->second.next = offset + 1;
  it->second.committed = false;
}

void KafkaSource::CommitMarked(bool synchronous, const rd_kafka_topic_partition_list_t* only) {
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(8);
  for (auto& [tp, mark] : marks_) {
    if (mark.committed || mark.next < 0) continue;
    if (only != nullptr &&
        rd_kafka_topic_partition_list_find(only, tp.first.c_str(), tp.second) == nullptr) {
      continue;
    }
    rd_kafka_topic_partition_list_add(offsets, tp.first.c_str(), tp.second)->offset = mark.next;
    // Marked before the answer: a failed commit is repeated by the next
    // mark's commit, and until then only costs redeliveries.
    mark.committed = true;
  }
  if (offsets->cnt > 0) {
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, offsets, synchronous ? 0 : 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log_(LogLevel::kWarn, "offset commit failed (those messages may come again)",
           {{"error", rd_kafka_err2str(err)}});
    }
  }
  rd_kafka_topic_partition_list_destroy(offsets);
}

void KafkaSource::Commit(bool synchronous) { CommitMarked(synchronous, nullptr); }

std::vector<PartitionLag> KafkaSource::Lags() {
  std::vector<PartitionLag> lags;
  for (const auto& [tp, mark] : marks_) {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_, tp.first.c_str(), tp.second, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    int64_t next = mark.next;
    if (next < 0) {
      // Nothing applied here yet: the fetch position, if there is one.
      rd_kafka_topic_partition_list_t* position = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_list_add(position, tp.first.c_str(), tp.second);
      if (rd_kafka_position(consumer_, position) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        next = position->elems[0].offset;
      }
      rd_kafka_topic_partition_list_destroy(position);
      if (next < 0) next = low;
    }
    lags.push_back({tp.first, tp.second, high > next ? high - next : 0});
  }
  return lags;
}

void KafkaSource::Close() {
  if (closed_) return;
  closed_ = true;
  Commit(true);
  rd_kafka_consumer_close(consumer_);
}

}  // namespace outbox::inbox
