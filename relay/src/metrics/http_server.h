// A small HTTP/1.1 server for the relay's probes and metrics, built so that
// no client can keep it from answering: one thread multiplexes every
// connection with poll(), so an idle or slowly dripping client holds no
// worker; each request must arrive whole within a deadline and in a bounded
// size; every response closes its connection; and when the connection limit
// is reached the oldest connection still waiting for its request is dropped,
// so a probe that has just connected is served.
//
// (cpp-httplib, used before, gives each connection a thread from a fixed
// pool for its read and keep-alive timeouts: eight idle connections starved
// /healthz.)
//
// Threading: Start() and the destructor on one thread; handlers run on the
// server's thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "common/status.h"

namespace outbox {

// "host:port", "[v6]:port" or ":port" -> host (empty = any) and port.
std::pair<std::string, std::string> SplitListenAddress(const std::string& listen);

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpServerLimits {
  // From accept to the end of the request's headers.
  std::chrono::milliseconds request_deadline{2000};
  // To write the whole response to a client that reads slowly.
  std::chrono::milliseconds response_deadline{5000};
  size_t max_request_bytes = 8192;
  size_t max_connections = 256;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;

  // Binds `listen` (host:port; port 0 = any free port) and serves the GET
  // (and HEAD) handlers by exact path on its own thread.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                   std::map<std::string, Handler> handlers,
                                                   HttpServerLimits limits = {});
  ~HttpServer();  // stops serving and joins

  int port() const { return port_; }

 private:
  struct Connection;
  HttpServer() = default;
  void Serve();
  void Accept(std::map<int, Connection>& connections);
  // Reads what arrived; answers once the request's headers are complete.
  void Read(Connection& connection);
  HttpResponse Answer(const std::string& request_head, bool* head_only);

  std::map<std::string, Handler> handlers_;
  HttpServerLimits limits_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: writing to it ends Serve()
  int port_ = 0;
  std::thread thread_;
};

}  // namespace outbox
