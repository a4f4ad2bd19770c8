// What an inbox consumer is told: where to read, where to apply, and what to
// do with gaps, failing handlers and old inbox rows.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
}

namespace outbox::inbox {

// A number of a key's sequence that is not the one after the last applied.
struct SequenceBreak {
  enum class Kind {
    kGap,      // higher than the next: the numbers in between never came (yet)
    kReorder,  // at or below the last applied, on a new outbox-id
  };
  Kind kind = Kind::kGap;
  std::string key;
  int64_t expected = 0;  // last applied + 1
  int64_t got = 0;
  int64_t outbox_id = 0;
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  bool held = false;  // on_gap: hold put the message aside (or dead-lettered a reorder)
};

enum class OnGap {
  kContinue,  // report, then apply the message and go on from its number
  kHold,      // report, then keep the key's later messages aside until the
              // missing numbers arrive (or an operator skips them)
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct Options {
  // The inbox's name for this consumer: the key of its rows, and the Kafka
  // group.id unless kafka_properties sets one. Required.
  std::string name;
  // libpq connection string of the consumer's own database. Required.
  std::string postgres_dsn;
  // postgres_dsn leads to a transaction-pooling PgBouncer (or the like):
  // the inbox's statements are then sent with their text each time instead
  // of prepared once per session, since a pooler's server sessions do not
  // keep them.
  bool behind_pooler = false;
  // Required.
  std::string bootstrap_servers;
  std::vector<std::string> topics;
  // Passed to librdkafka as they are, after the inbox's own settings
  // (enable.auto.commit=false and enable.auto.offset.store=false cannot be
  // overridden: they are what makes the inbox safe).
  std::map<std::string, std::string> kafka_properties;

  OnGap on_gap = OnGap::kContinue;
  // Called (on the consumer's thread, after the log line and the metric)
  // for every gap and reorder, once its message's transaction committed. An
  // exception from it is logged; the consumer goes on.
  std::function<void(const SequenceBreak&)> on_sequence_break;

  // A handler that throws is retried this many times in all (a new
  // transaction each time, waiting retry_backoff, doubling up to
  // max_retry_backoff); then the message goes to inbox_dead_letter with the
  // error and the partition moves on. 0 = retry for ever (the partition
  // waits). Serialization failures and deadlocks (SQLSTATE class 40) and a
  // lost database are retried for ever and never count.
  int max_attempts = 5;
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds max_retry_backoff{10'000};

  // Messages per database transaction. 1: one transaction each. More: the
  // messages already fetched (up to this many) share one transaction, each
  // in its own savepoint, so one WAL flush covers them all; a handler that
  // throws rolls back only its own message, which is then retried alone.
  // Every guarantee stays; a crash redelivers the whole batch. At most 64:
  // PostgreSQL caches 64 subtransactions per transaction, and a transaction
  // with more slows every other session's snapshots.
  int max_batch = 1;

  // Offsets of applied messages are committed to Kafka this often (and on
  // every revoke and at shutdown). A crash loses at most this much of the
  // commits: those messages come again and the inbox drops them.
  std::chrono::milliseconds commit_interval{1'000};

  // Inbox rows older than this are removed (never held ones), in batches,
  // every retention_interval. It must exceed the longest a duplicate can
  // arrive after its first copy: a redelivery older than this is applied
  // again. 0 = keep for ever.
  std::chrono::seconds retention{std::chrono::hours(24 * 7)};
  std::chrono::seconds retention_interval{60};

  // Metrics are registered here (nullptr: the consumer keeps its own,
  // readable through Consumer::registry()).
  std::shared_ptr<prometheus::Registry> registry;
  // One line per event (logfmt); default: stderr, info and above.
  std::function<void(LogLevel, std::string_view line)> log;
};

}  // namespace outbox::inbox
