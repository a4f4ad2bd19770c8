// Signals are taken by sigwait on one thread, never by a handler.
#pragma once

#include <signal.h>

#include <initializer_list>

namespace outbox {

// Blocks `signals` in the calling thread (and every thread it starts
// afterwards) and restores their default disposition, since a shell starts
// background jobs with SIGINT ignored and an ignored signal never reaches
// sigwait. Returns the set to pass to sigwait.
sigset_t BlockSignals(std::initializer_list<int> signals);

}  // namespace outbox
