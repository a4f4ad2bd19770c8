// Rows an attacker or a buggy writer could commit (FAULTS.md F18): extreme
// values in every column. Each lives on a key of its own (or none), so a
// dead letter that blocks its key blocks nothing healthy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace outbox::fault {

struct HostileRow {
  std::string what;
  std::string topic = "fault";
  std::optional<std::string> key;  // nullopt = keyless
  std::string payload;
  std::optional<std::string> headers;  // nullopt = the usual key-seq header
  bool dead_letter = true;             // else published as it is
};

// The n-th hostile row (the kinds take turns).
HostileRow MakeHostileRow(int64_t n);

}  // namespace outbox::fault
