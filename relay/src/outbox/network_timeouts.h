// A lost PostgreSQL peer must not hang the relay: libpq waits on a dead TCP
// connection for as long as the kernel retransmits (about 15 minutes) unless
// told otherwise. Adds keepalives and tcp_user_timeout to a connection string
// where the user did not set them (libpq ignores both on Unix sockets).
#pragma once

#include <string>

namespace outbox {

// Works on both URI ("postgresql://...") and key=value connection strings.
std::string WithNetworkTimeouts(const std::string& dsn);

}  // namespace outbox
