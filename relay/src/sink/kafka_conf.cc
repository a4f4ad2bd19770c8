#include "sink/kafka_conf.h"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "common/log.h"
#include "sink/kafka_errors.h"

namespace outbox {

void ConfDeleter::operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }

namespace {

// The relay's defaults, applied before the user's properties. The config
// loader refuses user values that would weaken the first two.
constexpr std::pair<const char*, const char*> kDefaults[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    // Keys land on the partitions Java producers would choose.
    {"partitioner", "murmur2_random"},
    // A batch's reports arrive within this; librdkafka's 5 minutes would
    // hold a batch (and a graceful stop) far longer than useful.
    {"message.timeout.ms", "30000"},
    {"client.id", "outbox-relay"},
    // The relay hands librdkafka a whole batch at once. With 0, the broker
    // threads woke for the first messages of the batch and sent it in many
    // small requests: 1 ms lets it go out in one request per broker, and
    // drained 300,000 rows 1.2-1.3x faster (bench/README.md) for at most
    // 1 ms of latency. Requests go out at once, as the Java client does
    // (TCP_NODELAY).
    {"linger.ms", "1"},
    {"socket.nagle.disable", "true"},
    // After an outage, reconnect within a second of the broker's return
    // (librdkafka backs off up to 10 s; the Java client's cap is 1 s).
    {"reconnect.backoff.max.ms", "1000"},
    // Queue depth and broker round trips for the metrics.
    {"statistics.interval.ms", "15000"},
};

void RouteLibrdkafkaLog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  // A broker connection failure (facility FAIL) also reaches OnError, which
  // logs it once with its reason code: here it is detail.
  const bool reported_by_error_cb = std::string_view(facility) == "FAIL";
  const LogLevel ours = reported_by_error_cb ? LogLevel::kDebug
                        : level <= 3         ? LogLevel::kError
                        : level == 4         ? LogLevel::kWarn
                        : level <= 6         ? LogLevel::kInfo
                                             : LogLevel::kDebug;
  Log(ours, message, {{"component", "librdkafka"}, {"facility", facility}});
}

void OnError(rd_kafka_t*, int err, const char* reason, void*) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  LogWarn("kafka client error", {{"reason", KafkaErrorReason(code)}, {"error", reason}});
}

}  // namespace

ConfPtr BuildConf(const KafkaConfig& config, std::vector<KafkaPropertyProblem>* problems) {
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [name, value] : kDefaults) {
    rd_kafka_conf_set(conf.get(), name, value, errstr, sizeof errstr);
  }
  if (rd_kafka_conf_set(conf.get(), "bootstrap.servers", config.bootstrap_servers.c_str(), errstr,
                        sizeof errstr) != RD_KAFKA_CONF_OK) {
    problems->push_back({-1, errstr});
  }
  for (size_t i = 0; i < config.properties.size(); ++i) {
    const KafkaProperty& p = config.properties[i];
    if (rd_kafka_conf_set(conf.get(), p.name.c_str(), p.value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      problems->push_back({static_cast<int>(i), errstr});
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), &RouteLibrdkafkaLog);
  rd_kafka_conf_set_error_cb(conf.get(), &OnError);
  return conf;
}

ConfPtr BuildReaderConf(const KafkaConfig& config) {
  // The user's properties about reaching the brokers (security, sockets),
  // none about producing: a consumer warns about each producer property.
  constexpr const char* kConnectionPrefixes[] = {
      "security.",  "sasl.",       "ssl.",       "ssl_",     "enable.ssl", "socket.",  "broker.",
      "reconnect.", "api.version", "client.dns", "resolve.", "debug",      "log_level"};
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  rd_kafka_conf_set(conf.get(), "bootstrap.servers", config.bootstrap_servers.c_str(), errstr,
                    sizeof errstr);
  for (const KafkaProperty& p : config.properties) {
    for (const char* prefix : kConnectionPrefixes) {
      if (p.name.rfind(prefix, 0) == 0) {
        rd_kafka_conf_set(conf.get(), p.name.c_str(), p.value.c_str(), errstr, sizeof errstr);
        break;
      }
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), &RouteLibrdkafkaLog);
  rd_kafka_conf_set_error_cb(conf.get(), &OnError);
  return conf;
}

int64_t IntegerProperty(const rd_kafka_conf_t* conf, const char* name, int64_t fallback) {
  char value[64];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK) return fallback;
  return std::strtoll(value, nullptr, 10);
}

std::vector<KafkaPropertyProblem> ValidateKafkaConfig(const KafkaConfig& config) {
  std::vector<KafkaPropertyProblem> problems;
  ConfPtr conf = BuildConf(config, &problems);
  if (!problems.empty()) return problems;
  // Combinations are checked when a client is created; with no brokers
  // listed it connects nowhere.
  char errstr[512];
  rd_kafka_conf_set(conf.get(), "bootstrap.servers", "", errstr, sizeof errstr);
  rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* probe = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
  if (probe == nullptr) {
    problems.push_back({-1, errstr});
    return problems;
  }
  conf.release();  // owned by the client now
  rd_kafka_destroy(probe);
  return problems;
}

std::string LibrdkafkaVersion() { return rd_kafka_version_str(); }

}  // namespace outbox
