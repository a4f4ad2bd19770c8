#include "config/redact.h"

#include <yaml-cpp/yaml.h>

#include "common/duration.h"

namespace outbox {

bool IsSecretKafkaProperty(const std::string& name) {
  return name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
         name == "sasl.oauthbearer.config" || name == "ssl.key.pem";
}

std::string RenderRedactedConfig(const Config& config, const std::string& shown_dsn) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "postgres" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "dsn" << YAML::Value << shown_dsn;
  out << YAML::Key << "password_file" << YAML::Value << config.postgres.password_file;
  out << YAML::EndMap;

  out << YAML::Key << "kafka" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bootstrap_servers" << YAML::Value << config.kafka.bootstrap_servers;
  out << YAML::Key << "properties" << YAML::Value << YAML::BeginMap;
  for (const KafkaProperty& p : config.kafka.properties) {
    if (config.kafka.secret_files.count(p.name) > 0) continue;
    out << YAML::Key << p.name << YAML::Value
        << (IsSecretKafkaProperty(p.name) ? std::string("***") : p.value);
  }
  out << YAML::EndMap;
  // Where the secrets come from, never what they are.
  out << YAML::Key << "secret_files" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, file] : config.kafka.secret_files) {
    out << YAML::Key << name << YAML::Value << file;
  }
  out << YAML::EndMap;
  out << YAML::Key << "topics" << YAML::Value << YAML::Flow << config.kafka.topics;
  out << YAML::Key << "durability_check" << YAML::Value << config.kafka.durability_check;
  out << YAML::EndMap;

  const RelaySettings& r = config.relay;
  out << YAML::Key << "relay" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "batch_size" << YAML::Value << r.batch_size;
  out << YAML::Key << "max_in_flight_rows" << YAML::Value << r.max_in_flight_rows;
  out << YAML::Key << "max_in_flight_bytes" << YAML::Value << r.max_in_flight_bytes;
  out << YAML::Key << "poll_interval_ms" << YAML::Value << r.poll_interval_ms;
  out << YAML::Key << "drain_timeout_ms" << YAML::Value << r.drain_timeout_ms;
  out << YAML::Key << "backoff_initial_ms" << YAML::Value << r.backoff_initial_ms;
  out << YAML::Key << "backoff_max_ms" << YAML::Value << r.backoff_max_ms;
  out << YAML::Key << "on_undeliverable" << YAML::Value << r.on_undeliverable;
  out << YAML::Key << "max_attempts" << YAML::Value << r.max_attempts;
  out << YAML::Key << "lease_ttl_ms" << YAML::Value << r.lease_ttl_ms;
  out << YAML::Key << "on_ack" << YAML::Value << r.on_ack;
  out << YAML::Key << "sent_retention" << YAML::Value << DurationText(r.sent_retention);
  out << YAML::Key << "dead_letter_retention" << YAML::Value
      << DurationText(r.dead_letter_retention);
  out << YAML::Key << "partitions_ahead" << YAML::Value << r.partitions_ahead;
  out << YAML::Key << "per_key_sequence" << YAML::Value << r.per_key_sequence;
  out << YAML::EndMap;

  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << config.metrics.listen;
  out << YAML::Key << "refresh_interval_ms" << YAML::Value << config.metrics.refresh_interval_ms;
  out << YAML::EndMap;

  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << config.log.level;
  out << YAML::Key << "format" << YAML::Value << config.log.format;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace outbox
