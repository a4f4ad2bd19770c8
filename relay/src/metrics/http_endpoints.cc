#include "metrics/http_endpoints.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace outbox {
namespace {

std::pair<std::string, int> SplitHostPort(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, std::stoi(listen.substr(colon + 1))};
}

}  // namespace

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(
    const std::string& listen, RelayMetrics& metrics, std::chrono::milliseconds wedged_after) {
  std::unique_ptr<HttpEndpoints> endpoints(new HttpEndpoints());
  endpoints->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *endpoints->server_;

  server.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.Scrape(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/healthz", [&metrics, wedged_after](const httplib::Request&, httplib::Response& res) {
    const auto silent = SteadyClock::now() - metrics.last_heartbeat();
    const bool alive = silent < wedged_after;
    res.status = alive ? 200 : 503;
    nlohmann::json body = {
        {"alive", alive},
        {"seconds_since_loop_heartbeat", std::chrono::duration<double>(silent).count()}};
    res.set_content(body.dump() + "\n", "application/json");
  });
  server.Get("/readyz", [&metrics](const httplib::Request&, httplib::Response& res) {
    const bool ready = metrics.postgres_ok() && metrics.kafka_ok();
    res.status = ready ? 200 : 503;
    nlohmann::json body = {{"ready", ready},
                           {"postgres", metrics.postgres_ok() ? "ok" : "unreachable"},
                           {"kafka", metrics.kafka_ok() ? "ok" : "no acks"}};
    res.set_content(body.dump() + "\n", "application/json");
  });

  const auto [host, port] = SplitHostPort(listen);
  if (port == 0) {
    endpoints->port_ = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    endpoints->port_ = port;
  } else {
    endpoints->port_ = -1;
  }
  if (endpoints->port_ <= 0) {
    return Status(StatusCode::kUnavailable, "cannot listen on " + listen);
  }
  endpoints->thread_ = std::thread([&server] { server.listen_after_bind(); });
  return endpoints;
}

HttpEndpoints::~HttpEndpoints() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace outbox
