#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace outbox {

using Clock = std::chrono::steady_clock;

constexpr int kAcceptsPerRound = 16;

struct HttpServer::Connection {
  int fd = -1;
  Clock::time_point accepted_at;
  std::string in;
  std::string out;  // the response, once answered
  size_t written = 0;
  Clock::time_point answered_at;
  bool answered() const { return !out.empty(); }
};

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string Serialize(const HttpResponse& response, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + Reason(response.status) +
                    "\r\nContent-Type: " + response.content_type +
                    "\r\nContent-Length: " + std::to_string(response.body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += response.body;
  return out;
}

HttpResponse Plain(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body) + "\n"};
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A listening socket on host:port, or -1 with `error` set.
int Listen(const std::string& listen, std::string* error) {
  auto [host, port] = SplitListenAddress(listen);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    *error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      *error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) SetNonBlocking(fd);
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return -1;
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

}  // namespace

std::pair<std::string, std::string> SplitListenAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, listen.substr(colon + 1)};
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                      std::map<std::string, Handler> handlers,
                                                      HttpServerLimits limits) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handlers_ = std::move(handlers);
  server->limits_ = limits;
  std::string error;
  server->listen_fd_ = Listen(listen, &error);
  if (server->listen_fd_ < 0) {
    return Status(StatusCode::kUnavailable, "cannot listen on " + listen + ": " + error);
  }
  server->port_ = BoundPort(server->listen_fd_);
  if (pipe2(server->wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status(StatusCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  HttpServer* raw = server.get();
  server->thread_ = std::thread([raw] { raw->Serve(); });
  return server;
}

HttpServer::~HttpServer() {
  if (thread_.joinable()) {
    const char stop = 1;
    (void)!write(wake_fds_[1], &stop, 1);
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_fds_[0], wake_fds_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void HttpServer::Serve() {
  std::map<int, Connection> connections;
  std::vector<pollfd> polled;
  for (;;) {
    polled.clear();
    polled.push_back({wake_fds_[0], POLLIN, 0});
    polled.push_back({listen_fd_, POLLIN, 0});
    for (const auto& [fd, c] : connections) {
      polled.push_back({fd, static_cast<short>(c.answered() ? POLLOUT : POLLIN), 0});
    }
    // Wakes at least every 100 ms to enforce the deadlines.
    if (poll(polled.data(), polled.size(), 100) < 0 && errno != EINTR) return;
    if (polled[0].revents != 0) break;
    for (size_t i = 2; i < polled.size(); ++i) {
      if (polled[i].revents == 0) continue;
      Connection& c = connections.at(polled[i].fd);
      if (!c.answered()) {
        Read(c);
      } else {
        const ssize_t n = send(c.fd, c.out.data() + c.written, c.out.size() - c.written,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) c.written += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN && errno != EINTR) c.written = c.out.size();
      }
    }
    // Closed, answered and late connections go before new ones come in, so
    // every connection in the map holds its own open descriptor.
    const auto now = Clock::now();
    for (auto it = connections.begin(); it != connections.end();) {
      Connection& c = it->second;
      const bool done = c.answered() && c.written >= c.out.size();
      const bool late = c.answered() ? now - c.answered_at > limits_.response_deadline
                                     : now - c.accepted_at > limits_.request_deadline;
      // A closed or failed connection (fd set to -1 by Read) goes too.
      if (done || late || c.fd < 0) {
        if (c.fd >= 0) close(c.fd);
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
    if (polled[1].revents != 0) Accept(connections);
  }
  for (auto& [fd, c] : connections) close(fd);
}

void HttpServer::Accept(std::map<int, Connection>& connections) {
  // A few at a time, then the requests that arrived are read: in a flood of
  // connections, a probe's is then read before newer ones can evict it.
  for (int accepted = 0; accepted < kAcceptsPerRound; ++accepted) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: none left (or a transient error)
    Connection fresh;
    fresh.fd = fd;
    fresh.accepted_at = Clock::now();
    if (connections.size() >= limits_.max_connections) {
      // A client that sent its request at once (a probe does) is answered
      // even in a flood of connections.
      Read(fresh);
      if (fresh.fd < 0) continue;
      if (fresh.answered()) {
        connections[fd] = std::move(fresh);
        continue;
      }
      // Make room by dropping the oldest connection still waiting for its
      // request: the newest is the one most likely about to ask.
      auto oldest = connections.end();
      for (auto it = connections.begin(); it != connections.end(); ++it) {
        if (it->second.answered()) continue;
        if (oldest == connections.end() || it->second.accepted_at < oldest->second.accepted_at) {
          oldest = it;
        }
      }
      if (oldest == connections.end()) {
        close(fd);  // every connection is being answered: try again later
        continue;
      }
      close(oldest->first);
      connections.erase(oldest);
    }
    connections[fd] = std::move(fresh);
  }
}

void HttpServer::Read(Connection& c) {
  char buffer[4096];
  const ssize_t n = recv(c.fd, buffer, sizeof buffer, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    close(c.fd);
    c.fd = -1;
    return;
  }
  if (n < 0) return;
  c.in.append(buffer, static_cast<size_t>(n));
  const size_t end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.in.size() > limits_.max_request_bytes) {
      c.out = Serialize(Plain(431, "request too large"), false);
      c.answered_at = Clock::now();
    }
    return;
  }
  bool head_only = false;
  const HttpResponse response = end > limits_.max_request_bytes
                                    ? Plain(431, "request too large")
                                    : Answer(c.in.substr(0, end), &head_only);
  c.out = Serialize(response, head_only);
  c.answered_at = Clock::now();
}

HttpResponse HttpServer::Answer(const std::string& request_head, bool* head_only) {
  // The request line: METHOD SP TARGET SP HTTP/x.y
  const std::string line = request_head.substr(0, request_head.find("\r\n"));
  const size_t first = line.find(' ');
  const size_t second = first == std::string::npos ? first : line.find(' ', first + 1);
  if (second == std::string::npos || line.compare(second + 1, 5, "HTTP/") != 0) {
    return Plain(400, "bad request");
  }
  const std::string method = line.substr(0, first);
  std::string path = line.substr(first + 1, second - first - 1);
  path = path.substr(0, path.find('?'));
  if (method != "GET" && method != "HEAD") return Plain(405, "only GET and HEAD");
  *head_only = method == "HEAD";
  const auto handler = handlers_.find(path);
  if (handler == handlers_.end()) return Plain(404, "not found");
  return handler->second();
}

}  // namespace outbox
