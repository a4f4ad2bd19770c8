// The channel schema/0003's trigger notifies on every insert into the outbox.
#pragma once

namespace outbox {

constexpr const char* kNewRowsChannel = "outbox_relay";

}  // namespace outbox
