// outbox-dev-broker: librdkafka's in-memory mock cluster as a standalone
// process, for trials and tests without a Kafka installation. Prints its
// bootstrap servers as the first line of stdout, then runs until
// SIGTERM/SIGINT; SIGUSR1 takes its brokers down and SIGUSR2 brings them
// back. Data lives only in this process's memory, and each partition keeps
// at most ~5 MiB (older data is evicted).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/stop_signals.h"
#include "listener_nodelay.h"

int main(int argc, char** argv) {
  CLI::App cli{"outbox-dev-broker: a local Kafka-protocol broker (librdkafka mock cluster)"};
  int brokers = 1;
  std::vector<std::string> topics;
  cli.add_option("--brokers", brokers, "number of brokers")->check(CLI::Range(1, 9));
  cli.add_option("--topic", topics,
                 "create TOPIC[:PARTITIONS] up front (other topics are created "
                 "on first use with 4 partitions)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }

  sigset_t signals = outbox::BlockSignals({SIGTERM, SIGINT});
  // Fault injection for trials and tests: SIGUSR1 takes every broker down
  // (connections refused, data kept), SIGUSR2 brings them back.
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "outbox-dev-broker: %s\n", errstr);
    return 1;
  }
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (handle == nullptr) {
    std::fprintf(stderr, "outbox-dev-broker: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "outbox-dev-broker: cannot create the mock cluster\n");
    return 1;
  }
  for (const std::string& spec : topics) {
    const size_t colon = spec.find(':');
    const std::string name = spec.substr(0, colon);
    const int partitions = colon == std::string::npos ? 4 : std::atoi(spec.c_str() + colon + 1);
    if (name.empty() || partitions < 1 ||
        rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "outbox-dev-broker: cannot create topic \"%s\"\n", spec.c_str());
      return 2;
    }
  }
  outbox::SetNoDelayOnListeningSockets();
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  for (int received = 0; sigwait(&signals, &received) == 0;) {
    if (received != SIGUSR1 && received != SIGUSR2) break;
    for (int32_t broker = 1; broker <= brokers; ++broker) {
      if (received == SIGUSR1) {
        rd_kafka_mock_broker_set_down(cluster, broker);
      } else {
        rd_kafka_mock_broker_set_up(cluster, broker);
      }
    }
    if (received == SIGUSR2) outbox::SetNoDelayOnListeningSockets();  // in case of new listeners
    std::fprintf(stderr, "outbox-dev-broker: brokers %s\n", received == SIGUSR1 ? "down" : "up");
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(handle);
  return 0;
}
