// /metrics, /healthz and /readyz on one listener, served from its own
// thread by an HttpServer that slow or idle clients cannot starve.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "metrics/http_server.h"
#include "metrics/relay_metrics.h"

namespace outbox {

class HttpEndpoints {
 public:
  // `listen` is host:port (port 0 = any free port). /healthz fails once the
  // loop has not beaten for `wedged_after`.
  static Result<std::unique_ptr<HttpEndpoints>> Start(const std::string& listen,
                                                      RelayMetrics& metrics,
                                                      std::chrono::milliseconds wedged_after);
  ~HttpEndpoints();

  int port() const { return server_->port(); }

 private:
  explicit HttpEndpoints(std::unique_ptr<HttpServer> server) : server_(std::move(server)) {}

  std::unique_ptr<HttpServer> server_;
};

}  // namespace outbox
