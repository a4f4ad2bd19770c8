// The probes and metrics endpoint under abuse (FAULTS.md F19): idle and
// slowly dripping connections, clients that reconnect as they are dropped,
// malformed and huge requests. /healthz, /readyz and /metrics keep
// answering within a second.
#include "metrics/http_endpoints.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace outbox {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` on a new connection and reads the whole response (the
// server closes after it), giving up after `timeout`. "" = no answer.
std::string Exchange(int port, const std::string& request,
                     std::chrono::milliseconds timeout = 1000ms) {
  const auto deadline = Clock::now() + timeout;
  const int fd = Connect(port);
  if (fd < 0) return "";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      close(fd);
      return response;  // closed by the server: complete
    }
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return "";  // no complete answer in time
}

std::string Get(int port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: relay\r\n\r\n");
}

class HttpEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics.OnHeartbeat();
    metrics.OnStoreResult(true);
    metrics.OnKafkaStats(0, 0, 1, {});
    Result<std::unique_ptr<HttpEndpoints>> started =
        HttpEndpoints::Start("127.0.0.1:0", metrics, 60s);
    ASSERT_TRUE(started.ok()) << started.status().message();
    endpoints = std::move(*started);
    port = endpoints->port();
  }
  RelayMetrics metrics{"test"};
  std::unique_ptr<HttpEndpoints> endpoints;
  int port = 0;
};

TEST_F(HttpEndpointsTest, ServesTheProbesAndMetricsAndClosesEachConnection) {
  const std::string health = Get(port, "/healthz");
  EXPECT_EQ(health.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << health;
  EXPECT_NE(health.find("Connection: close"), std::string::npos);
  EXPECT_NE(health.find("\"alive\":true"), std::string::npos) << health;
  EXPECT_NE(Get(port, "/readyz").find("\"ready\":true"), std::string::npos);
  EXPECT_NE(Get(port, "/metrics?x=1").find("outbox_relay_build_info"), std::string::npos);
  const std::string head = Exchange(port, "HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(head.find("alive"), std::string::npos) << head;
}

// The relay sends nothing while idle, so readiness follows what the
// producer's statistics say about the brokers.
TEST_F(HttpEndpointsTest, ReadinessFollowsTheBrokersAlsoWhileIdle) {
  metrics.OnKafkaStats(0, 0, 0, {});
  const std::string down = Get(port, "/readyz");
  EXPECT_EQ(down.rfind("HTTP/1.1 503", 0), 0u) << down;
  EXPECT_NE(down.find("\"kafka\":\"unreachable\""), std::string::npos) << down;
  metrics.OnKafkaStats(0, 0, 2, {});
  EXPECT_EQ(Get(port, "/readyz").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(HttpEndpointsFreshRelay, IsNotReadyBeforeItHasHeardFromTheBrokers) {
  RelayMetrics fresh{"test"};
  fresh.OnStoreResult(true);
  Result<std::unique_ptr<HttpEndpoints>> started = HttpEndpoints::Start("127.0.0.1:0", fresh, 60s);
  ASSERT_TRUE(started.ok()) << started.status().message();
  const std::string body = Get((*started)->port(), "/readyz");
  EXPECT_EQ(body.rfind("HTTP/1.1 503", 0), 0u) << body;
  EXPECT_NE(body.find("\"kafka\":\"not yet known\""), std::string::npos) << body;
}

TEST_F(HttpEndpointsTest, AnswersMalformedAndHugeRequestsWithAnErrorNotASilentHang) {
  EXPECT_EQ(Get(port, "/nope").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Exchange(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(Exchange(port, "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(Exchange(port, std::string("\x16\x03\x01\x02\x00\r\n\r\n", 9)).rfind("HTTP/1.1 400", 0),
            0u);
  EXPECT_EQ(Get(port, "/" + std::string(100000, 'a')).rfind("HTTP/1.1 431", 0), 0u);
  EXPECT_EQ(Exchange(port, "GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'h') + "\r\n\r\n")
                .rfind("HTTP/1.1 431", 0),
            0u);
}

TEST_F(HttpEndpointsTest, KeepsAnsweringProbesWithinASecondUnderIdleAndDrippingClients) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> attackers;
  // Idle clients that reconnect as soon as they are dropped: 300, more than
  // the server's connection limit.
  for (int t = 0; t < 3; ++t) {
    attackers.emplace_back([&] {
      std::vector<int> held;
      while (!stop) {
        for (int i = 0; i < 100 && !stop; ++i) {
          const int fd = Connect(port);
          if (fd >= 0) held.push_back(fd);
        }
        std::this_thread::sleep_for(50ms);
        // Drop the ones the server closed, open new ones next round.
        std::vector<int> alive;
        for (int fd : held) {
          pollfd p{fd, POLLIN, 0};
          if (poll(&p, 1, 0) > 0) {
            close(fd);
          } else {
            alive.push_back(fd);
          }
        }
        held = alive;
        while (held.size() > 100) {
          close(held.front());
          held.erase(held.begin());
        }
      }
      for (int fd : held) close(fd);
    });
  }
  // Slow clients dripping a request one byte at a time.
  attackers.emplace_back([&] {
    std::vector<int> drips;
    for (int i = 0; i < 20; ++i) drips.push_back(Connect(port));
    while (!stop) {
      for (int fd : drips) send(fd, "G", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(200ms);
    }
    for (int fd : drips) close(fd);
  });

  int probes = 0, answered = 0;
  double slowest = 0;
  for (const auto until = Clock::now() + 4s; Clock::now() < until;
       std::this_thread::sleep_for(100ms)) {
    for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
      const auto asked = Clock::now();
      const std::string response = Get(port, path);
      ++probes;
      if (response.rfind("HTTP/1.1 200", 0) == 0) ++answered;
      slowest = std::max(slowest, std::chrono::duration<double>(Clock::now() - asked).count());
    }
  }
  stop = true;
  for (std::thread& t : attackers) t.join();

  EXPECT_GT(probes, 20);
  EXPECT_EQ(answered, probes) << "slowest " << slowest << " s";
  EXPECT_LT(slowest, 1.0);
}

}  // namespace
}  // namespace outbox
