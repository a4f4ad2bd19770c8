#include "metrics/http_endpoints.h"

#include <nlohmann/json.hpp>

namespace outbox {

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(
    const std::string& listen, RelayMetrics& metrics, std::chrono::milliseconds wedged_after) {
  std::map<std::string, HttpServer::Handler> handlers;
  handlers["/metrics"] = [&metrics] {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Scrape()};
  };
  handlers["/healthz"] = [&metrics, wedged_after] {
    const auto silent = SteadyClock::now() - metrics.last_heartbeat();
    const bool alive = silent < wedged_after;
    const nlohmann::json body = {
        {"alive", alive},
        {"seconds_since_loop_heartbeat", std::chrono::duration<double>(silent).count()}};
    return HttpResponse{alive ? 200 : 503, "application/json", body.dump() + "\n"};
  };
  // Ready when the relay knows it can reach both: an idle relay learns about
  // its brokers from the producer's statistics (statistics.interval.ms).
  handlers["/readyz"] = [&metrics] {
    const KafkaHealth kafka = metrics.kafka_health();
    const bool ready = metrics.postgres_ok() && kafka == KafkaHealth::kUp;
    const char* kafka_state = kafka == KafkaHealth::kUp     ? "ok"
                              : kafka == KafkaHealth::kDown ? "unreachable"
                                                            : "not yet known";
    const nlohmann::json body = {{"ready", ready},
                                 {"postgres", metrics.postgres_ok() ? "ok" : "unreachable"},
                                 {"kafka", kafka_state}};
    return HttpResponse{ready ? 200 : 503, "application/json", body.dump() + "\n"};
  };
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(listen, std::move(handlers));
  if (!server.ok()) return server.status();
  return std::unique_ptr<HttpEndpoints>(new HttpEndpoints(std::move(*server)));
}

HttpEndpoints::~HttpEndpoints() = default;

}  // namespace outbox
