// Renders a resolved Config for `check-config` with every secret replaced.
#pragma once

#include <string>

#include "config/config.h"

namespace outbox {

// Replaces the password in a libpq URI or key=value connection string.
std::string RedactDsn(const std::string& dsn);

// True for librdkafka properties that hold secrets (passwords, keys).
bool IsSecretKafkaProperty(const std::string& name);

// The config as YAML, secrets shown as "***".
std::string RenderRedactedConfig(const Config& config);

}  // namespace outbox
