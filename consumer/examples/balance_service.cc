// The demo's consumer, built on outbox::inbox: applies each OrderPlaced
// event of topic `orders` to a per-customer balance, exactly once, in its
// own database. scripts/demo and tests/e2e/inbox_e2e.sh kill it with -9
// at random moments; the balances still add up to the orders.
//
//   outbox-balance-service --dsn DSN --bootstrap HOST:PORT [--topic orders]
//       [--name balance-service] [--metrics 127.0.0.1:0] [--on-gap continue|hold]
//       [--batch N] [--kafka NAME=VALUE ...]
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "outbox/inbox/consumer.h"

namespace {

outbox::inbox::Consumer* running = nullptr;

extern "C" void OnSignal(int) {
  if (running != nullptr) running->Stop();
}

constexpr const char* kBalancesSql = R"sql(
CREATE TABLE IF NOT EXISTS balances (
    customer      text   PRIMARY KEY,
    balance_cents bigint NOT NULL,
    orders        bigint NOT NULL
))sql";

// The business change: one order's amount onto its customer's balance. A
// payload that is not an order throws, so the inbox retries it and then
// dead-letters it instead of applying half of it.
void ApplyOrder(pqxx::transaction_base& tx, const outbox::inbox::Message& message) {
  if (!message.payload) throw std::invalid_argument("an order event without a payload");
  const nlohmann::json order = nlohmann::json::parse(*message.payload);
  tx.exec_params(
      "INSERT INTO balances AS b (customer, balance_cents, orders) VALUES ($1, $2, 1) "
      "ON CONFLICT (customer) DO UPDATE SET balance_cents = b.balance_cents + "
      "EXCLUDED.balance_cents, orders = b.orders + 1",
      order.at("customer").get<std::string>(), order.at("amount_cents").get<int64_t>());
}

}  // namespace

int main(int argc, char** argv) {
  outbox::inbox::Options options;
  options.name = "balance-service";
  options.topics = {"orders"};
  std::string metrics_listen = "127.0.0.1:0", on_gap = "continue";
  CLI::App app{"The demo's balance service: orders -> balances, exactly once (outbox::inbox)"};
  app.add_option("--dsn", options.postgres_dsn, "the service's own database")->required();
  app.add_option("--bootstrap", options.bootstrap_servers, "Kafka bootstrap servers")->required();
  app.add_option("--topic", options.topics[0], "the orders topic");
  app.add_option("--name", options.name, "the inbox's consumer name (and group.id)");
  app.add_option("--metrics", metrics_listen, "host:port for /metrics (port 0: any)");
  std::vector<std::string> kafka_properties;
  app.add_option("--kafka", kafka_properties, "a librdkafka property NAME=VALUE (repeatable)");
  app.add_option("--batch", options.max_batch, "messages per transaction, 1..64 (default 1)");
  app.add_option("--on-gap", on_gap, "continue or hold")
      ->check(CLI::IsMember({"continue", "hold"}));
  CLI11_PARSE(app, argc, argv);
  options.on_gap = on_gap == "hold" ? outbox::inbox::OnGap::kHold : outbox::inbox::OnGap::kContinue;
  // A member killed with -9 keeps its partitions until its session times
  // out: 6 s (the broker's default minimum) instead of librdkafka's 45 s.
  options.kafka_properties["session.timeout.ms"] = "6000";
  options.kafka_properties["heartbeat.interval.ms"] = "500";
  for (const std::string& property : kafka_properties) {
    const size_t equals = property.find('=');
    if (equals == std::string::npos || equals == 0) {
      std::fprintf(stderr, "outbox-balance-service: --kafka %s: expected NAME=VALUE\n",
                   property.c_str());
      return 2;
    }
    options.kafka_properties[property.substr(0, equals)] = property.substr(equals + 1);
  }
  options.commit_interval = std::chrono::milliseconds(200);
  options.retry_backoff = std::chrono::milliseconds(20);
  options.max_retry_backoff = std::chrono::milliseconds(500);

  try {
    outbox::inbox::ApplySchema(options.postgres_dsn);
    {
      pqxx::connection connection(options.postgres_dsn);
      pqxx::work tx(connection);
      tx.exec(kBalancesSql);
      tx.commit();
    }
    outbox::inbox::Consumer consumer(options, ApplyOrder);
    prometheus::Exposer exposer(metrics_listen);
    exposer.RegisterCollectable(consumer.registry());
    std::printf("level=info msg=\"metrics endpoint listening\" port=%d\n",
                exposer.GetListeningPorts().at(0));
    std::fflush(stdout);
    running = &consumer;
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGINT, OnSignal);
    consumer.Run();
    running = nullptr;
    const outbox::inbox::Stats stats = consumer.stats();
    std::printf("applied=%lld duplicates=%lld dead_lettered=%lld gaps=%lld\n",
                static_cast<long long>(stats.applied), static_cast<long long>(stats.duplicates),
                static_cast<long long>(stats.dead_lettered), static_cast<long long>(stats.gaps));
    return 0;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "outbox-balance-service: %s\n", e.what());
    return 78;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outbox-balance-service: %s\n", e.what());
    return 1;
  }
}
