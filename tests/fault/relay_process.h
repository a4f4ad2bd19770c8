// The real outbox-relay binary as a child process that a scenario can kill,
// pause, stop and restart, like a supervisor would.
#pragma once

#include <sys/types.h>

#include <string>

namespace outbox::fault {

class RelayProcess {
 public:
  // `uid` > 0: the child runs as that user (and group), so that nftables
  // rules can single out the relay's traffic with `meta skuid`.
  RelayProcess(std::string binary, std::string config_path, std::string log_path, int uid = 0);
  ~RelayProcess();

  void Start();
  // Sends `signal`; for SIGKILL/SIGTERM also waits for the exit.
  void Signal(int signal);
  // Restarts the process if it exited on its own (a supervisor's job);
  // returns true if it did.
  bool RestartIfExited();
  // SIGTERM and wait; returns the exit code (-1 if killed by a signal).
  int Stop();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int starts() const { return starts_; }
  const std::string& log_path() const { return log_path_; }

 private:
  int Wait();

  std::string binary_;
  std::string config_path_;
  std::string log_path_;
  int uid_ = 0;
  pid_t pid_ = -1;
  int starts_ = 0;
};

}  // namespace outbox::fault
