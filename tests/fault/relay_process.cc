#include "fault/relay_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

namespace outbox::fault {

RelayProcess::RelayProcess(std::string binary, std::string config_path, std::string log_path,
                           int uid)
    : binary_(std::move(binary)),
      config_path_(std::move(config_path)),
      log_path_(std::move(log_path)),
      uid_(uid) {}

RelayProcess::~RelayProcess() {
  if (pid_ > 0) Signal(SIGKILL);
}

void RelayProcess::Start() {
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // If the harness dies, its relays die with it instead of lingering.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    if (uid_ > 0 && (setgid(uid_) != 0 || setuid(uid_) != 0)) _exit(126);
    execl(binary_.c_str(), binary_.c_str(), "run", "--config", config_path_.c_str(), nullptr);
    _exit(127);
  }
  pid_ = pid;
  ++starts_;
}

void RelayProcess::Signal(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  if (signal == SIGKILL || signal == SIGTERM) Wait();
}

int RelayProcess::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool RelayProcess::RestartIfExited() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;
  Start();
  return true;
}

int RelayProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGCONT);  // a paused process must be able to handle SIGTERM
  kill(pid_, SIGTERM);
  return Wait();
}

}  // namespace outbox::fault
