#include "fault/consumer.h"

#include <stdexcept>

namespace outbox::fault {

Consumer::Consumer(const std::string& bootstrap, const std::string& topic, int partitions)
    : topic_(topic), partitions_(partitions), next_offset_(partitions, 0) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  for (const auto& [name, value] :
       {std::pair<const char*, std::string>{"bootstrap.servers", bootstrap},
        {"group.id", "fault-checker"},
        {"enable.auto.commit", "false"},
        {"log_level", "2"}}) {
    rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr);
  }
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (consumer_ == nullptr) throw std::runtime_error(errstr);
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer_, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  thread_ = std::thread([this] { Work(); });
}

Consumer::~Consumer() {
  stopping_ = true;
  thread_.join();
  rd_kafka_consumer_close(consumer_);
  rd_kafka_destroy(consumer_);
}

void Consumer::Work() {
  while (!stopping_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Consumed c{
          m->partition, m->offset, std::nullopt, "", -1, -1, std::chrono::system_clock::now()};
      if (m->key != nullptr) c.key.emplace(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) c.payload.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void* value;
        size_t size;
        int ids = 0;
        while (rd_kafka_header_get(headers, ids, "outbox-id", &value, &size) == 0) ++ids;
        if (rd_kafka_header_get_last(headers, "outbox-id", &value, &size) == 0) {
          c.outbox_id = std::stoll(std::string(static_cast<const char*>(value), size));
        }
        if (ids != 1) c.outbox_id = -2;
        if (rd_kafka_header_get_last(headers, "key-seq", &value, &size) == 0) {
          c.key_seq = std::stoi(std::string(static_cast<const char*>(value), size));
        }
      }
      std::lock_guard lock(mutex_);
      records_.push_back(std::move(c));
      next_offset_[m->partition] = m->offset + 1;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      std::lock_guard lock(mutex_);
      last_error_ = "partition " + std::to_string(m->partition) + ": " + rd_kafka_message_errstr(m);
    }
    rd_kafka_message_destroy(m);
  }
}

std::string Consumer::why_not() {
  std::lock_guard lock(mutex_);
  return why_not_ + (last_error_.empty() ? "" : "; the consumer's last error: " + last_error_);
}

bool Consumer::CatchUp(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool caught_up = true;
    for (int p = 0; p < partitions_ && caught_up; ++p) {
      int64_t low = 0, high = 0;
      const rd_kafka_resp_err_t err =
          rd_kafka_query_watermark_offsets(consumer_, topic_.c_str(), p, &low, &high, 5000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        why_not_ =
            "no watermarks for partition " + std::to_string(p) + ": " + rd_kafka_err2name(err);
        caught_up = false;
        break;
      }
      std::lock_guard lock(mutex_);
      caught_up = next_offset_[p] >= high;
      if (!caught_up) {
        why_not_ = "partition " + std::to_string(p) + " read up to offset " +
                   std::to_string(next_offset_[p]) + " of " + std::to_string(high);
      }
    }
    if (caught_up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

bool Consumer::Evicted() {
  for (int p = 0; p < partitions_; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(consumer_, topic_.c_str(), p, &low, &high, 5000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        low > 0) {
      why_not_ = "partition " + std::to_string(p) + " starts at offset " + std::to_string(low);
      return true;
    }
  }
  return false;
}

std::string Consumer::Skipped() {
  std::lock_guard lock(mutex_);
  std::vector<std::set<int64_t>> read(partitions_);
  for (const Consumed& c : records_) read[c.partition].insert(c.offset);
  std::string out;
  for (int p = 0; p < partitions_; ++p) {
    std::string holes;
    for (int64_t offset = 0; offset < next_offset_[p]; ++offset) {
      if (read[p].count(offset) > 0) continue;
      int64_t last = offset;
      while (last + 1 < next_offset_[p] && read[p].count(last + 1) == 0) ++last;
      holes += (holes.empty() ? "" : ", ") + std::to_string(offset) +
               (last > offset ? "-" + std::to_string(last) : "");
      offset = last;
    }
    if (!holes.empty())
      out += (out.empty() ? "" : "; ") + ("partition " + std::to_string(p) + ": " + holes);
  }
  return out;
}

std::vector<Consumed> Consumer::Records() {
  std::lock_guard lock(mutex_);
  return records_;
}

}  // namespace outbox::fault
