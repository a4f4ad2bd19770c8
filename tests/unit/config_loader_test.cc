#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "config/loader.h"
#include "config/redact.h"

namespace outbox {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

LoadedConfig Load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  return LoadConfigFromString(yaml, "relay.yaml", FakeEnv(std::move(env)));
}

std::vector<std::string> Messages(const LoadedConfig& loaded) {
  std::vector<std::string> out;
  for (const auto& p : loaded.problems) out.push_back(FormatConfigProblem("relay.yaml", p));
  return out;
}

constexpr const char* kMinimal = R"(
postgres: { dsn: "postgresql://relay@db/app" }
kafka: { bootstrap_servers: "broker:9092" }
)";

TEST(ConfigLoader, AcceptsMinimalConfigAndFillsDefaults) {
  const LoadedConfig loaded = Load(kMinimal);
  ASSERT_TRUE(loaded.problems.empty()) << Messages(loaded)[0];
  const Config& c = loaded.config;
  EXPECT_EQ(c.postgres.dsn, "postgresql://relay@db/app");
  EXPECT_EQ(c.kafka.bootstrap_servers, "broker:9092");
  EXPECT_EQ(c.relay.batch_size, 1000);
  EXPECT_EQ(c.relay.poll_interval_ms, 200);
  EXPECT_EQ(c.relay.drain_timeout_ms, 10000);
  EXPECT_EQ(c.metrics.listen, "0.0.0.0:9464");
  EXPECT_EQ(c.log.level, "info");
}

TEST(ConfigLoader, ReadsEverySection) {
  const LoadedConfig loaded = Load(R"(
postgres:
  dsn: "host=/tmp port=5432"
kafka:
  bootstrap_servers: "a:1,b:2"
  properties:
    linger.ms: 20
    compression.type: zstd
  topics: [orders, payments]
  durability_check: refuse
relay:
  batch_size: 1000
  max_in_flight_rows: 5000
  max_in_flight_bytes: 1048576
  poll_interval_ms: 50
  drain_timeout_ms: 0
  backoff_initial_ms: 10
  backoff_max_ms: 5000
  on_undeliverable: dead_letter
  max_attempts: 0
metrics:
  listen: "127.0.0.1:0"
log:
  level: debug
  format: json
)");
  ASSERT_TRUE(loaded.problems.empty()) << Messages(loaded)[0];
  const Config& c = loaded.config;
  ASSERT_EQ(c.kafka.properties.size(), 2u);
  EXPECT_EQ(c.kafka.properties[0].name, "linger.ms");
  EXPECT_EQ(c.kafka.properties[0].value, "20");
  EXPECT_EQ(c.kafka.properties[0].mark.line, 7);
  EXPECT_EQ(c.kafka.properties[1].value, "zstd");
  EXPECT_EQ(c.kafka.topics, (std::vector<std::string>{"orders", "payments"}));
  EXPECT_EQ(c.kafka.durability_check, "refuse");
  EXPECT_EQ(c.relay.batch_size, 1000);
  EXPECT_EQ(c.relay.max_in_flight_rows, 5000);
  EXPECT_EQ(c.relay.max_in_flight_bytes, 1048576);
  EXPECT_EQ(c.relay.poll_interval_ms, 50);
  EXPECT_EQ(c.relay.drain_timeout_ms, 0);
  EXPECT_EQ(c.relay.backoff_initial_ms, 10);
  EXPECT_EQ(c.relay.backoff_max_ms, 5000);
  EXPECT_EQ(c.relay.on_undeliverable, "dead_letter");
  EXPECT_EQ(c.relay.max_attempts, 0);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:0");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, "json");
}

TEST(ConfigLoader, SubstitutesEnvironmentVariablesInValues) {
  const LoadedConfig loaded = Load(R"(
postgres: { dsn: "postgresql://relay:${PGPASS}@${PGHOST:-localhost}/app" }
kafka: { bootstrap_servers: "${BROKERS:-localhost:9092}" }
relay: { batch_size: "${BATCH}" }
)",
                                   {{"PGPASS", "s3cret"}, {"BATCH", "42"}});
  ASSERT_TRUE(loaded.problems.empty()) << Messages(loaded)[0];
  EXPECT_EQ(loaded.config.postgres.dsn, "postgresql://relay:s3cret@localhost/app");
  EXPECT_EQ(loaded.config.kafka.bootstrap_servers, "localhost:9092");
  EXPECT_EQ(loaded.config.relay.batch_size, 42);
}

TEST(ConfigLoader, ReportsUnsetVariableWithPosition) {
  const LoadedConfig loaded = Load(R"(postgres: { dsn: "${NOPE}" }
kafka: { bootstrap_servers: "b:1" }
)");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(Messages(loaded)[0],
            "relay.yaml:1:18: postgres.dsn: environment variable NOPE is not set "
            "(use ${NOPE:-default} to give a default)");
}

TEST(ConfigLoader, ReportsEveryProblemAtOnceWithFileLineColumn) {
  const LoadedConfig loaded = Load(R"(postgres:
  dsn: "x"
  dns: "typo"
kafka:
  bootstrap_servers: "b:1"
relay:
  batch_size: 0
  poll_interval_ms: soon
metrics:
  listen: "nowhere"
log:
  level: loud
)");
  EXPECT_EQ(Messages(loaded),
            (std::vector<std::string>{
                "relay.yaml:3:3: postgres.dns: unknown key (expected one of: dsn, password_file)",
                "relay.yaml:7:15: relay.batch_size: must be between 1 and 10000 (got 0)",
                "relay.yaml:8:21: relay.poll_interval_ms: must be an integer between "
                "1 and 60000 (got \"soon\")",
                "relay.yaml:10:11: metrics.listen: must be host:port with a port from "
                "0 to 65535 (got \"nowhere\")",
                "relay.yaml:12:10: log.level: must be one of debug, info, warn, error "
                "(got \"loud\")",
            }));
}

TEST(ConfigLoader, RejectsUnknownTopLevelKey) {
  const LoadedConfig loaded = Load(std::string(kMinimal) + "kafak: {}\n");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(Messages(loaded)[0],
            "relay.yaml:4:1: kafak: unknown key (expected one of: kafka, log, "
            "metrics, postgres, relay)");
}

TEST(ConfigLoader, RequiresDsnAndBootstrapServers) {
  const LoadedConfig loaded = Load("relay: { batch_size: 10 }\n");
  EXPECT_EQ(Messages(loaded),
            (std::vector<std::string>{"relay.yaml:1:1: postgres.dsn: is required",
                                      "relay.yaml:1:1: kafka.bootstrap_servers: is required"}));
}

TEST(ConfigLoader, RejectsEmptyRequiredValues) {
  const LoadedConfig loaded = Load(R"(postgres: { dsn: "${EMPTY:-}" }
kafka: { bootstrap_servers: "b:1" }
)");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(Messages(loaded)[0], "relay.yaml:1:18: postgres.dsn: must not be empty");
}

TEST(ConfigLoader, RejectsDuplicateKeys) {
  const LoadedConfig loaded = Load(R"(postgres: { dsn: "a", dsn: "b" }
kafka: { bootstrap_servers: "b:1" }
)");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(Messages(loaded)[0], "relay.yaml:1:23: postgres.dsn: duplicate key");
}

TEST(ConfigLoader, RefusesKafkaPropertiesThatBreakNoLoss) {
  const LoadedConfig loaded = Load(R"(postgres: { dsn: "a" }
kafka:
  bootstrap_servers: "b:1"
  properties:
    acks: "1"
    enable.idempotence: false
    bootstrap.servers: "other:1"
)");
  EXPECT_EQ(Messages(loaded),
            (std::vector<std::string>{
                "relay.yaml:5:11: kafka.properties.acks: must be \"all\": a row is "
                "removed only after every in-sync replica has it (got \"1\")",
                "relay.yaml:6:25: kafka.properties.enable.idempotence: must stay true: "
                "without it retries can duplicate and reorder messages (got \"false\")",
                "relay.yaml:7:24: kafka.properties.bootstrap.servers: set "
                "kafka.bootstrap_servers instead",
            }));
}

TEST(ConfigLoader, AcceptsAcksAllSpelledEitherWay) {
  const LoadedConfig loaded = Load(std::string(kMinimal) + "relay: {}\n");
  EXPECT_TRUE(loaded.problems.empty());
  const LoadedConfig minus_one = Load(R"(postgres: { dsn: "a" }
kafka: { bootstrap_servers: "b:1", properties: { acks: "-1" } }
)");
  EXPECT_TRUE(minus_one.problems.empty());
}

TEST(ConfigLoader, RejectsUnknownUndeliverablePolicy) {
  const LoadedConfig loaded = Load(std::string(kMinimal) + "relay: { on_undeliverable: drop }\n");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(Messages(loaded)[0],
            "relay.yaml:4:28: relay.on_undeliverable: must be block_key or dead_letter "
            "(got \"drop\")");
}

TEST(ConfigLoader, ReadsTheSentTrailSettingsAndNamesEachBadValue) {
  const LoadedConfig good = Load(std::string(kMinimal) +
                                 "relay: { on_ack: mark_sent, sent_retention: 36h, "
                                 "dead_letter_retention: 0, per_key_sequence: true, "
                                 "partitions_ahead: 7 }\n");
  ASSERT_TRUE(good.problems.empty()) << Messages(good)[0];
  EXPECT_EQ(good.config.relay.on_ack, "mark_sent");
  EXPECT_EQ(good.config.relay.sent_retention, std::chrono::hours(36));
  EXPECT_EQ(good.config.relay.dead_letter_retention, std::chrono::seconds(0));
  EXPECT_TRUE(good.config.relay.per_key_sequence);
  EXPECT_EQ(good.config.relay.partitions_ahead, 7);
  EXPECT_EQ(Load(kMinimal).config.relay.sent_retention, std::chrono::hours(7 * 24));

  const LoadedConfig bad =
      Load(std::string(kMinimal) +
           "relay: { on_ack: keep, sent_retention: 7 days, per_key_sequence: yes }\n");
  ASSERT_EQ(bad.problems.size(), 3u);
  EXPECT_EQ(Messages(bad)[0],
            "relay.yaml:4:18: relay.on_ack: must be delete or mark_sent (got \"keep\")");
  EXPECT_EQ(Messages(bad)[1],
            "relay.yaml:4:40: relay.sent_retention: must be a duration such as 90s, 15m, 2h or "
            "7d, or 0 (got \"7 days\")");
  EXPECT_EQ(Messages(bad)[2],
            "relay.yaml:4:66: relay.per_key_sequence: must be true or false (got \"yes\")");
}

TEST(ConfigLoader, RejectsBadDurabilityCheckAndTopics) {
  const LoadedConfig loaded = Load(R"(postgres: { dsn: "a" }
kafka: { bootstrap_servers: "b:1", topics: orders, durability_check: maybe }
)");
  EXPECT_EQ(Messages(loaded),
            (std::vector<std::string>{
                "relay.yaml:2:44: kafka.topics: must be a list of topic names",
                "relay.yaml:2:70: kafka.durability_check: must be warn, refuse or off (got "
                "\"maybe\")"}));
}

// Cross-field checks once ran as each key was read: written first, the
// dependent key was checked against the other's default.
TEST(ConfigLoader, ChecksRelatedKeysWhateverTheirOrderInTheFile) {
  for (const std::string relay : {"relay: { max_in_flight_rows: 100, batch_size: 500 }\n",
                                  "relay: { backoff_max_ms: 100, backoff_initial_ms: 500 }\n"}) {
    const LoadedConfig loaded = Load(std::string(kMinimal) + relay);
    ASSERT_EQ(loaded.problems.size(), 1u) << relay;
    EXPECT_NE(loaded.problems[0].problem.find("must not be below"), std::string::npos) << relay;
  }
}

TEST(ConfigLoader, RejectsBackoffCapBelowInitial) {
  const LoadedConfig loaded =
      Load(std::string(kMinimal) + "relay: { backoff_initial_ms: 500, backoff_max_ms: 100 }\n");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(loaded.problems[0].key, "relay.backoff_max_ms");
  EXPECT_EQ(loaded.problems[0].problem, "must not be below relay.backoff_initial_ms (500)");
}

TEST(ConfigLoader, ReportsYamlSyntaxErrorWithPosition) {
  const LoadedConfig loaded = Load("postgres: { dsn: \"a\"\nkafka: [\n");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(loaded.problems[0].key, "");
  EXPECT_GT(loaded.problems[0].mark.line, 0);
  EXPECT_NE(loaded.problems[0].problem.find("invalid YAML"), std::string::npos);
}

TEST(ConfigLoader, RejectsSectionThatIsNotAMapping) {
  const LoadedConfig loaded = Load(std::string(kMinimal) + "relay: 5\n");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(Messages(loaded)[0], "relay.yaml:4:8: relay: must be a mapping");
}

TEST(ConfigLoader, EmptyListenDisablesMetrics) {
  const LoadedConfig loaded = Load(std::string(kMinimal) + "metrics: { listen: \"\" }\n");
  ASSERT_TRUE(loaded.problems.empty());
  EXPECT_EQ(loaded.config.metrics.listen, "");
}

TEST(ConfigLoader, ReportsUnreadableFile) {
  const LoadedConfig loaded = LoadConfigFile("/nonexistent/relay.yaml", FakeEnv({}));
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(FormatConfigProblem("/nonexistent/relay.yaml", loaded.problems[0]),
            "/nonexistent/relay.yaml: cannot read the config file");
}

// The shipped configs stay in sync with the loader.
TEST(ConfigLoader, ShippedConfigsLoadCleanly) {
  const std::map<std::string, std::string> env = {{"OUTBOX_PG_PASSWORD", "x"},
                                                  {"PGHOST", "postgres"},
                                                  {"KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"}};
  // (deploy/compose/relay.yaml and the Kubernetes ConfigMap name secret files
  // that exist only where they are deployed: deploy_assets_test checks them.)
  for (const char* file : {"deploy/outbox-relay.example.yaml"}) {
    const std::string path = std::string(OUTBOX_SOURCE_DIR) + "/" + file;
    const LoadedConfig loaded = LoadConfigFile(path, FakeEnv(env));
    EXPECT_TRUE(loaded.problems.empty()) << FormatConfigProblem(path, loaded.problems.front());
  }
}

TEST(ConfigLoader, ExampleConfigStatesEveryDefault) {
  const std::string path = std::string(OUTBOX_SOURCE_DIR) + "/deploy/outbox-relay.example.yaml";
  const LoadedConfig loaded = LoadConfigFile(path, FakeEnv({{"OUTBOX_PG_PASSWORD", "x"}}));
  const Config defaults;
  EXPECT_EQ(loaded.config.relay.batch_size, defaults.relay.batch_size);
  EXPECT_EQ(loaded.config.relay.max_in_flight_rows, defaults.relay.max_in_flight_rows);
  EXPECT_EQ(loaded.config.relay.max_in_flight_bytes, defaults.relay.max_in_flight_bytes);
  EXPECT_EQ(loaded.config.relay.poll_interval_ms, defaults.relay.poll_interval_ms);
  EXPECT_EQ(loaded.config.relay.drain_timeout_ms, defaults.relay.drain_timeout_ms);
  EXPECT_EQ(loaded.config.relay.backoff_initial_ms, defaults.relay.backoff_initial_ms);
  EXPECT_EQ(loaded.config.relay.backoff_max_ms, defaults.relay.backoff_max_ms);
  EXPECT_EQ(loaded.config.relay.on_undeliverable, defaults.relay.on_undeliverable);
  EXPECT_EQ(loaded.config.relay.max_attempts, defaults.relay.max_attempts);
  EXPECT_EQ(loaded.config.relay.lease_ttl_ms, defaults.relay.lease_ttl_ms);
  EXPECT_EQ(loaded.config.metrics.listen, defaults.metrics.listen);
  EXPECT_EQ(loaded.config.metrics.refresh_interval_ms, defaults.metrics.refresh_interval_ms);
  EXPECT_EQ(loaded.config.log.level, defaults.log.level);
  EXPECT_EQ(loaded.config.log.format, defaults.log.format);
}

// Every key the relay knows (as check-config prints them) is in the example
// file, and the example has no key check-config would not print.
TEST(ConfigLoader, ExampleConfigNamesEveryKeyCheckConfigPrints) {
  const std::string path = std::string(OUTBOX_SOURCE_DIR) + "/deploy/outbox-relay.example.yaml";
  const LoadedConfig loaded = LoadConfigFile(path, FakeEnv({{"OUTBOX_PG_PASSWORD", "x"}}));
  ASSERT_TRUE(loaded.problems.empty());
  auto keys = [](const YAML::Node& root) {
    std::set<std::string> out;
    for (const auto& section : root) {
      const std::string name = section.first.as<std::string>();
      if (!section.second.IsMap()) {
        out.insert(name);
        continue;
      }
      for (const auto& key : section.second) {
        // kafka.properties is free-form: only the section itself counts.
        out.insert(name + "." + key.first.as<std::string>());
      }
    }
    return out;
  };
  EXPECT_EQ(keys(YAML::LoadFile(path)),
            keys(YAML::Load(RenderRedactedConfig(loaded.config, "(dsn)"))));
}

TEST(ConfigLoader, RefusesAnInFlightWindowSmallerThanABatch) {
  const LoadedConfig loaded = Load(R"(postgres: { dsn: "x" }
kafka: { bootstrap_servers: "b:1" }
relay: { batch_size: 1000, max_in_flight_rows: 999 }
)");
  EXPECT_EQ(Messages(loaded),
            (std::vector<std::string>{"relay.yaml:3:48: relay.max_in_flight_rows: must not be "
                                      "below relay.batch_size (1000)"}));
}

}  // namespace
}  // namespace outbox

namespace outbox {
namespace {

// A file holding `content` that is removed when the test ends.
class SecretFile {
 public:
  explicit SecretFile(const std::string& content) {
    char name[] = "/tmp/outbox-secret.XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    close(fd);
    path_ = name;
  }
  ~SecretFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ConfigSecrets, ReadsThePostgresPasswordFromAFileAndNeverPrintsIt) {
  const SecretFile secret("s3cr3t-pw\n");
  const LoadedConfig loaded =
      Load("postgres: { dsn: \"host=db user=relay\", password_file: " + secret.path() +
           " }\nkafka: { bootstrap_servers: \"b:1\" }\n");
  ASSERT_TRUE(loaded.problems.empty()) << Messages(loaded).front();
  EXPECT_EQ(loaded.config.postgres.password, "s3cr3t-pw");  // the newline is not part of it
  const std::string rendered = RenderRedactedConfig(loaded.config, "(dsn)");
  EXPECT_NE(rendered.find("password_file: " + secret.path()), std::string::npos) << rendered;
  EXPECT_EQ(rendered.find("s3cr3t"), std::string::npos) << rendered;
}

TEST(ConfigSecrets, ReadsKafkaSecretsFromFilesAndShowsOnlyWhereTheyComeFrom) {
  const SecretFile secret("kafka-pw");
  const LoadedConfig loaded = Load(
      "postgres: { dsn: \"x\" }\nkafka:\n  bootstrap_servers: \"b:1\"\n  secret_files:\n"
      "    sasl.password: " +
      secret.path() + "\n  properties: { sasl.username: relay }\n");
  ASSERT_TRUE(loaded.problems.empty()) << Messages(loaded).front();
  const auto& properties = loaded.config.kafka.properties;
  ASSERT_EQ(properties.size(), 2u);
  EXPECT_EQ(properties[1].name, "sasl.password");
  EXPECT_EQ(properties[1].value, "kafka-pw");
  const std::string rendered = RenderRedactedConfig(loaded.config, "(dsn)");
  EXPECT_NE(rendered.find("sasl.password: " + secret.path()), std::string::npos) << rendered;
  EXPECT_EQ(rendered.find("kafka-pw"), std::string::npos) << rendered;
}

TEST(ConfigSecrets, NamesAMissingOrEmptySecretFileAndADoubleSetting) {
  const SecretFile empty("\n");
  const LoadedConfig loaded = Load(
      "postgres: { dsn: \"x\", password_file: /nonexistent/pw }\n"
      "kafka:\n  bootstrap_servers: \"b:1\"\n  properties: { sasl.password: inline }\n"
      "  secret_files: { sasl.password: /nonexistent/k, ssl.key.password: " +
      empty.path() + " }\n");
  EXPECT_EQ(Messages(loaded),
            (std::vector<std::string>{
                "relay.yaml:1:38: postgres.password_file: cannot read \"/nonexistent/pw\": No "
                "such file or directory",
                "relay.yaml:5:34: kafka.secret_files.sasl.password: also set in kafka.properties: "
                "set it in one place",
                "relay.yaml:5:68: kafka.secret_files.ssl.key.password: \"" + empty.path() +
                    "\" is empty"}));
}

}  // namespace
}  // namespace outbox
