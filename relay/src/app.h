// The commands: each builds what it needs from the config and returns the
// process exit code (0 ok, 1 runtime failure, 78 bad config).
#pragma once

#include <optional>
#include <string>

#include "config/config.h"
#include "metrics/relay_metrics.h"

namespace outbox {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBadConfig = 78;  // EX_CONFIG

// Loads and fully validates the config (librdkafka properties included),
// printing every problem to stderr as file:line:col: key: problem.
std::optional<Config> LoadValidConfig(const std::string& path);
// libpq defaults for every command that connects (connect timeout,
// application name, the password from postgres.password_file).
void SetLibpqDefaults(const Config& config);

// The metric label values the relay exports at 0 from its start: each topic
// in kafka.topics and every reason the relay knows by name.
KnownLabels KnownMetricLabels(const KafkaConfig& kafka);

// log.level and log.format, for the whole process.
void ApplyLogSettings(const Config& config);

int RunCommand(const std::string& config_path);
int CheckConfigCommand(const std::string& config_path);
int MigrateCommand(const std::string& config_path, bool partitioned);

}  // namespace outbox
