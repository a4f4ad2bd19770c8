// The secrets this process holds (passwords from its config and
// environment), and the one place that blanks them out of text that leaves
// the process: every log line and every error message a command prints.
// Redaction by parsing (outbox/conninfo.h) decides what is shown on
// purpose; this is the net under it, for texts that quote a secret by
// accident (a library's error message, say).
//
// Threading: register at start-up, before other threads run; scrub from any
// thread.
#pragma once

#include <string>
#include <string_view>

namespace outbox {

// Remembers `secret` (ignored if shorter than 3 bytes: blanking every "ab"
// would garble the logs and protect nothing).
void RegisterSecret(std::string secret);

// `text` with every registered secret replaced by "***".
std::string ScrubSecrets(std::string_view text);

}  // namespace outbox
