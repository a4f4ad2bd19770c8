// The relay's configuration as plain structs. Every field states its default;
// the YAML keys are the field names (see deploy/outbox-relay.example.yaml).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace outbox {

// Where a value came from in the config file, for error messages.
struct SourceMark {
  int line = 0;    // 1-based; 0 = not from the file
  int column = 0;  // 1-based
};

struct PostgresConfig {
  // libpq connection string or URI (required). PG* environment variables
  // fill in whatever it leaves out, as with psql.
  std::string dsn;
  SourceMark dsn_mark;
  // A file holding the password (e.g. a mounted Kubernetes or Docker
  // secret); one trailing newline is ignored. Used when the DSN has none.
  std::string password_file;
  std::string password;  // read from password_file; never printed
};

struct KafkaProperty {
  std::string name;
  std::string value;
  SourceMark mark;
};

struct KafkaConfig {
  // bootstrap.servers (required).
  std::string bootstrap_servers;
  // Passed to librdkafka unchanged, after the relay's safe defaults
  // (enable.idempotence=true, acks=all, partitioner=murmur2_random,
  // message.timeout.ms=30000). Settings that would break the no-loss
  // promise (acks other than all, idempotence off) are refused.
  // kafka.properties and, read from their files, kafka.secret_files (a
  // librdkafka property name -> a file holding its value, e.g.
  // sasl.password: /run/secrets/kafka-password).
  std::vector<KafkaProperty> properties;
  SourceMark properties_mark;
  std::map<std::string, std::string> secret_files;  // property -> file (for check-config)
  // Topics to check at startup for replication.factor >= 2,
  // min.insync.replicas >= 2 and no unclean leader election. Every other
  // topic is checked when first published to (warn only).
  std::vector<std::string> topics;
  // warn | refuse (exit at startup if a listed topic is not durable) | off
  std::string durability_check = "warn";
};

struct RelaySettings {
  // Rows read and published per batch. 1,000 with 3,000 in flight drained
  // 300,000 rows 1.5-2x faster than 500 with 2,000 (bench/README.md): fewer
  // statements, and each read walks fewer ids in flight.
  int batch_size = 1000;
  // Rows read ahead and awaiting broker acks, at most (at least batch_size):
  // batches are pipelined up to this, and memory is bounded by it.
  int max_in_flight_rows = 3000;
  // Key + payload bytes in flight, at most (one row is always allowed).
  int max_in_flight_bytes = 16 << 20;
  // Longest wait for new rows when caught up. With the notify trigger
  // (schema/0003) a commit ends the wait at once; without it the relay
  // polls, adaptively, at most this far apart.
  int poll_interval_ms = 200;
  // On SIGTERM: how long to wait for outstanding broker acks.
  int drain_timeout_ms = 10000;
  // Back-off after a failed step: starts here, doubles, with jitter ...
  int backoff_initial_ms = 100;
  // ... up to this cap. A row's retry after a row-specific failure follows
  // the same schedule.
  int backoff_max_ms = 30000;
  // What happens to later rows of a key when one of its rows is moved to the
  // dead-letter table: "block_key" (they wait until an operator requeues or
  // purges it, so per-key order is never broken) or "dead_letter" (they
  // continue). Other keys flow either way.
  std::string on_undeliverable = "block_key";
  // Row-specific retriable failures before the row is dead-lettered
  // (0 = never). Failures while nothing is delivered (an outage) do not count.
  int max_attempts = 10;
  // Several relays may share one outbox: each holds leases on shards of it
  // (schema/0005) and renews them every lease_ttl_ms / 5. A relay that dies,
  // is paused or loses the database has its shards taken over within about
  // lease_ttl_ms * 1.2; a single relay restarted after a crash waits as long
  // for its own old leases (a clean stop hands them over at once).
  int lease_ttl_ms = 5000;
  // What a broker ack does to the row (schema/0007): "delete" removes it;
  // "mark_sent" keeps it and records sent_at, sent_partition, sent_offset
  // from its delivery report. Either way only pending rows are read, so
  // switching is safe at any time.
  std::string on_ack = "delete";
  // How long sent rows stay before they are removed (0 = forever). Also
  // applies, under on_ack: delete, to rows left from a mark_sent run.
  std::chrono::seconds sent_retention{7 * 86400};
  // How long a dead letter stays (0 = until purged). One that blocks its key
  // (on_undeliverable: block_key) stays until an operator acts on it.
  std::chrono::seconds dead_letter_retention{0};
  // Partitioned outbox (schema/options/1001_partitioned.sql): days of partitions
  // kept ready beyond today.
  int partitions_ahead = 3;
  // Send each keyed row's number as header outbox-seq
  // (schema/options/1002_per_key_sequence.sql; `migrate` applies it when true).
  bool per_key_sequence = false;
};

struct MetricsConfig {
  // host:port for /metrics, /healthz and /readyz. Port 0 picks a free port
  // (logged). Empty disables the endpoint.
  std::string listen = "0.0.0.0:9464";
  // How often the backlog gauges (pending, oldest age, oldest open
  // transaction) are read from the database.
  int refresh_interval_ms = 2000;
};

struct LogConfig {
  // debug | info | warn | error
  std::string level = "info";
  // logfmt | json (one object per line)
  std::string format = "logfmt";
};

struct Config {
  std::string source_path;
  PostgresConfig postgres;
  KafkaConfig kafka;
  RelaySettings relay;
  MetricsConfig metrics;
  LogConfig log;
};

}  // namespace outbox
