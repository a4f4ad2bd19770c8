// The signals `outbox-relay run` takes: SIGTERM/SIGINT stop it gracefully,
// SIGHUP reloads what can be reloaded (log.*).
#pragma once

#include <string>

#include "common/stop_signal.h"
#include "config/config.h"

namespace outbox {

// Blocks SIGTERM, SIGINT and SIGHUP in every thread started afterwards and
// takes them on a detached thread with sigwait, so no work happens in a
// handler. `stop` must outlive the process's threads (a static).
void StartSignalThread(StopSignal& stop, const std::string& config_path, const Config& running);

// What SIGHUP does: re-reads `path`, applies log.*, and logs whether other
// settings changed (they need a restart). A config that no longer loads
// changes nothing.
void Reload(const std::string& path, const Config& running);

}  // namespace outbox
