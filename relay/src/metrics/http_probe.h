// `outbox-relay health`: asks the relay's own /healthz or /readyz, so that a
// container's HEALTHCHECK needs neither curl nor a hard-coded port.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace outbox {

struct ProbeAnswer {
  int status = 0;  // the HTTP status code
  std::string body;
};

// GET `path` from the relay listening on `listen` (metrics.listen: a wildcard
// host is asked on loopback), within `timeout`.
Result<ProbeAnswer> ProbeRelay(const std::string& listen, const std::string& path,
                               std::chrono::milliseconds timeout);

}  // namespace outbox
