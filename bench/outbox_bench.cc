// outbox-bench: the measuring half of bench/run. Each subcommand does one
// measurement against a running PostgreSQL (and broker, relay) and prints
// one result line; bench/run starts the services and strings them together.
//
//   fill     pre-fill the outbox (server-side, so filling costs no client time)
//   ceiling  the database's own limit: read a batch, delete it, repeat
//   drain    watch a relay empty the outbox: messages/s, CPU, peak RSS
//   steady   writers at a fixed rate + an independent Kafka consumer:
//            commit -> Kafka latency, the relay's own histogram, lag
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "outbox/pg_outbox_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;
using namespace std::chrono_literals;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(WallClock::now().time_since_epoch())
      .count();
}

// Nearest-rank percentile of an unsorted sample, in the sample's unit.
double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

// ---- fill -------------------------------------------------------------------

int Fill(const std::string& dsn, int64_t rows, int keys, int payload_bytes,
         const std::string& topic) {
  pqxx::connection c(dsn);
  const auto started = Clock::now();
  constexpr int64_t kChunk = 500000;
  for (int64_t done = 0; done < rows; done += kChunk) {
    const int64_t n = std::min(kChunk, rows - done);
    pqxx::work tx(c);
    tx.exec("INSERT INTO outbox (topic, key, payload, headers) SELECT " + tx.quote(topic) +
            ", 'key-' || (i % " + std::to_string(keys) + "), convert_to(repeat('x', " +
            std::to_string(payload_bytes) + "), 'UTF8'), '{\"type\": \"bench\"}' " +
            "FROM generate_series(" + std::to_string(done + 1) + ", " + std::to_string(done + n) +
            ") i");
    tx.commit();
  }
  pqxx::nontransaction(c).exec("VACUUM ANALYZE outbox");
  std::printf("fill: %lld rows of %d B over %d keys in %.1f s\n", static_cast<long long>(rows),
              payload_bytes, keys, SecondsSince(started));
  return 0;
}

// ---- ceiling ----------------------------------------------------------------

// The relay's own read and delete statements (PgOutboxStore), with no broker
// in between: the fastest this database empties the outbox.
int Ceiling(const std::string& dsn, size_t batch_size) {
  outbox::PgOutboxStore store(dsn);
  int64_t rows = 0, batches = 0;
  double read_s = 0, delete_s = 0;
  const auto started = Clock::now();
  for (;;) {
    const auto read_started = Clock::now();
    outbox::Result<std::vector<outbox::OutboxMessage>> batch = store.ReadBatch(batch_size);
    read_s += SecondsSince(read_started);
    if (!batch.ok()) {
      std::fprintf(stderr, "ceiling: %s\n", batch.status().message().c_str());
      return 1;
    }
    if (batch->empty()) break;
    outbox::Settlement settlement;
    for (const outbox::OutboxMessage& m : *batch) settlement.delivered.push_back(m.id);
    const auto delete_started = Clock::now();
    const outbox::Status s = store.Settle(settlement);
    delete_s += SecondsSince(delete_started);
    ++batches;
    if (!s.ok()) {
      std::fprintf(stderr, "ceiling: %s\n", s.message().c_str());
      return 1;
    }
    rows += static_cast<int64_t>(batch->size());
  }
  const double seconds = SecondsSince(started);
  std::printf(
      "ceiling: %lld rows in %.2f s = %.0f rows/s (batch %zu; per batch: read %.2f ms, "
      "delete %.2f ms)\n",
      static_cast<long long>(rows), seconds, rows / seconds, batch_size,
      read_s * 1000 / std::max<int64_t>(batches, 1),
      delete_s * 1000 / std::max<int64_t>(batches, 1));
  return 0;
}

// ---- explain ----------------------------------------------------------------

// The relay's batch read, planned and run as the relay runs it, with every
// shard leased (in a transaction that is rolled back, so no relay's lease is
// touched for good) and the lowest `in_flight` pending ids in flight, as in
// the middle of a drain. `plan_cache_mode`: as the relay's session sets it.
int Explain(const std::string& dsn, size_t batch_size, int64_t in_flight,
            const std::string& plan_cache_mode) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec("SET LOCAL plan_cache_mode = " + plan_cache_mode);
  const std::string in_flight_ids =
      tx.exec1(
            "SELECT coalesce(range_agg(int8range(id, id, '[]')), '{}')::text FROM (SELECT id "
            "FROM outbox "
            "WHERE sent_at IS NULL ORDER BY id LIMIT " +
            std::to_string(in_flight) + ") f")[0]
          .as<std::string>();
  const pqxx::row leases = tx.exec1(
      "WITH taken AS (UPDATE outbox_relay_lease SET owner = 'outbox-bench', epoch = epoch + 1, "
      "lease_until = now() + interval '1 min' RETURNING shard, epoch) "
      "SELECT array_agg(shard ORDER BY shard)::text, array_agg(epoch ORDER BY shard)::text, "
      "count(*) FROM taken");
  tx.exec("PREPARE read_batch AS " + outbox::PgOutboxStore::ReadBatchSql(batch_size));
  const std::string execute = "EXECUTE read_batch(" + tx.quote(in_flight_ids) + ", 16777216, 0, " +
                              tx.quote(leases[0].as<std::string>()) + ", " +
                              tx.quote(leases[1].as<std::string>()) + ", 'outbox-bench', " +
                              leases[2].as<std::string>() + ", 1000000)";
  // A session plans a statement once, at its first run (the relay's keeps
  // generic plans): the explained run is the second, as every later read.
  tx.exec(execute);
  const pqxx::result plan = tx.exec("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + execute);
  for (const pqxx::row& line : plan) std::printf("    %s\n", line[0].c_str());
  tx.abort();
  return 0;
}

// ---- drain ------------------------------------------------------------------

struct ProcessSample {
  double cpu_seconds = 0;
  double rss_mib = 0;
  double peak_rss_mib = 0;  // VmHWM: the process's high-water mark
};

ProcessSample SampleProcess(int pid) {
  ProcessSample sample;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name; utime and stime are 14, 15.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  sample.cpu_seconds = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_mib = std::stod(line.substr(6)) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) sample.peak_rss_mib = std::stod(line.substr(6)) / 1024;
  }
  return sample;
}

// Waits for the relay (pid) to send every pending row; the clock starts when the
// first row goes, so the relay's start-up is not counted.
int Drain(const std::string& dsn, int pid, const std::string& pid_file, const std::string& label,
          double timeout_s) {
  pqxx::connection c(dsn);
  const auto first_id = [&] {
    const pqxx::result r =
        pqxx::nontransaction(c).exec("SELECT min(id) FROM outbox WHERE sent_at IS NULL");
    return r[0][0].is_null() ? int64_t{-1} : r[0][0].as<int64_t>();
  };
  const auto count = [&] {
    return pqxx::nontransaction(c)
        .exec("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]
        .as<int64_t>();
  };
  const int64_t rows = count();
  const int64_t initial_first = first_id();
  const auto waiting = Clock::now();
  while (first_id() == initial_first && SecondsSince(waiting) < timeout_s) {
    std::this_thread::sleep_for(1ms);
  }
  const auto started = Clock::now();
  // Started before the relay: its pid arrives in a file. Its CPU time is
  // counted from its start (start-up included: a few milliseconds).
  for (int i = 0; pid == 0 && i < 2000; ++i) {
    std::ifstream in(pid_file);
    if (!(in >> pid)) std::this_thread::sleep_for(10ms);
  }
  if (pid == 0) {
    std::fprintf(stderr, "drain: no relay pid\n");
    return 1;
  }
  double max_rss = 0;
  while (first_id() != -1) {
    if (SecondsSince(waiting) > timeout_s) {
      std::fprintf(stderr, "drain: not empty after %.0f s\n", timeout_s);
      return 1;
    }
    max_rss = std::max(max_rss, SampleProcess(pid).rss_mib);
    std::this_thread::sleep_for(1ms);
  }
  const double seconds = SecondsSince(started);
  const ProcessSample after = SampleProcess(pid);
  const double cpu = after.cpu_seconds;
  std::printf(
      "drain%s: %lld msgs in %.2f s = %.0f msg/s; relay CPU %.3f s per 1000 msgs; "
      "peak RSS %.1f MiB\n",
      label.c_str(), static_cast<long long>(rows), seconds, rows / seconds, cpu * 1000 / rows,
      std::max(after.peak_rss_mib, max_rss));
  return 0;
}

// ---- steady -----------------------------------------------------------------

struct Committed {
  int64_t id;
  int64_t commit_us;
};

struct Consumed {
  int64_t id;
  int64_t kafka_ts_ms;
  int64_t received_us;
};

// Writers: each transaction inserts a business row and its outbox row.
class Writers {
 public:
  Writers(std::string dsn, std::string topic, int connections, double rate, int keys,
          int payload_bytes)
      : dsn_(std::move(dsn)),
        topic_(std::move(topic)),
        connections_(connections),
        rate_(rate),
        keys_(keys),
        payload_(payload_bytes, 'x') {}

  void Run(Clock::duration length) {
    std::vector<std::thread> threads;
    std::vector<std::vector<Committed>> per_thread(connections_);
    const auto end = Clock::now() + length;
    for (int t = 0; t < connections_; ++t) {
      threads.emplace_back([&, t] { Write(t, end, per_thread[t]); });
    }
    for (std::thread& thread : threads) thread.join();
    for (auto& part : per_thread) committed_.insert(committed_.end(), part.begin(), part.end());
  }

  const std::vector<Committed>& committed() const { return committed_; }

 private:
  void Write(int thread, Clock::time_point end, std::vector<Committed>& out) {
    pqxx::connection c(dsn_);
    c.prepare("order", "INSERT INTO bench_orders (customer, amount) VALUES ($1, $2)");
    c.prepare("outbox",
              "INSERT INTO outbox (topic, key, payload, headers) "
              "VALUES ($1, $2, convert_to($3, 'UTF8'), '{\"type\": \"OrderPlaced\"}') "
              "RETURNING id");
    // Open loop at rate/connections per thread; 0 = as fast as it can.
    const auto interval = rate_ > 0 ? std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(connections_ / rate_))
                                    : Clock::duration::zero();
    auto next = Clock::now();
    for (int64_t n = thread; Clock::now() < end; n += connections_) {
      if (rate_ > 0) {
        std::this_thread::sleep_until(next);
        next += interval;
      }
      const std::string key = "customer-" + std::to_string(n % keys_);
      pqxx::work tx(c);
      tx.exec_prepared("order", key, "42.00");
      const int64_t id = tx.exec_prepared("outbox", topic_, key, payload_)[0][0].as<int64_t>();
      tx.commit();
      out.push_back({id, WallMicros()});
    }
  }

  std::string dsn_, topic_;
  int connections_;
  double rate_;
  int keys_;
  std::string payload_;
  std::vector<Committed> committed_;
};

// An independent consumer: reads everything published after it started.
class Consumer {
 public:
  Consumer(const std::string& bootstrap, const std::string& topic) : topic_(topic) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "outbox-bench", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", err, sizeof err);
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (consumer_ == nullptr) throw std::runtime_error(err);
    rd_kafka_poll_set_consumer(consumer_);
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer_, topic.c_str(), nullptr);
    if (rd_kafka_metadata(consumer_, 0, handle, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        metadata->topic_cnt != 1 || metadata->topics[0].partition_cnt == 0) {
      throw std::runtime_error("no metadata for topic " + topic);
    }
    const int partitions = metadata->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(handle);
    // Start at each partition's current end, known before any writer runs.
    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      int64_t low = 0, high = 0;
      rd_kafka_query_watermark_offsets(consumer_, topic.c_str(), p, &low, &high, 10000);
      rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = high;
    }
    rd_kafka_assign(consumer_, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    thread_ = std::thread([this] { Loop(); });
  }

  ~Consumer() {
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
  }

  size_t count() {
    std::lock_guard lock(mu_);
    return consumed_.size();
  }

  std::vector<Consumed> consumed() {
    std::lock_guard lock(mu_);
    return consumed_;
  }

 private:
  void Loop() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 50);
      if (m == nullptr) continue;
      const int64_t received = WallMicros();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_t* headers = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(headers, "outbox-id", &value, &size) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
          const int64_t id = std::stoll(std::string(static_cast<const char*>(value), size));
          std::lock_guard lock(mu_);
          consumed_.push_back({id, rd_kafka_message_timestamp(m, nullptr), received});
        }
      }
      rd_kafka_message_destroy(m);
    }
  }

  std::string topic_;
  rd_kafka_t* consumer_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Consumed> consumed_;
  std::thread thread_;
};

// The relay's latency histogram: cumulative bucket counts by upper bound.
using Buckets = std::map<double, double>;

Buckets ScrapeLatencyHistogram(const std::string& metrics_url) {
  const auto slash = metrics_url.find('/', metrics_url.find("://") + 3);
  httplib::Client client(metrics_url.substr(0, slash));
  const auto response = client.Get(metrics_url.substr(slash).c_str());
  if (!response || response->status != 200) {
    throw std::runtime_error("cannot scrape " + metrics_url);
  }
  Buckets buckets;
  std::istringstream lines(response->body);
  std::string line;
  const std::string prefix = "outbox_relay_delivery_latency_seconds_bucket{le=\"";
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t end = line.find('"', prefix.size());
    const std::string le = line.substr(prefix.size(), end - prefix.size());
    buckets[le == "+Inf" ? INFINITY : std::stod(le)] = std::stod(line.substr(line.rfind(' ') + 1));
  }
  return buckets;
}

// histogram_quantile() as Prometheus computes it: linear within a bucket.
double HistogramQuantile(const Buckets& before, const Buckets& after, double q) {
  std::vector<std::pair<double, double>> counts;
  for (const auto& [le, n] : after) {
    const auto it = before.find(le);
    counts.emplace_back(le, n - (it == before.end() ? 0 : it->second));
  }
  if (counts.empty() || counts.back().second <= 0) return NAN;
  const double rank = q * counts.back().second;
  double lower_bound = 0, lower_count = 0;
  for (const auto& [le, n] : counts) {
    if (n >= rank) {
      if (std::isinf(le)) return lower_bound;
      return lower_bound + (le - lower_bound) * (rank - lower_count) / (n - lower_count);
    }
    lower_bound = le;
    lower_count = n;
  }
  return lower_bound;
}

double OldestPendingAge(pqxx::connection& c) {
  return pqxx::nontransaction(c)
      .exec(
          "SELECT coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 "
          "FROM (SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 1) "
          "oldest")[0][0]
      .as<double>();
}

// CPU seconds used so far by the parts of the steady stage, so that a miss
// can be explained: the relay, its database sessions, the writers' sessions,
// the broker, and the whole machine (busy time of every core).
struct CpuSplit {
  double relay = 0, relay_sessions = 0, postgres = 0, broker = 0, machine = 0;
};

// Fields 4 (parent pid) and 14-17 (utime, stime, and of waited-for children)
// of /proc/PID/stat.
std::vector<double> StatFields(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::vector<double> fields(18, 0);
  if (text.empty()) return fields;
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 17 && rest >> field; ++i) {
    if (i == 4 || i >= 14) fields[i] = std::stod(field);
  }
  return fields;
}

// All of PostgreSQL: the postmaster with its exited children (the writers'
// sessions end before the second sample) and every live child.
double PostgresCpu(pqxx::connection& c) {
  const int own = pqxx::nontransaction(c).exec1("SELECT pg_backend_pid()")[0].as<int>();
  const int postmaster = static_cast<int>(StatFields(own)[4]);
  const std::vector<double> p = StatFields(postmaster);
  double ticks = p[14] + p[15] + p[16] + p[17];
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::vector<double> child = StatFields(std::stoi(name));
    if (static_cast<int>(child[4]) == postmaster) ticks += child[14] + child[15];
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

CpuSplit SampleCpu(pqxx::connection& c, int relay_pid, int broker_pid) {
  CpuSplit split;
  if (relay_pid > 0) split.relay = SampleProcess(relay_pid).cpu_seconds;
  if (broker_pid > 0) split.broker = SampleProcess(broker_pid).cpu_seconds;
  for (const pqxx::row& session : pqxx::nontransaction(c).exec(
           "SELECT pid FROM pg_stat_activity WHERE application_name = 'outbox-relay'")) {
    split.relay_sessions += SampleProcess(session[0].as<int>()).cpu_seconds;
  }
  split.postgres = PostgresCpu(c);
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
  split.machine =
      (user + nice + system + irq + softirq) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return split;
}

int Steady(const std::string& dsn, const std::string& bootstrap, const std::string& topic,
           const std::string& metrics_url, double rate, double seconds, int connections, int keys,
           int payload_bytes, const std::string& dump_path, int relay_pid, int broker_pid) {
  pqxx::connection c(dsn);
  pqxx::nontransaction(c).exec(
      "CREATE TABLE IF NOT EXISTS bench_orders (id bigint GENERATED ALWAYS AS IDENTITY "
      "PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL, "
      "created_at timestamptz NOT NULL DEFAULT now())");
  // Warm-up, not measured: connections, metadata, caches on every side.
  {
    Writers warm_up(dsn, topic, connections, rate > 0 ? rate : 1000, keys, payload_bytes);
    warm_up.Run(1s);
  }
  while (OldestPendingAge(c) > 0) std::this_thread::sleep_for(10ms);
  Consumer consumer(bootstrap, topic);
  const Buckets before = ScrapeLatencyHistogram(metrics_url);
  Writers writers(dsn, topic, connections, rate, keys, payload_bytes);

  // Lag: the oldest pending row's age, sampled while the writers run.
  std::atomic<bool> writing{true};
  double max_age = 0;
  std::thread lag_sampler([&] {
    pqxx::connection lag_connection(dsn);
    while (writing) {
      max_age = std::max(max_age, OldestPendingAge(lag_connection));
      std::this_thread::sleep_for(100ms);
    }
  });
  const auto started = Clock::now();
  const CpuSplit cpu_before = SampleCpu(c, relay_pid, broker_pid);
  writers.Run(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  const double wrote_for = SecondsSince(started);
  const CpuSplit cpu_after = SampleCpu(c, relay_pid, broker_pid);
  writing = false;
  lag_sampler.join();

  const size_t expected = writers.committed().size();
  const auto deadline = Clock::now() + 60s;
  while (consumer.count() < expected && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  const double caught_up_after = SecondsSince(started) - wrote_for;
  std::this_thread::sleep_for(1s);  // the relay's histogram sees the last acks
  const Buckets after = ScrapeLatencyHistogram(metrics_url);

  std::unordered_map<int64_t, int64_t> commit_us;
  for (const Committed& row : writers.committed()) commit_us[row.id] = row.commit_us;
  std::vector<double> to_timestamp_ms, to_consumer_ms;
  size_t matched = 0;
  std::unordered_map<int64_t, int> seen;
  std::FILE* dump = dump_path.empty() ? nullptr : std::fopen(dump_path.c_str(), "w");
  if (dump != nullptr) std::fprintf(dump, "id,commit_us,kafka_timestamp_ms,consumed_us\n");
  for (const Consumed& m : consumer.consumed()) {
    const auto it = commit_us.find(m.id);
    if (it == commit_us.end() || seen[m.id]++ > 0) continue;
    ++matched;
    if (dump != nullptr) {
      std::fprintf(dump, "%lld,%lld,%lld,%lld\n", static_cast<long long>(m.id),
                   static_cast<long long>(it->second), static_cast<long long>(m.kafka_ts_ms),
                   static_cast<long long>(m.received_us));
    }
    to_timestamp_ms.push_back(static_cast<double>(m.kafka_ts_ms) - it->second / 1000.0);
    to_consumer_ms.push_back((m.received_us - it->second) / 1000.0);
  }
  if (dump != nullptr) std::fclose(dump);
  const double offered = rate > 0 ? rate : 0;
  const double achieved = expected / wrote_for;
  const bool kept_up = matched == expected && caught_up_after < 5;
  std::printf(
      "steady %s: wrote %zu in %.1f s (%.0f/s%s); consumed %zu of them%s; "
      "max oldest-pending age %.3f s; kept up: %s\n",
      rate > 0 ? (std::to_string(static_cast<int>(rate)) + "/s").c_str() : "max", expected,
      wrote_for, achieved, offered > 0 && achieved < 0.95 * offered ? ", BELOW OFFERED" : "",
      matched, matched < expected ? " (MISSING)" : "", max_age, kept_up ? "yes" : "NO");
  std::printf(
      "  commit -> Kafka timestamp   p50 %6.1f  p99 %6.1f  p99.9 %6.1f ms (consumer, 1 ms "
      "resolution)\n",
      Percentile(to_timestamp_ms, 50), Percentile(to_timestamp_ms, 99),
      Percentile(to_timestamp_ms, 99.9));
  std::printf("  commit -> consumed          p50 %6.1f  p99 %6.1f  p99.9 %6.1f ms (consumer)\n",
              Percentile(to_consumer_ms, 50), Percentile(to_consumer_ms, 99),
              Percentile(to_consumer_ms, 99.9));
  std::printf(
      "  commit -> broker ack        p50 %6.1f  p99 %6.1f  p99.9 %6.1f ms (relay histogram, "
      "interpolated)\n",
      HistogramQuantile(before, after, 0.5) * 1000, HistogramQuantile(before, after, 0.99) * 1000,
      HistogramQuantile(before, after, 0.999) * 1000);
  const auto cores = [&](double CpuSplit::*part) {
    return (cpu_after.*part - cpu_before.*part) / wrote_for;
  };
  std::printf(
      "  CPU, cores busy             relay %.2f, broker %.2f, PostgreSQL %.2f (of it the relay's "
      "sessions %.2f); whole machine %.2f of %ld\n",
      cores(&CpuSplit::relay), cores(&CpuSplit::broker), cores(&CpuSplit::postgres),
      cores(&CpuSplit::relay_sessions), cores(&CpuSplit::machine), sysconf(_SC_NPROCESSORS_ONLN));
  // Lag is a figure to read; a message that never arrived is a failure.
  return matched == expected ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"outbox-bench: measurements for bench/run"};
  app.require_subcommand(1);
  std::string dsn, bootstrap, topic = "orders", metrics_url, label;
  int64_t rows = 1000000;
  int keys = 10000, payload_bytes = 256, pid = 0, connections = 4;
  size_t batch_size = 500;
  double rate = 0, seconds = 10, timeout = 600;

  CLI::App* fill = app.add_subcommand("fill", "pre-fill the outbox");
  fill->add_option("--dsn", dsn)->required();
  fill->add_option("--rows", rows);
  fill->add_option("--keys", keys);
  fill->add_option("--payload-bytes", payload_bytes);
  fill->add_option("--topic", topic);

  CLI::App* ceiling = app.add_subcommand("ceiling", "read+delete loop, no broker");
  ceiling->add_option("--dsn", dsn)->required();
  ceiling->add_option("--batch-size", batch_size);

  CLI::App* explain = app.add_subcommand("explain", "EXPLAIN ANALYZE the relay's batch read");
  explain->add_option("--dsn", dsn)->required();
  explain->add_option("--batch-size", batch_size);
  int64_t in_flight = 0;
  explain->add_option("--in-flight", in_flight, "this many of the lowest pending ids in flight");
  std::string plan_cache_mode = "auto";
  explain->add_option("--plan-cache-mode", plan_cache_mode)
      ->check(CLI::IsMember({"auto", "force_custom_plan", "force_generic_plan"}));

  CLI::App* drain = app.add_subcommand("drain", "watch a relay empty the outbox");
  drain->add_option("--dsn", dsn)->required();
  std::string pid_file;
  drain->add_option("--pid", pid, "the relay's pid");
  drain->add_option("--pid-file", pid_file, "or a file the relay's pid will be written to");
  drain->add_option("--label", label);
  drain->add_option("--timeout", timeout);

  CLI::App* steady = app.add_subcommand("steady", "writers at a rate + independent consumer");
  steady->add_option("--dsn", dsn)->required();
  steady->add_option("--bootstrap", bootstrap)->required();
  steady->add_option("--metrics-url", metrics_url)->required();
  steady->add_option("--topic", topic);
  steady->add_option("--rate", rate, "transactions/s in total; 0 = as fast as possible");
  steady->add_option("--seconds", seconds);
  steady->add_option("--connections", connections);
  steady->add_option("--keys", keys);
  steady->add_option("--payload-bytes", payload_bytes);
  std::string dump_path;
  steady->add_option("--dump", dump_path, "write each message's timestamps to this CSV file");
  int relay_pid = 0, broker_pid = 0;
  steady->add_option("--relay-pid", relay_pid, "for the CPU split");
  steady->add_option("--broker-pid", broker_pid, "for the CPU split");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*fill) return Fill(dsn, rows, keys, payload_bytes, topic);
    if (*ceiling) return Ceiling(dsn, batch_size);
    if (*explain) return Explain(dsn, batch_size, in_flight, plan_cache_mode);
    if (*drain) return Drain(dsn, pid, pid_file, label.empty() ? "" : " " + label, timeout);
    if (*steady) {
      return Steady(dsn, bootstrap, topic, metrics_url, rate, seconds, connections, keys,
                    payload_bytes, dump_path, relay_pid, broker_pid);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outbox-bench: %s\n", e.what());
    return 1;
  }
  return 2;
}
