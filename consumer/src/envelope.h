// The relay's headers on a message (outbox-id, outbox-seq), or why the
// message cannot be applied as it is. Pure logic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "outbox/inbox/message.h"

namespace outbox::inbox {

struct Envelope {
  int64_t outbox_id = 0;
  std::optional<int64_t> outbox_seq;
};

// A bounded code (the dead letter's `reason`) and a sentence.
struct EnvelopeDefect {
  std::string reason;
  std::string detail;
};

// Exactly one outbox-id, a decimal number in 1..2^63-1; at most one
// outbox-seq, the same form, and only on a keyed message. Anything else is a
// defect: a message the relay did not send as it is (another producer, a
// forged or damaged header), which the inbox must not apply.
std::optional<EnvelopeDefect> ReadEnvelope(const Message& message, Envelope* envelope);

}  // namespace outbox::inbox
