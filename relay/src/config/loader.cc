#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/duration.h"
#include "common/log.h"

namespace outbox {
namespace {

SourceMark MarkOf(const YAML::Mark& mark) {
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Walks the YAML tree against the expected shape, recording every problem.
class Reader {
 public:
  using FieldHandler = std::function<void(const YAML::Node&, const std::string&)>;
  using Fields = std::map<std::string, FieldHandler>;

  Reader(const EnvLookup& env, std::vector<ConfigProblem>& problems)
      : env_(env), problems_(problems) {}

  void Problem(const YAML::Node& node, const std::string& key, std::string problem) {
    problems_.push_back({MarkOf(node.Mark()), key, std::move(problem)});
  }

  // Calls the handler of each known key; unknown and repeated keys are
  // problems. A null node is an empty section.
  void Section(const YAML::Node& node, const std::string& path, const Fields& fields) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      Problem(node, path, "must be a mapping");
      return;
    }
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const std::string name = entry.first.Scalar();
      const std::string key = Join(path, name);
      if (!seen.insert(name).second) {
        problems_.push_back({MarkOf(entry.first.Mark()), key, "duplicate key"});
        continue;
      }
      const auto field = fields.find(name);
      if (field == fields.end()) {
        problems_.push_back({MarkOf(entry.first.Mark()), key,
                             "unknown key (expected one of: " + KnownKeys(fields) + ")"});
        continue;
      }
      field->second(entry.second, key);
    }
  }

  // A key of `section` that, when set, must not be below another key's value
  // (the other's default if unset). Called once the section is read, so the
  // order of the keys in the file does not matter.
  void NotBelow(const YAML::Node& section, const std::string& path, const std::string& key,
                int64_t value, const std::string& other, int64_t other_value) {
    if (!section.IsMap() || !section[key] || value >= other_value) return;
    Problem(section[key], Join(path, key),
            "must not be below " + Join(path, other) + " (" + std::to_string(other_value) + ")");
  }

  // A scalar with ${VAR} substituted; nullopt after recording a problem.
  std::optional<std::string> Scalar(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) {
      Problem(node, key, node.IsNull() ? "needs a value" : "must be a scalar");
      return std::nullopt;
    }
    Result<std::string> value = SubstituteEnv(node.Scalar(), env_);
    if (!value.ok()) {
      Problem(node, key, value.status().message());
      return std::nullopt;
    }
    return std::move(*value);
  }

  void String(const YAML::Node& node, const std::string& key, std::string* out) {
    if (auto value = Scalar(node, key)) *out = std::move(*value);
  }

  void RequiredString(const YAML::Node& node, const std::string& key, std::string* out) {
    auto value = Scalar(node, key);
    if (!value) return;
    if (value->empty()) {
      Problem(node, key, "must not be empty");
      return;
    }
    *out = std::move(*value);
  }

  void Int(const YAML::Node& node, const std::string& key, int min, int max, int* out) {
    const auto text = Scalar(node, key);
    if (!text) return;
    int value = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end) {
      Problem(node, key,
              "must be an integer between " + std::to_string(min) + " and " + std::to_string(max) +
                  " (got \"" + *text + "\")");
      return;
    }
    if (value < min || value > max) {
      Problem(node, key,
              "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " +
                  *text + ")");
      return;
    }
    *out = value;
  }

  void Bool(const YAML::Node& node, const std::string& key, bool* out) {
    const auto text = Scalar(node, key);
    if (!text) return;
    if (*text == "true" || *text == "false") {
      *out = *text == "true";
      return;
    }
    Problem(node, key, "must be true or false (got \"" + *text + "\")");
  }

  // "90s", "15m", "2h", "7d", or 0.
  void Duration(const YAML::Node& node, const std::string& key, std::chrono::seconds* out) {
    const auto text = Scalar(node, key);
    if (!text) return;
    if (const std::optional<std::chrono::seconds> value = ParseDuration(*text)) {
      *out = *value;
      return;
    }
    Problem(node, key,
            "must be a duration such as 90s, 15m, 2h or 7d, or 0 (got \"" + *text + "\")");
  }

  // One of `choices`; nullopt (after recording a problem) otherwise.
  void Choice(const YAML::Node& node, const std::string& key,
              std::initializer_list<const char*> choices, std::string* out) {
    std::string value;
    String(node, key, &value);
    if (value.empty()) return;
    std::string names;
    for (const char* choice : choices) {
      if (value == choice) {
        *out = value;
        return;
      }
      names += names.empty() ? "" : " or ";
      names += choice;
    }
    Problem(node, key, "must be " + names + " (got \"" + value + "\")");
  }

 private:
  static std::string KnownKeys(const Fields& fields) {
    std::string keys;
    for (const auto& [name, handler] : fields) {
      if (!keys.empty()) keys += ", ";
      keys += name;
    }
    return keys;
  }

  const EnvLookup& env_;
  std::vector<ConfigProblem>& problems_;
};

// A secret's file content without one trailing newline (as `echo` and most
// secret stores leave it); nullopt after recording a problem.
std::optional<std::string> ReadSecretFile(Reader& reader, const YAML::Node& node,
                                          const std::string& key, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    reader.Problem(node, key, "cannot read \"" + path + "\": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) {
    reader.Problem(node, key, "\"" + path + "\" is empty");
    return std::nullopt;
  }
  return content;
}

void ReadKafkaSecretFiles(Reader& reader, const YAML::Node& node, const std::string& path,
                          KafkaConfig* kafka) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    reader.Problem(node, path, "must be a mapping of librdkafka property -> file");
    return;
  }
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string key = Join(path, name);
    auto file = reader.Scalar(entry.second, key);
    if (!file) continue;
    const bool duplicate = std::any_of(kafka->properties.begin(), kafka->properties.end(),
                                       [&](const KafkaProperty& p) { return p.name == name; });
    if (duplicate) {
      reader.Problem(entry.second, key, "also set in kafka.properties: set it in one place");
      continue;
    }
    if (auto value = ReadSecretFile(reader, entry.second, key, *file)) {
      kafka->properties.push_back({name, std::move(*value), MarkOf(entry.second.Mark())});
      kafka->secret_files[name] = *file;
    }
  }
}

// "host:port" or "[v6]:port" with a port in 0..65535.
bool IsValidListenAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string port = text.substr(colon + 1);
  int value = -1;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && ptr == port.data() + port.size() && value >= 0 && value <= 65535;
}

void ReadKafkaProperties(Reader& reader, const YAML::Node& node, const std::string& path,
                         KafkaConfig* kafka, std::vector<ConfigProblem>& problems) {
  kafka->properties_mark = MarkOf(node.Mark());
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    reader.Problem(node, path, "must be a mapping of librdkafka properties");
    return;
  }
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string key = Join(path, name);
    const SourceMark mark = MarkOf(entry.second.Mark());
    auto value = reader.Scalar(entry.second, key);
    if (!value) continue;
    if (name == "bootstrap.servers") {
      problems.push_back({mark, key, "set kafka.bootstrap_servers instead"});
      continue;
    }
    if (name == "acks" || name == "request.required.acks") {
      if (*value != "all" && *value != "-1") {
        problems.push_back({mark, key,
                            "must be \"all\": a row is removed only after every in-sync "
                            "replica has it (got \"" +
                                *value + "\")"});
        continue;
      }
    }
    if (name == "enable.idempotence" && *value != "true") {
      problems.push_back({mark, key,
                          "must stay true: without it retries can duplicate and reorder "
                          "messages (got \"" +
                              *value + "\")"});
      continue;
    }
    kafka->properties.push_back({name, std::move(*value), mark});
  }
}

void ReadConfig(const YAML::Node& root, Reader& reader, Config* config,
                std::vector<ConfigProblem>& problems) {
  PostgresConfig& pg = config->postgres;
  KafkaConfig& kafka = config->kafka;
  RelaySettings& relay = config->relay;
  const YAML::Node empty;

  YAML::Node postgres_node = empty, kafka_node = empty;
  // Read after kafka.properties, whatever the order in the file, so that a
  // property set in both places is found.
  YAML::Node secret_files_node;
  // A required key that is present but bad already has its own problem.
  bool dsn_seen = false, bootstrap_seen = false;
  reader.Section(
      root, "",
      {
          {"postgres",
           [&](const YAML::Node& n, const std::string& p) {
             postgres_node = n;
             reader.Section(
                 n, p,
                 {{"dsn",
                   [&](const YAML::Node& v, const std::string& k) {
                     dsn_seen = true;
                     pg.dsn_mark = MarkOf(v.Mark());
                     reader.RequiredString(v, k, &pg.dsn);
                   }},
                  {"password_file", [&](const YAML::Node& v, const std::string& k) {
                     reader.String(v, k, &pg.password_file);
                     if (pg.password_file.empty()) return;  // "" = none
                     if (auto password = ReadSecretFile(reader, v, k, pg.password_file)) {
                       pg.password = std::move(*password);
                     }
                   }}});
           }},
          {"kafka",
           [&](const YAML::Node& n, const std::string& p) {
             kafka_node = n;
             reader.Section(
                 n, p,
                 {{"bootstrap_servers",
                   [&](const YAML::Node& v, const std::string& k) {
                     bootstrap_seen = true;
                     reader.RequiredString(v, k, &kafka.bootstrap_servers);
                   }},
                  {"properties",
                   [&](const YAML::Node& v, const std::string& k) {
                     ReadKafkaProperties(reader, v, k, &kafka, problems);
                   }},
                  {"secret_files",
                   [&](const YAML::Node& v, const std::string&) { secret_files_node = v; }},
                  {"topics",
                   [&](const YAML::Node& v, const std::string& k) {
                     if (v.IsNull()) return;
                     if (!v.IsSequence()) {
                       reader.Problem(v, k, "must be a list of topic names");
                       return;
                     }
                     for (size_t i = 0; i < v.size(); ++i) {
                       std::string topic;
                       reader.RequiredString(v[i], k + "[" + std::to_string(i) + "]", &topic);
                       if (!topic.empty()) kafka.topics.push_back(topic);
                     }
                   }},
                  {"durability_check", [&](const YAML::Node& v, const std::string& k) {
                     std::string mode;
                     reader.String(v, k, &mode);
                     if (mode.empty()) return;
                     if (mode != "warn" && mode != "refuse" && mode != "off") {
                       reader.Problem(v, k, "must be warn, refuse or off (got \"" + mode + "\")");
                       return;
                     }
                     kafka.durability_check = mode;
                   }}});
           }},
          {"relay",
           [&](const YAML::Node& n, const std::string& p) {
             reader.Section(n, p,
                            {{"batch_size",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 1, 10000, &relay.batch_size);
                              }},
                             {"max_in_flight_rows",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 1, 1000000, &relay.max_in_flight_rows);
                              }},
                             {"max_in_flight_bytes",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 1024, 1 << 30, &relay.max_in_flight_bytes);
                              }},
                             {"poll_interval_ms",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 1, 60000, &relay.poll_interval_ms);
                              }},
                             {"lease_ttl_ms",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 500, 600000, &relay.lease_ttl_ms);
                              }},
                             {"drain_timeout_ms",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 0, 600000, &relay.drain_timeout_ms);
                              }},
                             {"backoff_initial_ms",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 1, 60000, &relay.backoff_initial_ms);
                              }},
                             {"max_attempts",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 0, 1000000, &relay.max_attempts);
                              }},
                             {"on_undeliverable",
                              [&](const YAML::Node& v, const std::string& k) {
                                std::string policy;
                                reader.String(v, k, &policy);
                                if (policy.empty()) return;
                                if (policy != "block_key" && policy != "dead_letter") {
                                  reader.Problem(
                                      v, k,
                                      "must be block_key or dead_letter (got \"" + policy + "\")");
                                  return;
                                }
                                relay.on_undeliverable = policy;
                              }},
                             {"on_ack",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Choice(v, k, {"delete", "mark_sent"}, &relay.on_ack);
                              }},
                             {"sent_retention",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Duration(v, k, &relay.sent_retention);
                              }},
                             {"dead_letter_retention",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Duration(v, k, &relay.dead_letter_retention);
                              }},
                             {"partitions_ahead",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 1, 366, &relay.partitions_ahead);
                              }},
                             {"per_key_sequence",
                              [&](const YAML::Node& v, const std::string& k) {
                                reader.Bool(v, k, &relay.per_key_sequence);
                              }},
                             {"backoff_max_ms", [&](const YAML::Node& v, const std::string& k) {
                                reader.Int(v, k, 1, 600000, &relay.backoff_max_ms);
                              }}});
             // Cross-field checks once the whole section is read, so the
             // order of the keys in the file does not matter.
             reader.NotBelow(n, p, "max_in_flight_rows", relay.max_in_flight_rows, "batch_size",
                             relay.batch_size);
             reader.NotBelow(n, p, "backoff_max_ms", relay.backoff_max_ms, "backoff_initial_ms",
                             relay.backoff_initial_ms);
           }},
          {"metrics",
           [&](const YAML::Node& n, const std::string& p) {
             reader.Section(
                 n, p,
                 {{"listen",
                   [&](const YAML::Node& v, const std::string& k) {
                     std::string listen;
                     if (v.IsScalar() && v.Scalar().empty()) {
                       config->metrics.listen.clear();
                       return;
                     }
                     reader.String(v, k, &listen);
                     if (listen.empty()) return;
                     if (!IsValidListenAddress(listen)) {
                       reader.Problem(v, k,
                                      "must be host:port with a port from 0 to "
                                      "65535 (got \"" +
                                          listen + "\")");
                       return;
                     }
                     config->metrics.listen = listen;
                   }},
                  {"refresh_interval_ms", [&](const YAML::Node& v, const std::string& k) {
                     reader.Int(v, k, 100, 600000, &config->metrics.refresh_interval_ms);
                   }}});
           }},
          {"log",
           [&](const YAML::Node& n, const std::string& p) {
             reader.Section(n, p,
                            {{"level",
                              [&](const YAML::Node& v, const std::string& k) {
                                std::string level;
                                reader.String(v, k, &level);
                                if (level.empty()) return;
                                LogLevel parsed;
                                if (!ParseLogLevel(level, &parsed)) {
                                  reader.Problem(v, k,
                                                 "must be one of debug, info, "
                                                 "warn, error (got \"" +
                                                     level + "\")");
                                  return;
                                }
                                config->log.level = level;
                              }},
                             {"format", [&](const YAML::Node& v, const std::string& k) {
                                std::string format;
                                reader.String(v, k, &format);
                                if (format.empty()) return;
                                if (format != "logfmt" && format != "json") {
                                  reader.Problem(v, k,
                                                 "must be logfmt or json (got \"" + format + "\")");
                                  return;
                                }
                                config->log.format = format;
                              }}});
           }},
      });
  if (secret_files_node.IsDefined()) {
    ReadKafkaSecretFiles(reader, secret_files_node, "kafka.secret_files", &kafka);
  }

  if (!dsn_seen) {
    reader.Problem(postgres_node.IsDefined() && !postgres_node.IsNull() ? postgres_node : root,
                   "postgres.dsn", "is required");
  }
  if (!bootstrap_seen) {
    reader.Problem(kafka_node.IsDefined() && !kafka_node.IsNull() ? kafka_node : root,
                   "kafka.bootstrap_servers", "is required");
  }
}

}  // namespace

std::string FormatConfigProblem(const std::string& path, const ConfigProblem& problem) {
  std::ostringstream out;
  out << path << ':';
  if (problem.mark.line > 0) {
    out << problem.mark.line << ':' << problem.mark.column << ':';
  }
  out << ' ';
  if (!problem.key.empty()) out << problem.key << ": ";
  out << problem.problem;
  return out.str();
}

LoadedConfig LoadConfigFromString(std::string_view yaml, const std::string& path,
                                  const EnvLookup& env) {
  LoadedConfig loaded;
  loaded.config.source_path = path;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    loaded.problems.push_back({MarkOf(e.mark), "", "invalid YAML: " + e.msg});
    return loaded;
  }
  Reader reader(env, loaded.problems);
  if (!root.IsNull() && !root.IsMap()) {
    reader.Problem(root, "", "the config must be a mapping");
    return loaded;
  }
  ReadConfig(root, reader, &loaded.config, loaded.problems);
  return loaded;
}

LoadedConfig LoadConfigFile(const std::string& path, const EnvLookup& env) {
  std::ifstream file(path);
  if (!file) {
    LoadedConfig loaded;
    loaded.problems.push_back({{}, "", "cannot read the config file"});
    return loaded;
  }
  std::stringstream text;
  text << file.rdbuf();
  return LoadConfigFromString(text.str(), path, env);
}

}  // namespace outbox
