// The operator assets in deploy/ are well-formed (the e2e tests check that
// they only use metrics the relay exports, and promtool checks the rules).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "config/loader.h"

namespace outbox {
namespace {

nlohmann::json LoadDashboard() {
  std::ifstream file(std::string(OUTBOX_SOURCE_DIR) + "/deploy/grafana/outbox-relay.json");
  std::stringstream text;
  text << file.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, false);
}

TEST(GrafanaDashboard, IsProvisionableJsonWithAQueryInEveryPanel) {
  const nlohmann::json dashboard = LoadDashboard();
  ASSERT_TRUE(dashboard.is_object()) << "not JSON";
  EXPECT_EQ(dashboard.value("uid", ""), "outbox-relay");
  ASSERT_TRUE(dashboard.contains("panels"));
  std::set<int> ids;
  for (const auto& panel : dashboard["panels"]) {
    EXPECT_TRUE(ids.insert(panel.value("id", -1)).second) << "duplicate panel id";
    ASSERT_TRUE(panel.contains("targets")) << panel.value("title", "?");
    for (const auto& target : panel["targets"]) {
      EXPECT_NE(target.value("expr", "").find("outbox_relay_"), std::string::npos)
          << panel.value("title", "?");
    }
  }
  EXPECT_GE(ids.size(), 8u);
}

TEST(GrafanaDashboard, ShowsLagThroughputLatencyErrorsAndInFlight) {
  const std::string text = LoadDashboard().dump();
  for (const char* metric :
       {"outbox_relay_oldest_pending_age_seconds", "outbox_relay_messages_published_total",
        "outbox_relay_delivery_latency_seconds_bucket", "outbox_relay_publish_errors_total",
        "outbox_relay_in_flight_messages"}) {
    EXPECT_NE(text.find(metric), std::string::npos) << metric;
  }
}

}  // namespace
}  // namespace outbox

namespace outbox {
namespace {

const std::string kRoot = OUTBOX_SOURCE_DIR;

bool Exists(const std::string& relative) { return std::filesystem::exists(kRoot + "/" + relative); }

// The problems of a shipped relay config, except secret files that only
// exist where it is deployed (a mounted Secret): those are returned in
// `secret_files`.
std::vector<std::string> ConfigProblems(const std::string& yaml,
                                        std::vector<std::string>* secret_files) {
  const LoadedConfig loaded = LoadConfigFromString(
      yaml, "config.yaml",
      [](const std::string& name) -> std::optional<std::string> { return "value-of-" + name; });
  std::vector<std::string> problems;
  for (const ConfigProblem& p : loaded.problems) {
    const bool secret =
        p.key == "postgres.password_file" || p.key.rfind("kafka.secret_files.", 0) == 0;
    const size_t quote = p.problem.find('"');
    if (secret && p.problem.rfind("cannot read", 0) == 0 && quote != std::string::npos) {
      secret_files->push_back(
          p.problem.substr(quote + 1, p.problem.find('"', quote + 1) - quote - 1));
    } else {
      problems.push_back(FormatConfigProblem("config.yaml", p));
    }
  }
  return problems;
}

std::vector<YAML::Node> LoadManifests(const std::string& file) {
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(kRoot + "/deploy/kubernetes/" + file);
  for (const YAML::Node& doc : docs) {
    EXPECT_TRUE(doc["apiVersion"] && doc["kind"] && doc["metadata"]["name"]) << file;
  }
  return docs;
}

TEST(KubernetesManifests, KustomizationListsFilesThatExistAndParse) {
  const YAML::Node kustomization = YAML::LoadFile(kRoot + "/deploy/kubernetes/kustomization.yaml");
  ASSERT_TRUE(kustomization["resources"].IsSequence());
  for (const auto& resource : kustomization["resources"]) {
    const std::string file = resource.as<std::string>();
    EXPECT_TRUE(Exists("deploy/kubernetes/" + file)) << file;
    EXPECT_FALSE(LoadManifests(file).empty()) << file;
  }
  EXPECT_TRUE(Exists("deploy/kubernetes/sidecar.yaml"));
}

// The relay container of each workload: probes, resources, hardening, and
// every volume it needs defined in this directory.
TEST(KubernetesManifests, RelayContainersAreProbedBoundedHardenedAndFullyMounted) {
  std::set<std::string> config_maps, secrets;
  YAML::Node relay_config;
  for (const char* file : {"configmap.yaml", "tls-configmap.example.yaml", "secret.example.yaml"}) {
    for (const YAML::Node& doc : LoadManifests(file)) {
      const std::string name = doc["metadata"]["name"].as<std::string>();
      (doc["kind"].as<std::string>() == "Secret" ? secrets : config_maps).insert(name);
      if (name == "outbox-relay-config") relay_config = doc;
    }
  }
  ASSERT_TRUE(relay_config) << "no ConfigMap outbox-relay-config";
  std::vector<std::string> secret_files;
  const std::vector<std::string> problems =
      ConfigProblems(relay_config["data"]["config.yaml"].as<std::string>(), &secret_files);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(secret_files.size(), 2u);  // the database and the Kafka password

  int relays = 0;
  for (const char* file : {"deployment.yaml", "sidecar.yaml"}) {
    for (const YAML::Node& doc : LoadManifests(file)) {
      if (doc["kind"].as<std::string>() != "Deployment") continue;
      const YAML::Node pod = doc["spec"]["template"]["spec"];
      EXPECT_EQ(
          doc["spec"]["template"]["metadata"]["labels"]["outbox-relay/metrics"].as<std::string>(""),
          "true")
          << file << ": not scraped by monitoring/podmonitor.yaml";
      EXPECT_GT(pod["terminationGracePeriodSeconds"].as<int>(0), 10) << file << ": below the drain";
      EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>(false)) << file;
      std::map<std::string, YAML::Node> volumes;
      for (const YAML::Node& volume : pod["volumes"]) {
        volumes[volume["name"].as<std::string>()] = volume;
      }
      for (const auto& container : pod["containers"]) {
        if (container["image"].as<std::string>().rfind("outbox-relay", 0) != 0) continue;
        ++relays;
        const std::string where = std::string(file) + ": " + container["name"].as<std::string>();
        EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"].as<std::string>(""), "/healthz")
            << where;
        if (std::string(file) == "deployment.yaml") {
          EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(""), "/readyz")
              << where;
        }
        EXPECT_TRUE(container["resources"]["requests"]["memory"]) << where;
        EXPECT_TRUE(container["resources"]["limits"]["memory"]) << where;
        EXPECT_FALSE(container["securityContext"]["allowPrivilegeEscalation"].as<bool>(true))
            << where;
        EXPECT_TRUE(container["securityContext"]["readOnlyRootFilesystem"].as<bool>(false))
            << where;
        std::vector<std::string> mounts;
        for (const auto& mount : container["volumeMounts"]) {
          const YAML::Node volume = volumes[mount["name"].as<std::string>()];
          ASSERT_TRUE(volume) << where << ": no volume " << mount["name"];
          if (volume["configMap"]) {
            EXPECT_EQ(config_maps.count(volume["configMap"]["name"].as<std::string>()), 1u)
                << where;
          }
          if (volume["secret"]) {
            EXPECT_EQ(secrets.count(volume["secret"]["secretName"].as<std::string>()), 1u) << where;
          }
          mounts.push_back(mount["mountPath"].as<std::string>());
        }
        // The config file and every secret file it names are mounted.
        EXPECT_NE(std::find(mounts.begin(), mounts.end(), "/etc/outbox-relay/config.yaml"),
                  mounts.end())
            << where;
        for (const std::string& secret_file : secret_files) {
          EXPECT_TRUE(
              std::any_of(mounts.begin(), mounts.end(),
                          [&](const std::string& m) { return secret_file.rfind(m + "/", 0) == 0; }))
              << where << ": " << secret_file << " is not mounted";
        }
      }
    }
  }
  EXPECT_EQ(relays, 2);
}

TEST(DockerCompose, ParsesAndEverythingItMountsOrBuildsExists) {
  const YAML::Node compose = YAML::LoadFile(kRoot + "/docker-compose.yml");
  std::set<std::string> services;
  for (const auto& service : compose["services"]) {
    const std::string name = service.first.as<std::string>();
    services.insert(name);
    for (const auto& volume : service.second["volumes"]) {
      const std::string spec = volume.as<std::string>();
      const std::string source = spec.substr(0, spec.find(':'));
      if (source.rfind("./", 0) == 0) {
        EXPECT_TRUE(Exists(source.substr(2))) << name << ": " << spec;
      }
    }
    if (service.second["build"]) {
      EXPECT_TRUE(Exists(service.second["build"]["dockerfile"].as<std::string>())) << name;
    }
  }
  EXPECT_EQ(services, (std::set<std::string>{"postgres", "kafka", "relay", "writer", "prometheus",
                                             "grafana"}));
  for (const auto& secret : compose["secrets"]) {
    EXPECT_TRUE(Exists(secret.second["file"].as<std::string>().substr(2)));
  }
  std::ifstream file(kRoot + "/deploy/compose/relay.yaml");
  std::stringstream yaml;
  yaml << file.rdbuf();
  std::vector<std::string> secret_files;
  const std::vector<std::string> problems = ConfigProblems(yaml.str(), &secret_files);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(secret_files, (std::vector<std::string>{"/run/secrets/relay_pg_password"}));
}

std::string ReadText(const std::string& relative) {
  std::ifstream file(kRoot + "/" + relative);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// `kubectl apply -k deploy/kubernetes` must work on a plain cluster: no
// Prometheus Operator CRDs, no placeholder secret that would overwrite (or
// stand in for) the real one.
TEST(KubernetesManifests, DefaultSetNeedsNoOperatorCrdsAndAppliesNoPlaceholders) {
  const YAML::Node kustomization = YAML::LoadFile(kRoot + "/deploy/kubernetes/kustomization.yaml");
  const std::string text = ReadText("deploy/kubernetes/kustomization.yaml");
  for (const auto& resource : kustomization["resources"]) {
    const std::string file = resource.as<std::string>();
    EXPECT_EQ(file.find(".example."), std::string::npos) << file << " is a placeholder";
    for (const YAML::Node& doc : LoadManifests(file)) {
      const std::string api = doc["apiVersion"].as<std::string>();
      EXPECT_EQ(api.find("monitoring.coreos.com"), std::string::npos)
          << file << ": " << doc["kind"] << " needs the Prometheus Operator";
      EXPECT_NE(doc["kind"].as<std::string>(), "Secret") << file;
    }
  }
  // The objects the user creates instead are named, with the command.
  for (const char* own : {"kubectl create secret generic outbox-relay-secrets",
                          "kubectl create configmap outbox-relay-tls",
                          "kubectl apply -k deploy/kubernetes/monitoring"}) {
    EXPECT_NE(text.find(own), std::string::npos) << own;
  }
  const YAML::Node monitoring =
      YAML::LoadFile(kRoot + "/deploy/kubernetes/monitoring/kustomization.yaml");
  std::set<std::string> kinds;
  for (const auto& resource : monitoring["resources"]) {
    for (const YAML::Node& doc : LoadManifests("monitoring/" + resource.as<std::string>())) {
      kinds.insert(doc["kind"].as<std::string>());
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"PodMonitor", "PrometheusRule"}));
}

TEST(KubernetesManifests, PrometheusRuleCarriesExactlyTheShippedAlertRules) {
  const YAML::Node rules = YAML::LoadFile(kRoot + "/deploy/prometheus/outbox-relay.rules.yml");
  const std::vector<YAML::Node> docs = LoadManifests("monitoring/prometheusrule.yaml");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(YAML::Dump(docs[0]["spec"]["groups"]), YAML::Dump(rules["groups"]))
      << "regenerate it: sed -e '/^ *#/d' -e 's/^/  /' deploy/prometheus/outbox-relay.rules.yml";
}

// Each alert links its runbook, and the runbook says what the alert means,
// what to check, and which command fixes it.
TEST(AlertRules, EveryAlertLinksARunbookSectionThatExists) {
  const YAML::Node rules = YAML::LoadFile(kRoot + "/deploy/prometheus/outbox-relay.rules.yml");
  const std::string runbooks = ReadText("docs/runbooks.md");
  ASSERT_FALSE(runbooks.empty()) << "no docs/runbooks.md";
  int alerts = 0;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;
      ++alerts;
      const std::string name = rule["alert"].as<std::string>();
      std::string anchor = name;
      std::transform(anchor.begin(), anchor.end(), anchor.begin(), ::tolower);
      EXPECT_EQ(rule["annotations"]["runbook_url"].as<std::string>(""),
                "https://github.com/outbox-relay/outbox-relay/blob/main/docs/runbooks.md#" + anchor)
          << name;
      const size_t section = runbooks.find("\n## " + name + "\n");
      ASSERT_NE(section, std::string::npos) << "docs/runbooks.md has no section ## " << name;
      const std::string body =
          runbooks.substr(section, runbooks.find("\n## ", section + 1) - section);
      for (const char* part : {"**Means:**", "**Check:**", "**Fix:**"}) {
        EXPECT_NE(body.find(part), std::string::npos) << name << " lacks " << part;
      }
    }
  }
  EXPECT_GE(alerts, 12);
}

// Every relay reports the whole table's gauges: summing them over relays
// shows 2x or 3x with replicas.
TEST(MonitoringAssets, NeverSumAWholeTableGaugeOverRelays) {
  const std::regex summed(
      R"(sum\s*(by\s*\([^)]*\)\s*)?\(\s*outbox_relay_(pending_messages|oldest_pending_age_seconds|)"
      R"(oldest_open_transaction_age_seconds|blocked_keys|shards)\b)");
  std::vector<std::string> exprs;
  const nlohmann::json dashboard = LoadDashboard();
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) exprs.push_back(target.value("expr", ""));
  }
  const YAML::Node rules = YAML::LoadFile(kRoot + "/deploy/prometheus/outbox-relay.rules.yml");
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) exprs.push_back(rule["expr"].as<std::string>());
  }
  ASSERT_GT(exprs.size(), 20u);
  for (const std::string& expr : exprs) EXPECT_FALSE(std::regex_search(expr, summed)) << expr;
}

TEST(DockerCompose, RunsTheOfficialKafkaImageInKraftModeAndRestartsTheRelay) {
  const YAML::Node compose = YAML::LoadFile(kRoot + "/docker-compose.yml");
  EXPECT_EQ(ReadText("docker-compose.yml").find("bitnami"), std::string::npos);
  const YAML::Node kafka = compose["services"]["kafka"];
  EXPECT_EQ(kafka["image"].as<std::string>().rfind("apache/kafka:", 0), 0u);
  const YAML::Node env = kafka["environment"];
  for (const char* key :
       {"KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LISTENERS",
        "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_LISTENER_NAMES",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"}) {
    EXPECT_TRUE(env[key]) << key;
  }
  // The one voter is this node, and the broker advertises what the relay dials.
  EXPECT_EQ(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].as<std::string>(""),
            env["KAFKA_NODE_ID"].as<std::string>("") + "@kafka:9093");
  const YAML::Node relay = compose["services"]["relay"];
  EXPECT_EQ(env["KAFKA_ADVERTISED_LISTENERS"].as<std::string>(""),
            "PLAINTEXT://" + relay["environment"]["KAFKA_BOOTSTRAP_SERVERS"].as<std::string>(""));
  EXPECT_EQ(relay["restart"].as<std::string>(""), "unless-stopped");
}

}  // namespace
}  // namespace outbox
