// The advisory lock that relays before shard leases (schema/0005) held while
// publishing. A relay with leases stands by while one of them still holds
// it, so that a rolling upgrade never has an old and a new relay publishing
// the same keys at once.
#pragma once

#include <cstdint>

namespace outbox {

// pg_locks shows it as classid = high 32 bits, objid = low 32 bits,
// objsubid = 1.
constexpr int64_t kLegacyPublisherLockKey = 7956016237345505073;

}  // namespace outbox
