#include "app.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <tuple>

#include "common/log.h"
#include "common/secrets.h"
#include "common/stop_signal.h"
#include "config/loader.h"
#include "config/redact.h"
#include "core/relay_loop.h"
#include "metrics/backlog_poller.h"
#include "metrics/http_endpoints.h"
#include "metrics/relay_metrics.h"
#include "outbox/conninfo.h"
#include "outbox/migrator.h"
#include "outbox/network_timeouts.h"
#include "outbox/pg_backlog_source.h"
#include "outbox/pg_outbox_store.h"
#include "outbox/retention_keeper.h"
#include "run_signals.h"
#include "sink/kafka_errors.h"
#include "sink/kafka_sink.h"
#include "sink/topic_inspector.h"
#include "version.h"

namespace outbox {

namespace {

// Every secret the config brings, so that no log line or error message can
// repeat one (common/secrets.h).
void RegisterSecrets(const Config& config) {
  for (std::string& secret : ConninfoSecrets(config.postgres.dsn)) {
    RegisterSecret(std::move(secret));
  }
  RegisterSecret(config.postgres.password);
  if (const char* env = std::getenv("PGPASSWORD")) RegisterSecret(env);
  for (const KafkaProperty& p : config.kafka.properties) {
    if (IsSecretKafkaProperty(p.name) || config.kafka.secret_files.count(p.name) > 0) {
      RegisterSecret(p.value);
    }
  }
}

}  // namespace

KnownLabels KnownMetricLabels(const KafkaConfig& kafka) {
  const KnownKafkaReasons kafka_reasons = ListKnownKafkaReasons();
  KnownLabels labels;
  labels.topics = kafka.topics;
  auto append = [](std::vector<std::string>& to, const std::vector<std::string>& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  // Not delivered: any Kafka error, or no report before the publish timeout.
  append(labels.publish_error_reasons, kafka_reasons.rejected);
  append(labels.publish_error_reasons, kafka_reasons.blames_message);
  append(labels.publish_error_reasons, kafka_reasons.other);
  labels.publish_error_reasons.push_back(DeliveryKindName(DeliveryKind::kNotReported));
  // Dead-lettered: a row defect, a rejection, or a row's own error after
  // relay.max_attempts.
  for (const char* reason : kRowDefectReasons) labels.dead_letter_reasons.push_back(reason);
  append(labels.dead_letter_reasons, kafka_reasons.rejected);
  labels.dead_letter_reasons.push_back(kMaxAttempts);
  labels.retry_reasons = kafka_reasons.blames_message;
  for (auto* list : {&labels.publish_error_reasons, &labels.dead_letter_reasons}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  return labels;
}

std::optional<Config> LoadValidConfig(const std::string& path) {
  LoadedConfig loaded = LoadConfigFile(path, &LookupProcessEnv);
  std::vector<ConfigProblem>& problems = loaded.problems;
  // librdkafka judges its own properties; reported alongside the rest.
  const KafkaConfig& kafka = loaded.config.kafka;
  for (const KafkaPropertyProblem& p : ValidateKafkaConfig(kafka)) {
    if (p.property_index >= 0) {
      const KafkaProperty& property = kafka.properties[p.property_index];
      const std::string section =
          kafka.secret_files.count(property.name) > 0 ? "kafka.secret_files." : "kafka.properties.";
      problems.push_back({property.mark, section + property.name, p.problem});
    } else if (!kafka.bootstrap_servers.empty()) {
      problems.push_back({kafka.properties_mark, "kafka.properties", p.problem});
    }
  }
  // libpq judges the DSN, without the message repeating any of it.
  const PostgresConfig& postgres = loaded.config.postgres;
  if (!postgres.dsn.empty()) {
    if (std::optional<std::string> problem = ConninfoProblem(postgres.dsn)) {
      problems.push_back({postgres.dsn_mark, "postgres.dsn", *problem});
    }
  }
  std::sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
    return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
  });
  if (problems.empty()) {
    RegisterSecrets(loaded.config);
    return std::move(loaded.config);
  }
  for (const ConfigProblem& problem : problems) {
    std::cerr << FormatConfigProblem(path, problem) << '\n';
  }
  return std::nullopt;
}

// libpq reads these when the DSN leaves them out: a relay must not hang for
// minutes on a dead host, and operators should see who is connected.
void SetLibpqDefaults(const Config& config) {
  setenv("PGCONNECT_TIMEOUT", "10", /*overwrite=*/0);
  setenv("PGAPPNAME", "outbox-relay", /*overwrite=*/0);
  // libpq's own fallback for a DSN without a password: every connection
  // (the relay's sessions, migrate, status) uses it, and the password never
  // becomes part of a DSN that could be logged.
  if (!config.postgres.password.empty()) {
    setenv("PGPASSWORD", config.postgres.password.c_str(), /*overwrite=*/1);
  }
}

void ApplyLogSettings(const Config& config) {
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config.log.level, &level);
  SetLogLevel(level);
  SetLogFormat(config.log.format == "json" ? LogFormat::kJson : LogFormat::kLogfmt);
}

namespace {

RelayLoopOptions LoopOptions(const RelaySettings& relay, std::chrono::milliseconds message_timeout,
                             int64_t message_max_bytes) {
  RelayLoopOptions options;
  options.batch_size = static_cast<size_t>(relay.batch_size);
  // A batch always fits: the window is at least one batch.
  options.max_in_flight_rows =
      static_cast<size_t>(std::max(relay.max_in_flight_rows, relay.batch_size));
  options.max_in_flight_bytes = relay.max_in_flight_bytes;
  options.poll_interval = std::chrono::milliseconds(relay.poll_interval_ms);
  options.drain_timeout = std::chrono::milliseconds(relay.drain_timeout_ms);
  options.backoff_initial = std::chrono::milliseconds(relay.backoff_initial_ms);
  options.backoff_max = std::chrono::milliseconds(relay.backoff_max_ms);
  options.on_undeliverable = relay.on_undeliverable == "dead_letter"
                                 ? UndeliverablePolicy::kDeadLetter
                                 : UndeliverablePolicy::kBlockKey;
  options.max_attempts = relay.max_attempts;
  // librdkafka reports every message within message.timeout.ms; the margin
  // covers report serving, so this only fires if the client is wedged.
  options.publish_timeout = message_timeout + std::chrono::seconds(10);
  options.max_message_bytes = message_max_bytes;
  return options;
}

// The startup check of kafka.topics; false if the relay must not start.
// (durability_check: off never gets here.) Each topic the brokers described
// is news that they are reachable.
bool CheckListedTopics(TopicInspector& inspector, const KafkaConfig& kafka, RelayMetrics& metrics) {
  const bool refuse = kafka.durability_check == "refuse";
  bool durable = true;
  for (const std::string& name : kafka.topics) {
    Result<TopicDurability> topic = inspector.Describe(name, std::chrono::seconds(10));
    if (!topic.ok()) {
      Log(refuse ? LogLevel::kError : LogLevel::kWarn, "cannot check the topic's durability",
          {{"topic", name}, {"error", topic.status().message()}});
      durable = false;
      continue;
    }
    metrics.OnKafkaReachable();
    if (refuse && !topic->unreadable.empty()) {
      LogError("the broker did not report the topic's min.insync.replicas",
               {{"topic", name}, {"error", topic->unreadable}});
      durable = false;
    }
    for (const std::string& problem : DurabilityProblems(*topic)) {
      Log(refuse ? LogLevel::kError : LogLevel::kWarn, "topic may lose acknowledged messages",
          {{"topic", name}, {"problem", problem}});
      durable = false;
    }
  }
  if (!durable && refuse) {
    LogError("not starting: kafka.durability_check is refuse and a listed topic is not durable");
    return false;
  }
  return true;
}

}  // namespace

int RunCommand(const std::string& config_path) {
  std::optional<Config> config = LoadValidConfig(config_path);
  if (!config) return kExitBadConfig;
  ApplyLogSettings(*config);
  SetLibpqDefaults(*config);

  static StopSignal stop;  // outlives the detached signal thread
  StartSignalThread(stop, config_path, *config);

  // Declared first so it outlives everything that reports to it.
  RelayMetrics metrics(OUTBOX_RELAY_VERSION);
  metrics.Prime(KnownMetricLabels(config->kafka));
  Result<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(config->kafka);
  if (!sink.ok()) {
    LogError("cannot create the kafka producer", {{"error", sink.status().message()}});
    return kExitFailure;
  }
  std::unique_ptr<TopicInspector> inspector;
  if (config->kafka.durability_check != "off") {
    Result<std::unique_ptr<TopicInspector>> created = TopicInspector::Create(config->kafka);
    if (!created.ok()) {
      LogError("cannot create the kafka admin client", {{"error", created.status().message()}});
      return kExitFailure;
    }
    inspector = std::move(*created);
    if (!CheckListedTopics(*inspector, config->kafka, metrics)) return kExitFailure;
    (*sink)->set_topic_inspector(inspector.get());
  }
  const RelayLoopOptions options =
      LoopOptions(config->relay, (*sink)->message_timeout(), (*sink)->message_max_bytes());

  std::unique_ptr<HttpEndpoints> endpoints;
  if (!config->metrics.listen.empty()) {
    const auto wedged_after =
        options.publish_timeout + options.backoff_max + std::chrono::seconds(30);
    Result<std::unique_ptr<HttpEndpoints>> started =
        HttpEndpoints::Start(config->metrics.listen, metrics, wedged_after);
    if (!started.ok()) {
      LogError("cannot start the metrics endpoint",
               {{"listen", config->metrics.listen}, {"error", started.status().message()}});
      return kExitFailure;
    }
    endpoints = std::move(*started);
    LogInfo("metrics endpoint listening",
            {{"listen", config->metrics.listen}, {"port", endpoints->port()}});
  }

  (*sink)->set_stats_handler([&metrics](const KafkaStats& stats) {
    metrics.OnKafkaStats(stats.queued_messages, stats.queued_bytes, stats.brokers_up,
                         stats.broker_rtt_seconds);
  });
  const std::string dsn = WithNetworkTimeouts(config->postgres.dsn);
  PgBacklogSource backlog(dsn);
  BacklogPoller poller(backlog, metrics,
                       std::chrono::milliseconds(config->metrics.refresh_interval_ms));
  LeaseOptions leases;
  leases.ttl = std::chrono::milliseconds(config->relay.lease_ttl_ms);
  // Its destructor hands the shards over to the other relays, after the loop
  // below has drained and written everything back.
  StoreOptions store_options;
  store_options.mark_sent = config->relay.on_ack == "mark_sent";
  store_options.per_key_sequence = config->relay.per_key_sequence;
  PgOutboxStore store(
      dsn, leases, [&metrics](const LeaseReport& r) { metrics.OnLeases(r); }, store_options);
  RetentionOptions retention;
  retention.sent_retention = config->relay.sent_retention;
  retention.dead_letter_retention = config->relay.dead_letter_retention;
  retention.partitions_ahead = config->relay.partitions_ahead;
  // Rounds a tenth of the shorter retention apart, between 1 s and 1 min:
  // rows stay at most ~10 % longer than asked.
  std::chrono::seconds shortest = std::chrono::seconds(60);
  for (std::chrono::seconds r : {retention.sent_retention, retention.dead_letter_retention}) {
    if (r.count() > 0) shortest = std::min(shortest, r / 10);
  }
  retention.interval = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), shortest);
  RetentionKeeper retention_keeper(
      dsn, retention, [&metrics](const RetentionReport& r) { metrics.OnRetention(r); });
  retention_keeper.Start();
  RelayLoop loop(store, **sink, stop, metrics, options);
  LogInfo("relay started", {{"version", OUTBOX_RELAY_VERSION},
                            {"postgres", RedactedConninfo(config->postgres.dsn)},
                            {"kafka", config->kafka.bootstrap_servers},
                            {"batch_size", options.batch_size},
                            {"on_ack", config->relay.on_ack}});
  const Status result = loop.Run();
  if (!result.ok()) {
    LogError("relay stopped on an error", {{"error", result.message()}});
    return kExitFailure;
  }
  LogInfo("relay stopped");
  return kExitOk;
}

int CheckConfigCommand(const std::string& config_path) {
  std::optional<Config> config = LoadValidConfig(config_path);
  if (!config) return kExitBadConfig;
  std::cout << RenderRedactedConfig(*config, RedactedConninfo(config->postgres.dsn));
  return kExitOk;
}

int MigrateCommand(const std::string& config_path, bool partitioned) {
  std::optional<Config> config = LoadValidConfig(config_path);
  if (!config) return kExitBadConfig;
  ApplyLogSettings(*config);
  SetLibpqDefaults(*config);
  Result<MigrationReport> report =
      Migrate(config->postgres.dsn, SchemaPlan(partitioned, config->relay.per_key_sequence));
  if (!report.ok()) {
    LogError("migration failed", {{"code", StatusCodeName(report.status().code())},
                                  {"error", report.status().message()}});
    return kExitFailure;
  }
  for (const std::string& name : report->applied) std::cout << "applied " << name << '\n';
  std::cout << (report->applied.empty() ? "schema is up to date" : "schema migrated") << " ("
            << report->already_applied.size() + report->applied.size() << " files)\n";
  return kExitOk;
}

}  // namespace outbox
