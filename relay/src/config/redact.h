// Renders a resolved Config for `check-config` with every secret replaced.
#pragma once

#include <string>

#include "config/config.h"

namespace outbox {

// True for librdkafka properties that hold secrets (passwords, keys).
bool IsSecretKafkaProperty(const std::string& name);

// The config as YAML, secrets shown as "***"; the DSN as `shown_dsn` (its
// redaction needs libpq's parser: outbox/conninfo.h).
std::string RenderRedactedConfig(const Config& config, const std::string& shown_dsn);

}  // namespace outbox
