// Where outbox rows are read from and removed once delivered. The core sees
// only this interface; outbox/ implements it with libpqxx.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "core/message.h"

namespace outbox {

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Up to `max_rows` committed pending rows, lowest id first. Reads never
  // remember a position: every committed row stays visible until removed,
  // so a row whose transaction commits late is read by a later call.
  virtual Result<std::vector<OutboxMessage>> ReadBatch(size_t max_rows) = 0;

  // Removes rows the broker acknowledged. Idempotent: ids already gone are
  // ignored, so a call whose outcome was unknown can simply be repeated.
  virtual Status Remove(std::span<const int64_t> ids) = 0;
};

}  // namespace outbox
