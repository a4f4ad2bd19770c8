#include "envelope.h"

#include <charconv>
#include <string_view>

#include "text.h"

namespace outbox::inbox {
namespace {

// Decimal digits only (no sign, no spaces, no leading zero), 1..2^63-1.
std::optional<int64_t> PositiveNumber(std::string_view text) {
  if (text.empty() || text.size() > 19 || text.front() == '0') return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<EnvelopeDefect> ReadEnvelope(const Message& message, Envelope* envelope) {
  const std::string* id = nullptr;
  const std::string* seq = nullptr;
  int ids = 0, seqs = 0;
  for (const auto& [name, value] : message.headers) {
    if (name == kOutboxIdHeader) {
      id = &value;
      ++ids;
    } else if (name == kOutboxSeqHeader) {
      seq = &value;
      ++seqs;
    }
  }
  if (ids == 0) return EnvelopeDefect{"missing_outbox_id", "the message has no outbox-id header"};
  if (ids > 1) {
    return EnvelopeDefect{"duplicate_outbox_id",
                          "the message has " + std::to_string(ids) + " outbox-id headers"};
  }
  std::optional<int64_t> parsed_id = PositiveNumber(*id);
  if (!parsed_id) {
    return EnvelopeDefect{"malformed_outbox_id",
                          "outbox-id \"" + Printable(*id, 64) + "\" is not a positive number"};
  }
  envelope->outbox_id = *parsed_id;
  envelope->outbox_seq.reset();
  if (seqs > 1) {
    return EnvelopeDefect{"duplicate_outbox_seq",
                          "the message has " + std::to_string(seqs) + " outbox-seq headers"};
  }
  if (seq != nullptr) {
    std::optional<int64_t> parsed_seq = PositiveNumber(*seq);
    if (!parsed_seq) {
      return EnvelopeDefect{"malformed_outbox_seq",
                            "outbox-seq \"" + Printable(*seq, 64) + "\" is not a positive number"};
    }
    if (!message.key) {
      return EnvelopeDefect{"outbox_seq_without_key",
                            "outbox-seq is set on a message without a key"};
    }
    envelope->outbox_seq = *parsed_seq;
  }
  return std::nullopt;
}

}  // namespace outbox::inbox
