#include "outbox/inbox/consumer.h"

#include <prometheus/registry.h>

#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>

#include "inbox_metrics.h"
#include "kafka_source.h"
#include "log_line.h"
#include "pg_inbox_store.h"
#include "processor.h"
#include "text.h"

namespace outbox::inbox {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollTimeout{100};
constexpr int kRetentionBatch = 10'000;

void Validate(const Options& o) {
  const auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("outbox::inbox::Options: ") + what);
  };
  require(!o.name.empty(), "name is required (it keys the inbox's rows)");
  require(IsStorableText(o.name), "name must be UTF-8 text without NUL");
  require(!o.postgres_dsn.empty(), "postgres_dsn is required");
  require(!o.bootstrap_servers.empty(), "bootstrap_servers is required");
  require(!o.topics.empty(), "topics: at least one is required");
  require(o.max_attempts >= 0, "max_attempts must be 0 (for ever) or more");
  require(o.retry_backoff.count() >= 0 && o.max_retry_backoff >= o.retry_backoff,
          "retry_backoff must be >= 0 and <= max_retry_backoff");
  require(o.commit_interval.count() > 0, "commit_interval must be positive");
  require(o.max_batch >= 1 && o.max_batch <= 64, "max_batch must be 1..64");
  require(o.retention.count() >= 0, "retention must be 0 (keep) or positive");
  require(o.retention.count() == 0 || o.retention_interval.count() > 0,
          "retention_interval must be positive");
  for (const char* fixed : {"enable.auto.commit", "enable.auto.offset.store"}) {
    auto it = o.kafka_properties.find(fixed);
    if (it != o.kafka_properties.end() && it->second != "false") {
      throw std::invalid_argument(std::string("outbox::inbox::Options: kafka_properties: ") +
                                  fixed + " must stay false: offsets move only after the " +
                                  "database commit");
    }
  }
}

// Log line, metric, hook: what the processor reports, in that order.
class Events : public ProcessorEvents {
 public:
  Events(const Options& options, Logger& log, InboxMetrics& metrics)
      : options_(options), log_(log), metrics_(metrics) {}

  void OnDecided(const Message& m, Outcome outcome) override {
    metrics_.Decided(outcome);
    switch (outcome) {
      case Outcome::kApplied:
        ++stats.applied;
        break;
      case Outcome::kDuplicate:
        ++stats.duplicates;
        log_(LogLevel::kInfo, "duplicate dropped",
             {{"outbox_id", m.outbox_id},
              {"topic", m.topic},
              {"partition", m.partition},
              {"offset", m.offset}});
        break;
      case Outcome::kHeld:
        ++stats.held;
        break;
      case Outcome::kDeadLettered:
        ++stats.dead_lettered;
        break;
      case Outcome::kStopped:
        break;
    }
  }

  void OnDeadLettered(const Message& m, const std::string& reason,
                      const std::string& error) override {
    metrics_.DeadLettered(reason);
    log_(LogLevel::kWarn, "message dead-lettered",
         {{"reason", reason},
          {"error", error},
          {"topic", m.topic},
          {"partition", m.partition},
          {"offset", m.offset}});
  }

  void OnSequenceBreak(const SequenceBreak& e) override {
    const bool gap = e.kind == SequenceBreak::Kind::kGap;
    ++(gap ? stats.gaps : stats.reorders);
    metrics_.SequenceBreak(e.kind);
    log_(LogLevel::kWarn, gap ? "sequence gap" : "sequence reorder",
         {{"key", e.key},
          {"expected", e.expected},
          {"got", e.got},
          {"outbox_id", e.outbox_id},
          {"topic", e.topic},
          {"partition", e.partition},
          {"offset", e.offset},
          {"action", e.held ? (gap ? "held" : "dead_lettered") : "applied"}});
    if (!options_.on_sequence_break) return;
    try {
      options_.on_sequence_break(e);
    } catch (const std::exception& error) {
      // The message is applied (or held) already: a hook's failure cannot
      // undo that, and must not stop the consumer.
      log_(LogLevel::kError, "on_sequence_break hook threw", {{"error", error.what()}});
    } catch (...) {
      log_(LogLevel::kError, "on_sequence_break hook threw", {{"error", "not a std::exception"}});
    }
  }

  void OnHandlerError(const Message& m, const std::string& error, int attempt,
                      bool transient) override {
    ++stats.handler_errors;
    metrics_.HandlerError();
    log_(LogLevel::kWarn, "handler failed; rolled back, will retry or dead-letter",
         {{"error", error},
          {"attempt", static_cast<int64_t>(attempt)},
          {"transient", transient ? "true" : "false"},
          {"outbox_id", m.outbox_id},
          {"topic", m.topic},
          {"partition", m.partition},
          {"offset", m.offset}});
  }

  void OnStoreError(const std::string& error) override {
    metrics_.StoreError();
    log_(LogLevel::kError, "inbox database unavailable; retrying", {{"error", error}});
  }

  // Read by Consumer::stats() on any thread.
  struct Counts {
    std::atomic<int64_t> applied{0}, duplicates{0}, held{0}, dead_lettered{0}, gaps{0}, reorders{0},
        handler_errors{0};
  } stats;

  Stats Snapshot() const {
    return Stats{stats.applied.load(),       stats.duplicates.load(), stats.held.load(),
                 stats.dead_lettered.load(), stats.gaps.load(),       stats.reorders.load(),
                 stats.handler_errors.load()};
  }

 private:
  const Options& options_;
  Logger& log_;
  InboxMetrics& metrics_;
};

}  // namespace

struct Consumer::Parts {
  Parts(Options o, Handler handler, const std::atomic<bool>& stopping)
      : options(std::move(o)),
        log(options.log, options.name),
        metrics(options.registry ? options.registry : std::make_shared<prometheus::Registry>(),
                options.name),
        events(options, log, metrics),
        store(options.postgres_dsn, options.name, std::move(handler), !options.behind_pooler),
        processor(
            store,
            ProcessorPolicy{options.on_gap, options.max_attempts, options.retry_backoff,
                            options.max_retry_backoff},
            [&stopping](std::chrono::milliseconds delay) {
              // In slices, so that Stop() is not kept waiting.
              const auto until = Clock::now() + delay;
              while (Clock::now() < until) {
                if (stopping.load()) return false;
                std::this_thread::sleep_for(
                    std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
              }
              return !stopping.load();
            },
            events),
        source(options, log, [this](const std::string& topic, int32_t partition) {
          metrics.DropLag(topic, partition);
        }) {}

  void RetentionRound() {
    if (options.retention.count() == 0) return;
    try {
      int64_t removed = 0, round = 0;
      do {
        round = store.RemoveOlderThan(options.retention, kRetentionBatch);
        removed += round;
      } while (round == kRetentionBatch);
      metrics.RetentionRemoved(removed);
      if (removed > 0) log(LogLevel::kInfo, "inbox retention", {{"removed", removed}});
    } catch (const StoreUnavailable& e) {
      metrics.StoreError();
      log(LogLevel::kWarn, "inbox retention failed; next round retries", {{"error", e.what()}});
    }
  }

  Options options;
  Logger log;
  InboxMetrics metrics;
  Events events;
  PgInboxStore store;
  Processor processor;
  KafkaSource source;
};

Consumer::Consumer(Options options, Handler handler) {
  Validate(options);
  if (!handler) throw std::invalid_argument("outbox::inbox::Consumer: a handler is required");
  parts_ = std::make_unique<Parts>(std::move(options), std::move(handler), stopping_);
}

Consumer::~Consumer() = default;

void Consumer::Run() {
  Parts& p = *parts_;
  p.log(LogLevel::kInfo, "inbox consumer started");
  auto next_commit = Clock::now() + p.options.commit_interval;
  auto next_retention = Clock::now();
  while (!stopping_.load()) {
    if (std::optional<Message> message = p.source.Poll(kPollTimeout)) {
      if (p.options.max_batch == 1) {
        const std::string topic = message->topic;
        const int32_t partition = message->partition;
        const int64_t offset = message->offset;
        if (p.processor.Process(std::move(*message)) != Outcome::kStopped) {
          p.source.MarkApplied(topic, partition, offset);
        }
      } else {
        ProcessBatch(std::move(*message));
      }
    }
    const auto now = Clock::now();
    if (now >= next_commit) {
      p.source.Commit(false);
      p.metrics.SetLags(p.source.Lags());
      next_commit = now + p.options.commit_interval;
    }
    if (now >= next_retention) {
      p.RetentionRound();
      next_retention = now + p.options.retention_interval;
    }
  }
  p.source.Close();
  const Stats s = p.events.Snapshot();
  p.log(LogLevel::kInfo, "inbox consumer stopped",
        {{"applied", s.applied},
         {"duplicates", s.duplicates},
         {"held", s.held},
         {"dead_lettered", s.dead_lettered},
         {"gaps", s.gaps},
         {"reorders", s.reorders}});
}

void Consumer::ProcessBatch(Message first) {
  Parts& p = *parts_;
  std::vector<Message> batch;
  batch.push_back(std::move(first));
  // What is fetched already; a rebalance may run in these polls.
  while (batch.size() < static_cast<size_t>(p.options.max_batch)) {
    std::optional<Message> more = p.source.Poll(std::chrono::milliseconds(0));
    if (!more) break;
    batch.push_back(std::move(*more));
  }
  // A partition revoked meanwhile is its next owner's: its messages here
  // would be applied after its offsets went (the inbox would drop the
  // repeat, but they are not ours to apply).
  std::erase_if(batch, [&](const Message& m) { return !p.source.Assigned(m.topic, m.partition); });
  struct Position {
    std::string topic;
    int32_t partition;
    int64_t offset;
  };
  std::vector<Position> positions;
  positions.reserve(batch.size());
  for (const Message& m : batch) positions.push_back({m.topic, m.partition, m.offset});
  const size_t settled = p.processor.ProcessBatch(std::move(batch));
  for (size_t i = 0; i < settled; ++i) {
    p.source.MarkApplied(positions[i].topic, positions[i].partition, positions[i].offset);
  }
}

void Consumer::Stop() { stopping_.store(true); }

Stats Consumer::stats() const { return parts_->events.Snapshot(); }

const std::shared_ptr<prometheus::Registry>& Consumer::registry() const {
  return parts_->metrics.registry();
}

}  // namespace outbox::inbox
