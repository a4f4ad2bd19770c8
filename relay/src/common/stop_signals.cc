#include "common/stop_signals.h"

#include <pthread.h>

namespace outbox {

sigset_t BlockSignals(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal_number : signals) sigaddset(&set, signal_number);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (int signal_number : signals) signal(signal_number, SIG_DFL);
  return set;
}

}  // namespace outbox
