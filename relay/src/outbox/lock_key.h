// The advisory lock that makes one relay per database the publisher.
#pragma once

#include <cstdint>

namespace outbox {

// Arbitrary, shared by every relay (and `outbox-relay status`, which shows
// who holds it). pg_locks shows it as classid = high 32 bits, objid = low 32
// bits, objsubid = 1.
constexpr int64_t kPublisherLockKey = 7956016237345505073;

// schema/0003's trigger notifies this channel on every insert into the
// outbox.
constexpr const char* kNewRowsChannel = "outbox_relay";

}  // namespace outbox
