// /metrics, /healthz and /readyz on one listener (cpp-httplib), served from
// its own thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "metrics/relay_metrics.h"

namespace httplib {
class Server;
}

namespace outbox {

class HttpEndpoints {
 public:
  // `listen` is host:port (port 0 = any free port). /healthz fails once the
  // loop has not beaten for `wedged_after`.
  static Result<std::unique_ptr<HttpEndpoints>> Start(const std::string& listen,
                                                      RelayMetrics& metrics,
                                                      std::chrono::milliseconds wedged_after);
  ~HttpEndpoints();

  int port() const { return port_; }

 private:
  HttpEndpoints() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace outbox
