#include "run_signals.h"

#include <cstdlib>
#include <optional>
#include <thread>

#include "app.h"
#include "common/log.h"
#include "common/stop_signals.h"
#include "config/redact.h"
#include "outbox/conninfo.h"

namespace outbox {

// Every setting but log.* built something still running (the producer, the
// sessions, the leases), so a change to one is logged and waits for the next
// start.
void Reload(const std::string& path, const Config& running) {
  LogInfo("SIGHUP: reloading the config", {{"config", path}});
  std::optional<Config> next = LoadValidConfig(path);  // problems go to stderr
  if (!next) {
    LogError("the reloaded config has problems; the relay keeps its settings", {{"config", path}});
    return;
  }
  ApplyLogSettings(*next);
  Config others = *next;
  others.log = running.log;
  const bool others_changed = RenderRedactedConfig(others, RedactedConninfo(others.postgres.dsn)) !=
                              RenderRedactedConfig(running, RedactedConninfo(running.postgres.dsn));
  LogInfo("log settings reloaded",
          {{"log_level", next->log.level}, {"log_format", next->log.format}});
  if (others_changed) {
    LogWarn("settings other than log.* changed; they take effect when the relay restarts",
            {{"config", path}});
  }
}

// The first SIGTERM/SIGINT starts a graceful stop; the second exits at once
// (unacknowledged rows simply stay pending); SIGHUP reloads.
void StartSignalThread(StopSignal& stop, const std::string& config_path, const Config& config) {
  const sigset_t signals = BlockSignals({SIGTERM, SIGINT, SIGHUP});
  std::thread([signals, &stop, config_path, config] {
    int received = 0;
    for (bool stopping = false;;) {
      if (sigwait(&signals, &received) != 0) continue;
      if (received == SIGHUP) {
        Reload(config_path, config);
      } else if (!stopping) {
        stopping = true;
        LogInfo("stopping: draining outstanding acks",
                {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
        stop.Request();
      } else {
        LogWarn("second signal: exiting now; unacknowledged rows stay pending");
        std::_Exit(kExitFailure);
      }
    }
  }).detach();
}

}  // namespace outbox
