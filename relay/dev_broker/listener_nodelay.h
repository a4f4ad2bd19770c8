// Kafka brokers set TCP_NODELAY on their connections; librdkafka's mock
// cluster does not. Without it, whenever two responses are outstanding on
// one connection the second waits for the client's delayed ACK: ~40 ms per
// round trip, which would dominate every latency figure measured against
// the mock. Accepted sockets inherit TCP_NODELAY from their listening socket
// on Linux, so it is set on every listening socket of this process.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace outbox {

inline void SetNoDelayOnListeningSockets() {
  for (int fd = 0; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t size = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening) continue;
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
}

}  // namespace outbox
