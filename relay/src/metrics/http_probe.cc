#include "metrics/http_probe.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "metrics/http_server.h"

namespace outbox {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

// Waits until `fd` is ready for `events` or the deadline passes.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, RemainingMs(deadline)) == 1;
}

std::string LoopbackFor(const std::string& host) {
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

}  // namespace

Result<ProbeAnswer> ProbeRelay(const std::string& listen, const std::string& path,
                               std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const auto [listen_host, port] = SplitListenAddress(listen);
  const std::string host = LoopbackFor(listen_host);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status(StatusCode::kInvalidArgument,
                  "cannot resolve " + host + ":" + port + ": " + gai_strerror(rc));
  }
  std::string error = "no address";
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS && WaitFor(fd, POLLOUT, deadline)) {
      socklen_t length = sizeof rc;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &length);
      errno = rc;
    } else if (rc != 0 && errno == EINPROGRESS) {
      errno = ETIMEDOUT;
    }
    if (rc != 0) {
      error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  const std::string where = host + ":" + port;
  if (fd < 0) return Status(StatusCode::kUnavailable, "cannot connect to " + where + ": " + error);

  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: relay\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size() && WaitFor(fd, POLLOUT, deadline)) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[4096];
  while (sent == request.size() && response.size() < 1 << 20 && WaitFor(fd, POLLIN, deadline)) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;  // the server closes each connection after its answer
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  const size_t space = response.find(' ');
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/", 0) != 0 || space == std::string::npos || body == std::string::npos) {
    return Status(StatusCode::kUnavailable, "no HTTP answer from " + where + " within " +
                                                std::to_string(timeout.count()) + " ms");
  }
  ProbeAnswer answer;
  answer.status = std::atoi(response.c_str() + space + 1);
  answer.body = response.substr(body + 4);
  return answer;
}

}  // namespace outbox
